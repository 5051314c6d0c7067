"""Dev-set accuracy of the exports (TFLite and ONNX float32 and int8, token-id SavedModels such as
``--precision=bfloat16``) against the Keras model in float32 (issue 26).

    python benchmarks/quantized_accuracy.py --model_dir=runs/glue_local \
        --tflite_dir=saved_models/mtdnn_tflite/1 --onnx_dir=saved_models/mtdnn_onnx/1 \
        --saved_model=saved_models/mtdnn_ids_bf16/1 --data_dir=../shared/glue

Every dev example of each task runs alone (batch 1, at its own length, as a
request would) through each exported runtime found in the export folders
(``<task>.tflite``, ``<task>.int8.tflite``, ``<task>.onnx``, ``<task>.int8.onnx``),
through each ``--saved_model`` (a ``--inputs=token_ids`` export; its task's signature), and through the trained Keras model in float32 (the reference). For each it
prints the task's dev metrics and its agreement with the reference: the share
of equal predicted labels (classification), or the Pearson correlation and the
largest difference of the scores (regression). Exports made with
``python -m mtdnn_tf.export --format=tflite|onnx --quantize``, or ``--inputs=token_ids --precision=...``.
"""

import argparse
import functools
import json
import pathlib
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from machine import cpu_description  # noqa: E402 - benchmarks/machine.py

RUNTIMES = {"tflite float32": ("tflite_dir", ".tflite"), "tflite int8": ("tflite_dir", ".int8.tflite"),
            "onnx float32": ("onnx_dir", ".onnx"), "onnx int8": ("onnx_dir", ".int8.onnx")}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", required=True, help="the finished training run the exports came from")
    parser.add_argument("--tflite_dir", default=None)
    parser.add_argument("--onnx_dir", default=None)
    parser.add_argument("--saved_model", action="append", default=[],
                        help="a token-id SavedModel of the run (repeat for several, e.g. --precision=bfloat16)")
    parser.add_argument("--data_dir", default=str(REPO.parent / "shared" / "glue"))
    parser.add_argument("--tasks", default=None, help="comma list (default: every task of the run)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many dev examples per task (0: all)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    return parser.parse_args(argv)


def agreement(task, reference, outputs):
    """How far ``outputs`` follow the float32 Keras ``reference``: label agreement or score correlation."""
    reference, outputs = np.asarray(reference, np.float64), np.asarray(outputs, np.float64)
    if task.type == "regression":
        return {"pearson_with_float32": float(np.corrcoef(reference, outputs)[0, 1]),
                "max_abs_difference": float(np.max(np.abs(reference - outputs)))}
    return {"label_agreement": float(np.mean(reference.argmax(-1) == outputs.argmax(-1)))}


@functools.cache
def load_saved_model(path):
    """The SavedModel at ``path``, loaded once for all its tasks."""
    import tensorflow as tf  # noqa: PLC0415

    return tf.saved_model.load(str(path))


def saved_model_runner(path, task_name):
    """One request of packed ids through a token-id SavedModel's task signature: probabilities or scores."""
    import tensorflow as tf  # noqa: PLC0415

    serve = load_saved_model(path).signatures[task_name]
    key = "probabilities" if "probabilities" in serve.structured_outputs else "score"
    return lambda features: serve(**{k: tf.constant(v, tf.int32) for k, v in features.items()})[key].numpy()


def runners(args, name):
    """(label, one-request function) of every export given for task ``name``."""
    from mtdnn_tf.serving.onnx_export import OnnxRunner  # noqa: PLC0415
    from mtdnn_tf.serving.tflite import TFLiteRunner  # noqa: PLC0415

    for runtime, (folder_arg, suffix) in RUNTIMES.items():
        folder = getattr(args, folder_arg)
        path = pathlib.Path(folder or "") / f"{name}{suffix}"
        if folder and path.is_file():
            yield runtime, TFLiteRunner(path) if runtime.startswith("tflite") else OnnxRunner(path)
    for path in args.saved_model:
        if not (pathlib.Path(path) / "saved_model.pb").is_file():
            sys.exit(f"error: --saved_model: {path} holds no saved_model.pb")
        yield f"saved_model {path}", saved_model_runner(path, name)


def main(argv=None):
    args = parse_args(argv)
    from mtdnn_tf.data.packing import TextPacker  # noqa: PLC0415
    from mtdnn_tf.data.pipeline import pack_split  # noqa: PLC0415
    from mtdnn_tf.data.readers import read_split  # noqa: PLC0415
    from mtdnn_tf.inference.evaluator import Evaluator  # noqa: PLC0415
    from mtdnn_tf.models.encoder_dtype import trained_with_encoder_dtype  # noqa: PLC0415
    from mtdnn_tf.run_directory import load_trained_model  # noqa: PLC0415

    print(f"CPU: {cpu_description()}")
    # The reference computes in float32 also where the run trained in mixed_bfloat16 (--mixed_precision=auto).
    trained = trained_with_encoder_dtype(load_trained_model(args.model_dir), "float32")
    names = args.tasks.split(",") if args.tasks else list(trained.tasks)
    packer = TextPacker(trained.tokenizer, trained.settings["max_seq_length"])
    import tensorflow as tf  # noqa: PLC0415

    evaluator = Evaluator(trained.model, tf.distribute.get_strategy(), 32)
    report = {"cpu": cpu_description(), "model_dir": args.model_dir, "tasks": {}}
    for name in names:
        task = trained.tasks[name]
        examples = read_split(task, "dev", args.data_dir)
        split = pack_split(packer, examples, task=task)
        count = min(len(split), args.limit) if args.limit else len(split)
        labels = np.asarray(split.labels)[:count]
        reference = evaluator.predict(task, split)[:count]
        rows = {"keras float32": {"metrics": task.task_type.compute_metrics(task, reference, labels)}}
        lengths = split.lengths
        for runtime, run in runners(args, name):
            started = time.perf_counter()
            outputs = np.concatenate([np.asarray(run(split.sequences.padded([i], int(lengths[i]))))
                                      for i in range(count)])
            seconds = time.perf_counter() - started
            rows[runtime] = {"metrics": task.task_type.compute_metrics(task, outputs, labels),
                             **agreement(task, reference, outputs), "ms_per_example": 1000 * seconds / count}
        report["tasks"][name] = {"examples": count, "runtimes": rows}
        print(f"\n{name} dev, {count} examples, one request each:")
        for runtime, row in rows.items():
            metrics = ", ".join(f"{k} {100 * v:.2f}" for k, v in row["metrics"].items())
            follow = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("metrics", "ms_per_example"))
            speed = f", {row['ms_per_example']:.1f} ms/example" if "ms_per_example" in row else ""
            print(f"  {runtime:<24} {metrics}" + (f"; {follow}" if follow else "") + speed)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
