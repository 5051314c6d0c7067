"""Where one request's time goes in the token-id SavedModel, against the same graph in ONNX Runtime.

    python benchmarks/serving_profile.py --ids=/tmp/serve/ids/1 --onnx=/tmp/serve/onnx/1 --task=mrpc

Counts the operations one request runs (the signature's graph and every function it calls, by type),
and times one MRPC dev pair per request through: the token-id signature as exported (bucket lookup and
padding included), the signature given ids already at a bucket length, and the ONNX model of the same
head (no bucket lookup); then each operation type's own time per request (TensorFlow's step statistics),
whose sum against the request's wall time bounds what fusing ops away could save. Prints the CPU and
whether TensorFlow's oneDNN kernels are on (``TF_ENABLE_ONEDNN_OPTS``); compare figures only within one run.
"""

import argparse
import collections
import json
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from machine import cpu_description  # noqa: E402 - benchmarks/machine.py
from serving_latency import packer_for, read_pairs, request_times  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]


def op_counts(concrete):
    """Operation types of ``concrete``'s graph and of every function in its library, counted."""
    graph = concrete.graph.as_graph_def()
    counts = collections.Counter(node.op for node in graph.node)
    for function in graph.library.function:
        counts.update(node.op for node in function.node_def)
    return counts


def op_times(saved_model, task, inputs, repeats=30):
    """Per-operation-type time of one request, from TensorFlow's step statistics (the signature run in a
    TF1 session with ``FULL_TRACE``, function calls inlined): {type: (ops per request, ms per request)},
    and the traced requests' median wall time in ms. The sum of ops' own times against the wall time shows
    what the executor adds between them."""
    import tensorflow as tf  # noqa: PLC0415

    totals, counts, walls = collections.Counter(), collections.Counter(), []
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        signature = tf.compat.v1.saved_model.loader.load(session, ["serve"], saved_model).signature_def[task]
        fetches = {k: v.name for k, v in signature.outputs.items()}

        def run(x, **kwargs):
            return session.run(fetches, {v.name: x[k] for k, v in signature.inputs.items()}, **kwargs)

        for x in inputs[:20]:
            run(x)
        options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
        for x in inputs[:repeats]:
            metadata = tf.compat.v1.RunMetadata()
            run(x, options=options, run_metadata=metadata)
            starts, ends = [], []
            for device in metadata.step_stats.dev_stats:
                for node in device.node_stats:
                    label = node.timeline_label  # "name = Op(inputs)"
                    kind = label.split(" = ", 1)[1].split("(", 1)[0] if " = " in label else node.node_name
                    totals[kind] += node.op_end_rel_micros
                    counts[kind] += 1
                    starts.append(node.all_start_micros)
                    ends.append(node.all_start_micros + node.all_end_rel_micros)
            walls.append(max(ends) - min(starts))
    count = len(walls)
    by_type = {kind: (counts[kind] / count, totals[kind] / count / 1000) for kind, _ in totals.most_common()}
    return by_type, float(np.median(walls)) / 1000


def median_ms(call, inputs, repeats):
    """Median milliseconds of one request, after 20 untimed ones."""
    return 1000 * float(np.median(request_times(call, inputs, repeats, warmup=20)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", required=True, help="SavedModel exported with --inputs=token_ids")
    parser.add_argument("--onnx", help="folder of a --format=onnx export")
    parser.add_argument("--task", default="mrpc")
    parser.add_argument("--glue_dir", default=str(REPO.parent / "shared" / "glue"))
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--json")
    args = parser.parse_args()

    import tensorflow as tf  # noqa: PLC0415

    extra = pathlib.Path(args.ids) / "assets.extra"
    settings = json.loads((extra / "tokenizer.json").read_text())
    pack = packer_for(extra, settings, settings["max_seq_length"])
    first, second = read_pairs(args.glue_dir, args.task, 200)
    singles = [pack(first[i:i + 1], second[i:i + 1]) for i in range(len(first))]
    signature = tf.saved_model.load(args.ids).signatures[args.task]
    counts = op_counts(signature)
    report = {"cpu": cpu_description(), "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
              "task": args.task, "ops_total": sum(counts.values()),
              "ops_by_type": dict(counts.most_common(15)),
              "mean_tokens": float(np.mean([x["padding_mask"].sum() for x in singles]))}
    as_tensors = lambda x: {k: tf.constant(v) for k, v in x.items()}  # noqa: E731
    from mtdnn_tf.data.pipeline import BUCKET_STEPS  # noqa: PLC0415 - the lengths the signature pads to

    def at_bucket(x):
        length = x["token_ids"].shape[1]
        target = next(b for b in BUCKET_STEPS if b >= length)
        return {k: np.pad(v, [(0, 0), (0, target - length)]) for k, v in x.items()}

    timings = {"signature, real length": median_ms(lambda x: signature(**x), [as_tensors(x) for x in singles],
                                                   args.repeats),
               "signature, ids at a bucket length": median_ms(
                   lambda x: signature(**x), [as_tensors(at_bucket(x)) for x in singles], args.repeats)}
    if args.onnx:
        import onnxruntime  # noqa: PLC0415

        session = onnxruntime.InferenceSession(str(pathlib.Path(args.onnx) / f"{args.task}.onnx"),
                                               providers=["CPUExecutionProvider"])
        import onnx  # noqa: PLC0415

        report["onnx_nodes"] = len(onnx.load(str(pathlib.Path(args.onnx) / f"{args.task}.onnx")).graph.node)
        timings["ONNX Runtime, same head, real length"] = median_ms(lambda x: session.run(None, x), singles,
                                                                    args.repeats)
    report["median_ms"] = timings
    by_type, traced_wall = op_times(args.ids, args.task, singles)
    report["op_time_per_request"] = {
        "ops": round(sum(n for n, _ in by_type.values())),
        "ops_own_ms": round(sum(ms for _, ms in by_type.values()), 2),
        "traced_wall_ms": round(traced_wall, 2),
        "by_type": {kind: {"ops": round(n, 1), "ms": round(ms, 3)} for kind, (n, ms) in list(by_type.items())[:15]}}
    print(json.dumps(report, indent=1))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
