"""Which server environment serves one pair fastest: the same SavedModel in fresh processes, interleaved.

    python benchmarks/serving_environment.py --ids=/tmp/serve/ids/1 --ids=/tmp/serve/ids_xla/1 --rounds=2 \
        --json=docs/results/serving_environment.json

A model server does not import mtdnn_tf, so what it runs with is its environment: TensorFlow's oneDNN
kernels (``TF_ENABLE_ONEDNN_OPTS``), its thread pools (``TF_NUM_INTEROP_THREADS``,
``TF_NUM_INTRAOP_THREADS``) and, for a ``--jit_compile`` export, XLA's CPU options (``XLA_FLAGS``: XNNPACK or
oneDNN for XLA's dot products). Each setting is read once per process, so every (model, setting) pair runs
in a process of its own, in turn, round after round (A, B, C, A, B, C ...); a figure is the median over
rounds of each process's p50 and batch-32 throughput, and the first process's outputs are the reference
each other's must match (the largest difference is reported). Prints the CPU; compare within one run only.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys

from machine import cpu_description

REPO = pathlib.Path(__file__).resolve().parents[1]
HERE = pathlib.Path(__file__).resolve().parent
# name -> environment added to the server process's; the XLA ones matter only for --jit_compile exports.
SETTINGS = {
    "default": {},
    "oneDNN": {"TF_ENABLE_ONEDNN_OPTS": "1"},
    "oneDNN + 1 inter-op thread": {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_NUM_INTEROP_THREADS": "1"},
    "1 intra-op thread": {"TF_NUM_INTRAOP_THREADS": "1"},
    "XLA dots by XNNPACK": {"XLA_FLAGS": "--xla_cpu_use_xnnpack=true "
                            "--xla_cpu_experimental_xnn_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY"},
    "XLA dots by oneDNN": {"XLA_FLAGS": "--xla_cpu_use_onednn=true"},
}
XLA_ONLY = ("XLA dots by XNNPACK", "XLA dots by oneDNN")

# What one server process runs: the serving benchmark's own timing on the MRPC dev pairs.
SERVER = r'''
import json, pathlib, sys
sys.path.insert(0, sys.argv[1])
from serving_latency import measure, packer_for, read_pairs
import tensorflow as tf
path, glue_dir, requests, task = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
extra = pathlib.Path(path) / "assets.extra"
settings = json.loads((extra / "tokenizer.json").read_text())
pack = packer_for(extra, settings, settings["max_seq_length"])
first, second = read_pairs(glue_dir, task, 384)
as_tensors = lambda packed: {k: tf.constant(v) for k, v in packed.items()}
singles = [as_tensors(pack(first[i:i + 1], second[i:i + 1])) for i in range(len(first))]
batches = [as_tensors(pack(first[i:i + 32], second[i:i + 32])) for i in range(0, len(first), 32)]
serve = tf.saved_model.load(path).signatures[task]
result = measure(lambda x: serve(**x), singles, batches, requests, len(batches), 50)
key = "probabilities" if "probabilities" in serve.structured_outputs else "score"
result["outputs"] = [serve(**x)[key].numpy().reshape(-1).tolist() for x in singles[:20]]
print("RESULT " + json.dumps(result))
'''


def compiled_with_xla(path):
    """True for an export made with --jit_compile (its functions carry XLA's must-compile attribute)."""
    return b"_XlaMustCompile" in (pathlib.Path(path) / "saved_model.pb").read_bytes()


def run_server(path, environment, args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **environment)
    for name in ("TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS", "XLA_FLAGS"):
        if name not in environment:
            env.pop(name, None)  # only the setting under test differs from TensorFlow's defaults
    done = subprocess.run([sys.executable, "-c", SERVER, str(HERE), path, args.glue_dir, str(args.requests),
                           args.task], capture_output=True, text=True, env=env, timeout=1800)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"error: the server process for {path} with {environment} failed:\n{done.stderr[-2000:]}")
    return json.loads(line.split(" ", 1)[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", action="append", required=True,
                        help="a SavedModel exported with --inputs=token_ids (repeat: e.g. with --jit_compile too)")
    parser.add_argument("--settings", default=",".join(SETTINGS), help=f"comma list of: {', '.join(SETTINGS)}")
    parser.add_argument("--task", default="mrpc")
    parser.add_argument("--glue_dir", default=str(REPO.parent / "shared" / "glue"))
    parser.add_argument("--requests", type=int, default=200, help="single-pair requests timed per process")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    for flag in ("rounds", "requests"):
        if getattr(args, flag) < 1:
            sys.exit(f"error: --{flag}: must be at least 1, got {getattr(args, flag)}")
    chosen = [s.strip() for s in args.settings.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SETTINGS]
    if unknown:
        sys.exit(f"error: --settings: unknown {unknown} (choose from {', '.join(SETTINGS)})")
    for path in args.ids:
        if not (pathlib.Path(path) / "saved_model.pb").is_file():
            sys.exit(f"error: --ids: {path} holds no saved_model.pb")
    contestants = [(path, name) for path in args.ids for name in chosen
                   if name not in XLA_ONLY or compiled_with_xla(path)]
    print(f"CPU: {cpu_description()}; {len(contestants)} server processes a round, {args.rounds} rounds", flush=True)
    runs = {contestant: [] for contestant in contestants}
    for round_index in range(args.rounds):
        for path, name in contestants:
            result = run_server(path, SETTINGS[name], args)
            runs[(path, name)].append(result)
            print(f"round {round_index + 1}: {path} [{name}]: p50 {result['p50_ms']:.1f} ms, "
                  f"{result['pairs_per_s_batch32']:.1f} pairs/s at batch 32", flush=True)
        report = summary(runs, contestants, args)  # after every round: a stopped run keeps what it measured
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'SavedModel':<34}{'environment':<30}{'p50 ms':>8}{'pairs/s b32':>13}{'max diff':>10}")
    for row in report["results"]:
        print(f"{row['saved_model'][-34:]:<34}{row['setting']:<30}{row['p50_ms']:8.1f}"
              f"{row['pairs_per_s_batch32']:13.1f}{row['max_abs_difference']:10.1e}")


def summary(runs, contestants, args):
    """Medians over the rounds so far, and each setting's largest output difference from the first process."""
    reference = runs[contestants[0]][0]["outputs"]
    report = {"cpu": cpu_description(), "task": args.task, "requests": args.requests, "results": []}
    for (path, name), results in runs.items():
        if not results:
            continue
        difference = max(abs(a - b) for r in results for o, ref in zip(r["outputs"], reference) for a, b in zip(o, ref))
        report["results"].append({
            "saved_model": path, "setting": name, "environment": SETTINGS[name], "rounds": len(results),
            "p50_ms": statistics.median(r["p50_ms"] for r in results),
            "p50_ms_per_round": [round(r["p50_ms"], 2) for r in results],
            "pairs_per_s_batch32": statistics.median(r["pairs_per_s_batch32"] for r in results),
            "max_abs_difference": difference})
    return report


if __name__ == "__main__":
    main()
