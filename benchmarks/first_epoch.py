"""Is a real run's first epoch slower than its later ones, and where does the difference go?

    python benchmarks/first_epoch.py --json=docs/results/first_epoch.json -- \
        --flagfile=configs/glue_local.flags --epochs=2 --model_dir=/tmp/first_epoch

Runs ``mtdnn_tf.train`` with the flags after ``--`` (evaluating every epoch), in this process, and times every
call of the training loop (``TrainStep.make_loop``'s function: up to ``--steps_per_loop`` steps) and every
evaluation. Reports each epoch's seconds (as ``metrics.json`` records them), the loop's one-time build
(``loop_setup_seconds``: the trace, before the first epoch's clock), the loop's seconds per epoch, its first
eighth of steps per epoch, and the evaluations'. The model directory must be new or empty: a resumed run
would time something else. Prints the CPU; compare figures only within one run.
"""

import argparse
import json
import os
import pathlib
import sys
import time

from machine import cpu_description  # benchmarks/machine.py

REPO = pathlib.Path(__file__).resolve().parents[1]


def timed(function, seconds):
    """``function`` that appends each call's seconds (its tensors fetched) to ``seconds``."""
    def call(*args, **kwargs):
        import tensorflow as tf  # noqa: PLC0415

        started = time.perf_counter()
        result = function(*args, **kwargs)
        for t in tf.nest.flatten(result):
            if hasattr(t, "numpy"):
                t.numpy()
        seconds.append(time.perf_counter() - started)
        return result
    return call


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("train_flags", nargs="*", help="mtdnn_tf.train's flags (after --)")
    args = parser.parse_args(argv)
    if not any(f.startswith("--model_dir") or f.startswith("--flagfile") for f in args.train_flags):
        parser.error("give mtdnn_tf.train's flags after --, with --model_dir (or a --flagfile holding one)")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(REPO))
    from absl import flags  # noqa: PLC0415

    from mtdnn_tf.experiment import run  # noqa: PLC0415
    from mtdnn_tf.inference.evaluator import Evaluator  # noqa: PLC0415
    from mtdnn_tf.train import settings_from_flags  # noqa: PLC0415 - also defines the flags
    from mtdnn_tf.training.train_step import TrainStep  # noqa: PLC0415

    cpu = cpu_description()
    print(f"CPU: {cpu}", flush=True)
    train_flags = [*args.train_flags, "--evaluate_every=1"]
    flags.FLAGS(["first_epoch", *train_flags])
    model_dir = pathlib.Path(flags.FLAGS.model_dir)
    if model_dir.exists() and any(model_dir.iterdir()):
        sys.exit(f"error: --model_dir={model_dir} is not empty: give a new one (a resumed run would time "
                 "something else)")
    loop_seconds, evaluation_seconds = [], []
    make_loop = TrainStep.make_loop
    TrainStep.make_loop = lambda step: timed(make_loop(step), loop_seconds)
    Evaluator.evaluate = timed(Evaluator.evaluate, evaluation_seconds)
    run(settings_from_flags())

    record = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    epochs = [e["seconds"] for e in record["epochs"]]
    steps = [sum(e["steps"].values()) for e in record["epochs"]]
    steps_per_loop = flags.FLAGS.steps_per_loop
    calls = loop_seconds[1:]  # the first is the trainer's zero-step build (loop_setup_seconds)
    per_epoch, start = [], 0
    for n in steps:
        count = -(-n // steps_per_loop)
        per_epoch.append(calls[start:start + count])
        start += count
    report = {
        "cpu": cpu, "train_flags": train_flags, "mixed_precision": record["settings"]["mixed_precision"],
        "epoch_seconds": epochs, "first_over_second": round(epochs[0] / epochs[1], 3) if len(epochs) > 1 else None,
        "loop_setup_seconds": record["loop_setup_seconds"],
        "loop_seconds_per_epoch": [round(sum(c), 1) for c in per_epoch],
        "first_eighth_of_steps_seconds": [round(sum(c[:max(1, len(c) // 8)]), 1) for c in per_epoch],
        "slowest_loop_calls_seconds": [round(s, 2) for s in sorted(loop_seconds, reverse=True)[:3]],
        "evaluation_seconds": [round(s, 1) for s in evaluation_seconds],
    }
    print(json.dumps(report, indent=1))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
