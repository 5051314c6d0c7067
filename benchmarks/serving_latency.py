"""Serving latency and throughput of exported models, in a process that does not import mtdnn_tf.

    python -m mtdnn_tf.export --model_dir=runs/glue_local --export_dir=/tmp/serve/text/1
    python -m mtdnn_tf.export --model_dir=runs/glue_local --export_dir=/tmp/serve/ids/1 --inputs=token_ids
    python -m mtdnn_tf.export --format=tflite --quantize --model_dir=runs/glue_local --export_dir=/tmp/serve/tflite/1
    python -m mtdnn_tf.export --format=onnx --quantize --model_dir=runs/glue_local --export_dir=/tmp/serve/onnx/1
    python benchmarks/serving_latency.py --text=/tmp/serve/text/1 --ids=/tmp/serve/ids/1 \
        --tflite=/tmp/serve/tflite/1 --onnx=/tmp/serve/onnx/1 --task=mrpc --json=docs/results/serving_latency.json

For each model: p50, p90 and p99 latency of one sentence pair per request
(real dev pairs, after warm-up), and pairs per second at batch 32. The
raw-text SavedModel's time includes its in-graph tokenisation; the token-id
SavedModel, the TFLite and the ONNX models get pairs tokenised beforehand
(with the export's vocabulary and settings, by keras-hub), as their clients
would, cut to the longest real sequence where the model takes any length
(TFLite exported without --seq_length, ONNX, the token-id SavedModel).
Prints the CPU model and flags; compare figures only within one run.
"""

import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from machine import cpu_description  # noqa: E402 - benchmarks/machine.py

REPO = pathlib.Path(__file__).resolve().parents[1]
COLUMNS = {"mrpc": ("MRPC", "#1 String", "#2 String"), "rte": ("RTE", "sentence1", "sentence2"),
           "stsb": ("STS-B", "sentence1", "sentence2")}


def read_pairs(glue_dir, task, limit):
    directory, first, second = COLUMNS[task]
    with open(pathlib.Path(glue_dir) / directory / "dev.tsv", encoding="utf-8-sig") as f:
        rows = [line.rstrip("\r\n").split("\t") for line in f if line.strip()]
    header = rows[0]
    a, b = header.index(first), header.index(second)
    return [row[a] for row in rows[1 : limit + 1]], [row[b] for row in rows[1 : limit + 1]]


def percentiles(seconds):
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
            "p99_ms": float(np.percentile(ms, 99))}


def request_times(call, inputs, requests, warmup):
    """Seconds of each of ``requests`` calls of ``call`` on ``inputs`` in turn, after ``warmup`` untimed ones."""
    for x in inputs[:warmup]:
        call(x)
    times = []
    for i in range(requests):
        started = time.perf_counter()
        call(inputs[i % len(inputs)])
        times.append(time.perf_counter() - started)
    return times


def measure(call, single_inputs, batch_inputs, requests, batches, warmup):
    """Latency of ``call`` on one pair per request, then throughput on batches of 32.

    Warm-up: ``warmup`` single requests and every batch once (traces, kernel
    selection, and with XLA one compilation per input shape).
    """
    for inputs in batch_inputs:
        call(inputs)
    times = request_times(call, single_inputs, requests, warmup)
    started = time.perf_counter()
    pairs = 0
    for i in range(batches):
        inputs = batch_inputs[i % len(batch_inputs)]
        call(inputs)
        pairs += len(next(iter(inputs.values())))
    result = percentiles(times)
    result["pairs_per_s_batch32"] = pairs / (time.perf_counter() - started)
    return result


def packer_for(vocabulary_dir, settings, seq_length):
    import keras_hub  # noqa: PLC0415

    vocabulary = (pathlib.Path(vocabulary_dir) / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=settings["lowercase"],
                                               strip_accents=settings["strip_accents"])
    packer = keras_hub.layers.MultiSegmentPacker(sequence_length=seq_length, start_value=tokenizer.cls_token_id,
                                                 end_value=tokenizer.sep_token_id, pad_value=0,
                                                 truncate="round_robin")

    def pack(a, b, trim=True):
        import tensorflow as tf  # noqa: PLC0415

        ids, segments = packer((tokenizer(tf.constant(a)), tokenizer(tf.constant(b))))
        mask = tf.cast(ids != 0, tf.int32)
        ids, segments = tf.cast(ids, tf.int32), tf.cast(segments, tf.int32)
        if trim:  # the SavedModel takes any length: send only what the longest pair needs
            length = int(tf.reduce_max(tf.reduce_sum(mask, axis=1)))
            ids, segments, mask = ids[:, :length], segments[:, :length], mask[:, :length]
        return {"token_ids": ids.numpy(), "segment_ids": segments.numpy(), "padding_mask": mask.numpy()}

    return pack


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", action="append", default=[], help="SavedModel exported with --inputs=text "
                        "(repeat to compare several, e.g. with and without --jit_compile)")
    parser.add_argument("--ids", action="append", default=[], help="SavedModel exported with --inputs=token_ids "
                        "(repeat: the first is the reference the others, e.g. --precision=bfloat16, are checked against)")
    parser.add_argument("--tflite", help="folder of a --format=tflite export (float and, if present, int8)")
    parser.add_argument("--onnx", help="folder of a --format=onnx export (float and, if present, int8), served by "
                        "ONNX Runtime")
    parser.add_argument("--task", default="mrpc", choices=sorted(COLUMNS))
    parser.add_argument("--glue_dir", default=str(REPO.parent / "shared" / "glue"))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=100, help="single requests before timing")
    parser.add_argument("--agreement", type=int, default=200, help="pairs on which TFLite and ONNX outputs are "
                        "checked against the first --ids SavedModel's")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    import tensorflow as tf  # noqa: PLC0415

    first, second = read_pairs(args.glue_dir, args.task, 400)
    singles = [(first[i : i + 1], second[i : i + 1]) for i in range(len(first))]
    batches = [(first[i : i + 32], second[i : i + 32]) for i in range(0, len(first) - 31, 32)]
    report = {"cpu": cpu_description(), "task": args.task, "tensorflow": tf.__version__, "results": {}}
    print(f"CPU: {report['cpu']}; TensorFlow {tf.__version__}; task {args.task}, dev pairs")

    def show(name, result):
        report["results"][name] = result
        print(f"{name:<44} p50 {result['p50_ms']:7.2f} ms  p90 {result['p90_ms']:7.2f} ms  "
              f"p99 {result['p99_ms']:7.2f} ms  {result['pairs_per_s_batch32']:7.1f} pairs/s at batch 32", flush=True)

    for path in args.text:
        import tensorflow_text  # noqa: F401, PLC0415 - the raw-text signatures' WordPiece ops

        serve = tf.saved_model.load(path).signatures[args.task]
        to_inputs = lambda a, b: {"sentence1": tf.constant(a), "sentence2": tf.constant(b)}  # noqa: E731
        show(f"SavedModel, raw text ({path})", measure(
            lambda x: serve(**x), [to_inputs(*p) for p in singles], [to_inputs(*p) for p in batches],
            args.requests, args.batches, args.warmup))
    reference = []  # the first token-id SavedModel's output per single request: what the others are checked against

    def agree(name, call, inputs):
        """Max |difference| from the token-id SavedModel and the share of equal labels, on the first pairs."""
        if not reference:
            return
        outputs = [np.asarray(call(x)) for x in inputs[:len(reference)]]
        difference = max(float(np.abs(o.reshape(r.shape) - r).max()) for o, r in zip(outputs, reference))
        same = float(np.mean([o.reshape(r.shape).argmax(-1) == r.argmax(-1) for o, r in zip(outputs, reference)])) \
            if reference[0].ndim > 1 else None
        report["results"][name].update({"max_abs_difference": difference, "label_agreement": same})
        print(f"{'':<44} against the first token-id SavedModel: max |difference| {difference:.2e}"
              + ("" if same is None else f", labels agree {100 * same:.1f}%") + f" ({len(reference)} pairs)")

    for path in args.ids:
        extra = pathlib.Path(path) / "assets.extra"
        settings = json.loads((extra / "tokenizer.json").read_text())
        pack = packer_for(extra, settings, settings["max_seq_length"])
        serve = tf.saved_model.load(path).signatures[args.task]
        as_tensors = lambda packed: {k: tf.constant(v) for k, v in packed.items()}  # noqa: E731
        inputs = [as_tensors(pack(*p)) for p in singles]
        show(f"SavedModel, token ids ({path})", measure(
            lambda x: serve(**x), inputs, [as_tensors(pack(*p)) for p in batches],
            args.requests, args.batches, args.warmup))
        key = "probabilities" if "probabilities" in serve.structured_outputs else "score"
        if not reference:
            reference[:] = [serve(**x)[key].numpy() for x in inputs[:args.agreement]]
        else:  # another export of the same run (bfloat16, XLA): checked against the first
            agree(f"SavedModel, token ids ({path})", lambda x: serve(**x)[key].numpy(), inputs)
    if args.tflite:
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415

        folder = pathlib.Path(args.tflite)
        for suffix in (".tflite", ".int8.tflite"):
            path = folder / f"{args.task}{suffix}"
            if not path.is_file():
                continue
            interpreter = Interpreter(model_path=str(path), num_threads=os.cpu_count())
            runner = interpreter.get_signature_runner()
            settings = json.loads((folder / "tokenizer.json").read_text())
            dynamic = runner.get_input_details()["token_ids"]["shape_signature"][1] == -1
            seq_length = settings["max_seq_length"] if dynamic else runner.get_input_details()["token_ids"]["shape"][1]
            pack = packer_for(folder, settings, seq_length)
            name = f"TFLite {'int8' if 'int8' in suffix else 'float'} ({'real length' if dynamic else seq_length})"
            inputs = [pack(*p, trim=dynamic) for p in singles]
            show(name, measure(lambda x: runner(**x), inputs, [pack(*p, trim=dynamic) for p in batches],
                               args.requests, args.batches, args.warmup))
            agree(name, lambda x: next(iter(runner(**x).values())), inputs)
    if args.onnx:
        import onnxruntime  # noqa: PLC0415

        folder = pathlib.Path(args.onnx)
        pack = packer_for(folder, json.loads((folder / "tokenizer.json").read_text()),
                          json.loads((folder / "tokenizer.json").read_text())["max_seq_length"])
        for suffix in (".onnx", ".int8.onnx"):
            path = folder / f"{args.task}{suffix}"
            if not path.is_file():
                continue
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            name = f"ONNX Runtime {'int8' if 'int8' in suffix else 'float'} (real length)"
            inputs = [pack(*p) for p in singles]
            show(name, measure(lambda x: session.run(None, x), inputs, [pack(*p) for p in batches],
                               args.requests, args.batches, args.warmup))
            agree(name, lambda x: session.run(None, x)[0], inputs)
    report["mtdnn_tf_imported"] = any(m.startswith("mtdnn_tf") for m in sys.modules)
    print(f"mtdnn_tf imported: {report['mtdnn_tf_imported']}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
