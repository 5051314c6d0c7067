"""How large SMART's regulariser is next to the task loss, on real RTE pairs with the real encoder.

    python benchmarks/smart_regularizer_scale.py --batch_size=32 --max_seq_length=128

The first ``--batches`` batches of RTE training pairs, the pretrained encoder
with a new head (seeded): the task loss and SMART's regulariser, averaged over the batches, at the given settings, against the
same with the noise alone (no ascent step) and with no perturbation at all,
each without and with dropout (with dropout, the clean and perturbed passes
also differ in their dropout masks). Takes under a minute on 2 cores;
writes nothing. docs/study_notes.md reads its output.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default="../shared/glue")
    parser.add_argument("--preset", default="../shared/pretrained/all-MiniLM-L6-v2")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0, help="of the new head's weights, dropout and the noise")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--step_size", type=float, default=1e-5)
    parser.add_argument("--noise_var", type=float, default=1e-5)
    args = parser.parse_args()

    import keras  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415
    from machine import cpu_description  # noqa: PLC0415 - benchmarks/machine.py

    from mtdnn_tf.data.loading import DataSource, load_packed_data  # noqa: PLC0415
    from mtdnn_tf.data.packing import TextPacker  # noqa: PLC0415
    from mtdnn_tf.losses import task_loss  # noqa: PLC0415
    from mtdnn_tf.models.backbone import load_backbone, load_tokenizer  # noqa: PLC0415
    from mtdnn_tf.models.mtdnn_model import build_mtdnn_model  # noqa: PLC0415
    from mtdnn_tf.settings.smart_config import SmartConfig  # noqa: PLC0415
    from mtdnn_tf.tasks import load_tasks  # noqa: PLC0415
    from mtdnn_tf.training.smart import (  # noqa: PLC0415
        EmbeddingPath,
        outputs_and_regularizer,
        smart_seed,
    )

    print(cpu_description())
    tasks = load_tasks(["rte"])
    packer = TextPacker(load_tokenizer(args.preset), args.max_seq_length)
    train = load_packed_data(tasks, packer, DataSource(args.data_dir), verbose=False).train["rte"]
    keras.utils.set_random_seed(args.seed)
    model = build_mtdnn_model(load_backbone(args.preset), tasks, "mean")
    path, task = EmbeddingPath(model), tasks["rte"]
    size = args.batch_size
    batches = [({k: tf.constant(v) for k, v in train.unit_features(np.arange(i * size, (i + 1) * size)).items()},
                tf.constant(train.labels[i * size : (i + 1) * size])) for i in range(args.batches)]
    largest = tf.reduce_max(tf.abs(path.embed(batches[0][0])), axis=-1)
    print(f"embedding output: largest |entry| per token, mean {float(tf.reduce_mean(largest)):.2f}"
          " (the projected noise's is about 1)")
    settings = SmartConfig(enabled=True, alpha=args.alpha, step_size=args.step_size, noise_var=args.noise_var)
    variants = [("these settings", settings),
                ("noise only, no ascent step", SmartConfig(enabled=True, steps=0, noise_var=args.noise_var)),
                ("no perturbation", SmartConfig(enabled=True, steps=0, noise_var=0.0))]
    for training in (False, True):
        for name, config in variants:
            losses, regularizers = [], []
            for step, (features, labels) in enumerate(batches):
                outputs, regularizer = outputs_and_regularizer(task, config, path, features,
                                                               smart_seed(args.seed, step), training=training)
                losses.append(float(task_loss(task, labels, outputs)))
                regularizers.append(args.alpha * float(regularizer))
            print(f"dropout {'on ' if training else 'off'} | {name:27s} | task loss {np.mean(losses):.4f} |"
                  f" alpha x regulariser {np.mean(regularizers):.2e}")


if __name__ == "__main__":
    main()
