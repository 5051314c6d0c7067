"""A MiniLM training step with TensorFlow's oneDNN kernels and without: processes alternating, A B A B.

    python benchmarks/onednn_step.py --repeats=2

``TF_ENABLE_ONEDNN_OPTS`` takes effect only when TensorFlow is imported, so each measurement is a
process of its own: ``all-MiniLM-L6-v2`` with a two-class head, Adamax, float32, batch 32 at length 64,
3 untimed steps, then the median of 12. ``import mtdnn_tf`` asks for oneDNN on x86-64 (TensorFlow
itself does only on CPUs with AVX-512 VNNI or BF16 or AMX); this shows what that is worth on the CPU
at hand. Prints the CPU; compare figures only within one run.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys

from machine import cpu_description  # benchmarks/machine.py

REPO = pathlib.Path(__file__).resolve().parents[1]


def step_seconds(preset, batch_size, length, steps=12):
    """Median seconds of one training step in this process."""
    import time  # noqa: PLC0415

    import keras  # noqa: PLC0415
    import keras_hub  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    backbone = keras_hub.models.BertBackbone.from_preset(preset)
    head = keras.layers.Dense(2)
    optimizer = keras.optimizers.Adamax(1e-5)
    x = {"token_ids": tf.random.stateless_uniform((batch_size, length), (0, 0), 1000, 2000, tf.int32),
         "segment_ids": tf.zeros((batch_size, length), tf.int32),
         "padding_mask": tf.ones((batch_size, length), tf.int32)}
    y = tf.zeros((batch_size,), tf.int32)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = head(tf.reduce_mean(backbone(x, training=True)["sequence_output"], axis=1))
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        variables = backbone.trainable_variables + head.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    for _ in range(3):
        step(x, y).numpy()
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        step(x, y).numpy()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default=str(REPO.parent / "shared" / "pretrained" / "all-MiniLM-L6-v2"))
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="processes of each setting, alternating")
    parser.add_argument("--json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(step_seconds(args.preset, args.batch_size, args.length)))
        return
    print(f"CPU: {cpu_description()}", flush=True)
    seconds = {"0": [], "1": []}
    for _ in range(args.repeats):
        for setting in seconds:
            env = os.environ | {"TF_ENABLE_ONEDNN_OPTS": setting, "TF_CPP_MIN_LOG_LEVEL": "2"}
            out = subprocess.run([sys.executable, __file__, "--child", f"--preset={args.preset}",
                                  f"--batch_size={args.batch_size}", f"--length={args.length}"],
                                 env=env, capture_output=True, text=True, check=True).stdout
            seconds[setting].append(json.loads(out.strip().splitlines()[-1]))
            print(f"TF_ENABLE_ONEDNN_OPTS={setting}: {seconds[setting][-1]:.3f} s per step", flush=True)
    eigen, onednn = statistics.median(seconds["0"]), statistics.median(seconds["1"])
    print(f"median s per step: Eigen (0) {eigen:.3f}, oneDNN (1) {onednn:.3f}: oneDNN {eigen / onednn:.2f}x")
    if args.json:
        report = {"cpu": cpu_description(), "settings": {k: v for k, v in vars(args).items() if k != "json"},
                  "seconds_per_step": seconds, "onednn_speed_up": eigen / onednn}
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
