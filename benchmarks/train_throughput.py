"""Training and evaluation throughput: this project's trainer against keras-hub's BertTextClassifier.fit.

Both run in one process, on the same real GLUE training examples (by default
1,024 from each of RTE, MRPC, STS-B and CoLA: one realistic epoch of 4,096
pairs) and the same pretrained encoder, batch 32:

  (a) mtdnn_tf's multi-task trainer (Algorithm 1 over the task mix, SAN heads
      where the task YAML says so, length-sorted batches cut to bucket
      shapes), in one or more variants: plain (float32), lazy (row-sparse
      embedding update), bf16 (mixed_bfloat16), lazy_bf16, xla, xla_bf16;
  (b) keras_hub.models.BertTextClassifier.fit as its users run it: fixed
      length 128, its default compile settings, float32.

Warm-up (tracing, XLA compilation, oneDNN's first sight of each shape) is run
and timed apart. Then the contestants take turns over several rounds (A, B,
A, B, ...): in each round every variant of (a) trains the next part of the
epoch and (b) fits the next few batches of the same examples, and the
variants of (a) evaluate a sample of the dev sets (forward passes only). The
host's speed drifts, so each contestant's figure is the median over rounds,
and only ratios within one run are meaningful. "Useful" FLOP/s count 6 x
non-embedding parameters x real tokens plus attention over real lengths, as a
fraction of the matmul throughput measured at the start (float32; bfloat16
too where the CPU has bfloat16 units).

    python benchmarks/train_throughput.py                      # about 10 minutes on 2 cores
    python benchmarks/train_throughput.py --variants=plain,bf16,xla_bf16 --json=out.json
    python benchmarks/train_throughput.py --profile_dir=/tmp/prof  # + op breakdown (pip install xprof)
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from machine import (  # noqa: E402 - benchmarks/machine.py
    ProcessClock,
    cpu_description,
    has_bfloat16_units,
    matmul_gflops,
)

REPO = pathlib.Path(__file__).resolve().parents[1]
VARIANTS = {
    "plain": dict(jit_compile=False, mixed_precision=None),
    "lazy": dict(jit_compile=False, mixed_precision=None, lazy_embedding_update=True),
    "bf16": dict(jit_compile=False, mixed_precision="mixed_bfloat16"),
    "lazy_bf16": dict(jit_compile=False, mixed_precision="mixed_bfloat16", lazy_embedding_update=True),
    "xla": dict(jit_compile=True, mixed_precision=None),
    "xla_bf16": dict(jit_compile=True, mixed_precision="mixed_bfloat16"),
    "xla_step": dict(jit_compile=True, mixed_precision=None, xla_whole_step=True),  # clipping + update in XLA too
    "smart": dict(jit_compile=False, mixed_precision=None, smart=True),  # SMART's cost per step (K = 1)
}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--glue_dir", default=str(REPO.parent / "shared" / "glue"))
    parser.add_argument("--preset", default=str(REPO.parent / "shared" / "pretrained" / "all-MiniLM-L6-v2"))
    parser.add_argument("--tasks", default="rte,mrpc,stsb,cola")
    parser.add_argument("--examples_per_task", type=int, default=1024,
                        help="training examples drawn (seeded) from each task: one timed epoch")
    parser.add_argument("--rounds", type=int, default=6, help="turns each contestant takes; figures are medians")
    parser.add_argument("--warmup_per_task", type=int, default=96,
                        help="examples per task of the untimed warm-up epoch of each variant")
    parser.add_argument("--no_shape_warm_up", action="store_true",
                        help="leave out the trainer's shape warm-up (mtdnn_tf.training.shape_warm_up) before the"
                             " timed epoch, to see the first round without it")
    parser.add_argument("--keras_hub_batches", type=int, default=3, help="keras-hub batches timed per round")
    parser.add_argument("--eval_per_task", type=int, default=96, help="dev examples per task evaluated per round")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--variants", default=None,
                        help=f"comma list of {', '.join(VARIANTS)} (default: plain,lazy and, where the CPU has "
                             "bfloat16 units, lazy_bf16)")
    parser.add_argument("--profile_dir", default=None,
                        help="profile the last variant's last round with the TensorFlow profiler and print the op"
                             " breakdown (needs `pip install xprof`)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    return parser.parse_args(argv)


def useful_flops(backbone, lengths):
    """Training FLOPs on real tokens: 6 x non-embedding parameters per token, plus attention.

    Attention scores and the weighted sum cost 2 x 2 x L^2 x hidden per layer
    forward; training is three times the forward (so a forward pass is a third).
    """
    embedding = sum(int(np.prod(w.shape)) for layer in backbone.layers if "embedding" in layer.name
                    for w in layer.weights)
    pooler = sum(int(np.prod(w.shape)) for w in backbone.get_layer("pooled_dense").weights)
    non_embedding = backbone.count_params() - embedding - pooler
    lengths = np.asarray(lengths, np.float64)
    attention = 12.0 * backbone.num_layers * backbone.hidden_dim * np.sum(lengths**2)
    return 6.0 * non_embedding * lengths.sum() + attention, non_embedding


def real_lengths(padding_mask):
    """Real lengths of a batch's sequences (rows of ``padding_mask``, ranking candidates included); padded rows
    left out."""
    mask = np.asarray(padding_mask)
    lengths = mask.reshape(-1, mask.shape[-1]).sum(axis=-1)
    return lengths[lengths > 0]


def sample_examples(tasks, glue_dir, per_task, split="train", seed=0):
    from mtdnn_tf.data.readers import read_split  # noqa: PLC0415

    samples = {}
    for name, task in tasks.items():
        examples = read_split(task, split, glue_dir)
        index = np.sort(np.random.default_rng(seed).permutation(len(examples))[:per_task])
        samples[name] = examples.subset(index)
    return samples


class OurTrainer:
    """One variant of (a): a trainer on the sampled epoch, run a slice at a time."""

    def __init__(self, name, tasks, train, dev, args):
        import keras  # noqa: PLC0415

        from mtdnn_tf.models.backbone import load_backbone  # noqa: PLC0415
        from mtdnn_tf.settings.smart_config import SmartConfig  # noqa: PLC0415
        from mtdnn_tf.training.assembly import make_trainer  # noqa: PLC0415
        from mtdnn_tf.training.train_config import TrainConfig  # noqa: PLC0415

        options = VARIANTS[name]
        self.name, self.args, self.train, self.dev = name, args, train, dev
        self.config = TrainConfig(epochs=2, batch_size=args.batch_size, learning_rate=2e-5, verbose=0,
                                  jit_compile=options["jit_compile"],
                                  lazy_embedding_update=options.get("lazy_embedding_update", False),
                                  smart=SmartConfig(enabled=options.get("smart", False)),
                                  xla_whole_step=options.get("xla_whole_step", False))
        keras.utils.set_random_seed(0)
        self.backbone = load_backbone(args.preset, dtype=options["mixed_precision"])
        self.workdir = tempfile.TemporaryDirectory()
        self.trainer = make_trainer(self.backbone, tasks, train, {}, self.config, self.workdir.name,
                                    head_input="mean")
        self.tasks = tasks
        # Each step's real lengths, in the loop's order: a round is credited with the work of the batches it
        # trained (an RTE batch costs several CoLA ones), not with its share of the steps.
        self.step_lengths = [real_lengths(features["padding_mask"]) for _, features, _ in self.trainer.epoch_batches(1)]
        self.steps = len(self.step_lengths)
        self.examples = sum(len(split) for split in train.values())
        self.flops_per_epoch, self.non_embedding = useful_flops(
            self.backbone, np.concatenate([split.lengths for split in train.values()]))

    def warm_up(self):
        """An untimed-for-throughput epoch over a small sample: traces and first shapes. Returns seconds."""
        started = time.perf_counter()
        self.trainer.run_epoch(0, max_examples=self.args.warmup_per_task)
        self.trainer.step_in_epoch.assign(0)
        self.trainer.evaluator.evaluate(self.tasks, self.dev)
        if not self.args.no_shape_warm_up:  # what train() does before a long epoch: every shape of epoch 1 once
            self.trainer.warm_up_shapes(1)
        return time.perf_counter() - started

    def train_slice(self, round_index, rounds):
        """Trains the round's share of epoch 1; returns (seconds, examples, useful FLOPs)."""
        stop = self.steps * (round_index + 1) // rounds
        begin = int(self.trainer.step_in_epoch.numpy())
        started = time.perf_counter()
        self.trainer.run_epoch(1, stop=stop)
        seconds = time.perf_counter() - started
        lengths = np.concatenate(self.step_lengths[begin:stop])
        return seconds, len(lengths), useful_flops(self.backbone, lengths)[0]

    def loop_traces(self):
        """How many times the trainer's training-loop tf.function has been traced so far."""
        loop = self.trainer._loop  # noqa: SLF001 - a diagnostic of the benchmark
        return 0 if loop is None else loop.experimental_get_tracing_count()

    def evaluate(self):
        """Seconds and examples of one pass over the dev sample (forward only)."""
        started = time.perf_counter()
        self.trainer.evaluator.evaluate(self.tasks, self.dev)
        return time.perf_counter() - started, sum(len(split) for by in self.dev.values() for split in by.values())


class KerasHubFit:
    """(b): BertTextClassifier.fit at fixed length 128, float32, on the same examples."""

    def __init__(self, samples, args):
        import keras  # noqa: PLC0415
        import keras_hub  # noqa: PLC0415
        import tensorflow as tf  # noqa: PLC0415

        a = np.concatenate([samples[n].text_a for n in samples])
        b = np.concatenate([samples[n].text_b if samples[n].text_b is not None else [""] * len(samples[n])
                            for n in samples])
        order = np.random.default_rng(0).permutation(len(a))
        a, b = a[order], b[order]
        preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(
            args.preset, sequence_length=args.max_seq_length)
        keras.utils.set_random_seed(0)
        self.classifier = keras_hub.models.BertTextClassifier(
            backbone=keras_hub.models.BertBackbone.from_preset(args.preset), num_classes=2, preprocessor=None)
        self.classifier.compile(optimizer=keras.optimizers.Adam(2e-5),
                                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        # Tokenised once beforehand, as for (a): fit sees fixed-length int tensors.
        batches = [preprocessor(x=(tf.constant(a[i:i + args.batch_size]), tf.constant(b[i:i + args.batch_size])))
                   for i in range(0, len(a) - args.batch_size + 1, args.batch_size)]
        self.batches = [({k: v.numpy() for k, v in x.items()}, np.zeros(args.batch_size, np.int32)) for x in batches]
        self.position = 0
        self.args = args

    def warm_up(self):
        started = time.perf_counter()
        self._fit(2)
        return time.perf_counter() - started

    def _fit(self, count):
        import tensorflow as tf  # noqa: PLC0415

        chosen = [self.batches[(self.position + i) % len(self.batches)] for i in range(count)]
        self.position += count
        features = {k: np.concatenate([x[k] for x, _ in chosen]) for k in chosen[0][0]}
        labels = np.concatenate([y for _, y in chosen])
        dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(self.args.batch_size).cache()
        for _ in dataset:  # materialise before timing
            pass
        started = time.perf_counter()
        self.classifier.fit(dataset, verbose=0)
        return time.perf_counter() - started, features["padding_mask"].sum(axis=-1)

    def train_slice(self):
        seconds, real = self._fit(self.args.keras_hub_batches)
        flops, self.non_embedding = useful_flops(self.classifier.backbone, real)
        return seconds, len(real), flops


def op_breakdown(profile_dir, top=12):
    """Self time per TensorFlow op type in the profile, largest first: [(type, share, ms)].

    Needs the profiler's converter (``pip install xprof``).
    """
    try:
        from xprof.convert import raw_to_tool_data  # noqa: PLC0415
    except ImportError:
        sys.exit("error: --profile_dir: the op breakdown needs `pip install xprof`")
    paths = sorted(pathlib.Path(profile_dir).glob("**/*.xplane.pb"))
    data, _ = raw_to_tool_data.xspace_to_tool_data([str(p) for p in paths[-1:]], "framework_op_stats", {})
    table = json.loads(data)[0]
    columns = [c["id"] for c in table["cols"]]
    by_type = {}
    for row in table["rows"]:
        values = dict(zip(columns, [cell.get("v") if isinstance(cell, dict) else cell for cell in row["c"]]))
        if values.get("host_or_device") == "Host" and values.get("type") not in ("IDLE",):
            by_type[values["type"]] = by_type.get(values["type"], 0.0) + float(values["total_self_time"])
    total = sum(by_type.values()) or 1.0
    ranked = sorted(by_type.items(), key=lambda kv: -kv[1])[:top]
    return [(name, t / total, t / 1000.0) for name, t in ranked]


def summarise(samples):
    """Median throughput over rounds from [(seconds, examples, flops)]."""
    rates = [examples / seconds for seconds, examples, _ in samples]
    gflops = [flops / seconds / 1e9 for seconds, _, flops in samples]
    return {"examples_per_s": statistics.median(rates), "useful_gflops": statistics.median(gflops),
            "per_round_examples_per_s": [round(r, 2) for r in rates],
            "per_round_useful_gflops": [round(g, 2) for g in gflops],
            # The first round's useful FLOP/s against the median of the later ones' (work, not examples: rounds
            # hold different task mixes): 1.0 when no round pays for new shapes.
            "first_round_to_later_median": round(gflops[0] / statistics.median(gflops[1:]), 3) if len(gflops) > 1
            else None,
            "seconds": round(sum(s for s, _, _ in samples), 1)}


def main(argv=None):
    args = parse_args(argv)
    bf16_units = has_bfloat16_units()
    variants = (args.variants or ("plain,lazy,lazy_bf16" if bf16_units else "plain,lazy")).split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        sys.exit(f"error: --variants: unknown {unknown} (choose from {', '.join(VARIANTS)})")
    for path, flag in [(args.glue_dir, "--glue_dir"), (args.preset, "--preset")]:
        if not pathlib.Path(path).is_dir():
            sys.exit(f"error: {flag}: {path} is not a directory")
    # First: mtdnn_tf's TensorFlow set-up (oneDNN on x86-64) then holds for both contestants.
    import mtdnn_tf  # noqa: F401, PLC0415

    # isort: split
    import tensorflow as tf  # noqa: PLC0415

    from mtdnn_tf.data.packing import TextPacker  # noqa: PLC0415
    from mtdnn_tf.data.pipeline import pack_split  # noqa: PLC0415
    from mtdnn_tf.models.backbone import load_tokenizer  # noqa: PLC0415
    from mtdnn_tf.tasks import load_tasks  # noqa: PLC0415

    started = time.time()
    peaks = {"float32": matmul_gflops("float32")}
    if bf16_units:
        peaks["bfloat16"] = matmul_gflops("bfloat16")
    print(f"CPU: {cpu_description()}; TensorFlow {tf.__version__}, "
          f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS')}")
    print("matmul peak: " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items()), flush=True)
    tasks = load_tasks(args.tasks.split(","))
    samples = sample_examples(tasks, args.glue_dir, args.examples_per_task)
    packer = TextPacker(load_tokenizer(args.preset), args.max_seq_length)
    train = {n: pack_split(packer, samples[n], task=tasks[n]) for n in tasks}
    dev_samples = sample_examples(tasks, args.glue_dir, args.eval_per_task, split="dev")
    dev = {n: {"dev": pack_split(packer, dev_samples[n], task=tasks[n])} for n in tasks}

    report = {"machine": {"cpu": cpu_description(), "matmul_gflops": {k: round(v, 1) for k, v in peaks.items()},
                          "tensorflow": tf.__version__,
                          "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS")},
              "settings": {k: v for k, v in vars(args).items() if k != "json"} | {"variants": variants},
              "warm_up_seconds": {}, "results": {}}
    hub = KerasHubFit(samples, args)
    report["warm_up_seconds"]["keras_hub_fit"] = round(hub.warm_up(), 1)
    ours = {}
    for name in variants:
        ours[name] = OurTrainer(name, tasks, train, dev, args)
        report["warm_up_seconds"][f"mtdnn_tf_{name}"] = round(ours[name].warm_up(), 1)
    print("warm-up (tracing, compilation, first shapes): "
          + ", ".join(f"{k} {v:.0f} s" for k, v in report["warm_up_seconds"].items()), flush=True)

    timings = {"keras_hub_fit": []} | {name: [] for name in variants} | {f"{n}_eval": [] for n in variants}
    # Each contestant's CPU use, system time, page faults and the host's steal, per round: why a round is slow.
    usage = report["process_usage_per_round"] = {name: [] for name in ["keras_hub_fit", *variants]}
    for round_index in range(args.rounds):
        clock = ProcessClock()
        timings["keras_hub_fit"].append(hub.train_slice())
        usage["keras_hub_fit"].append(clock.usage())
        for name, contestant in ours.items():
            profile = args.profile_dir and name == variants[-1] and round_index == args.rounds - 1
            if profile:
                tf.profiler.experimental.start(args.profile_dir)
            clock = ProcessClock()
            traces = contestant.loop_traces()
            timings[name].append(contestant.train_slice(round_index, args.rounds))
            # Traces of the training loop in the round: 0 unless something in the round made it trace again.
            usage[name].append(clock.usage() | {"loop_traces": contestant.loop_traces() - traces})
            if profile:
                tf.profiler.experimental.stop()
            seconds, examples = contestant.evaluate()
            timings[f"{name}_eval"].append((seconds, examples, contestant.flops_per_epoch / 3 * examples
                                            / contestant.examples))  # forward: a third of training's FLOPs
        print(f"round {round_index + 1}/{args.rounds}: " + ", ".join(
            f"{k} {e / s:.1f} ex/s ({f / s / 1e9:.0f} GFLOP/s)" for k, v in timings.items() for s, e, f in v[-1:]),
            flush=True)
        print("  process: " + ", ".join(f"{k} CPU use {u[-1]['cpu_use']:.0%}, system {u[-1]['system_share']:.0%}, "
                                        f"{u[-1]['minor_faults_per_s']} faults/s, steal {u[-1]['steal_share']:.0%}, "
                                        f"GC {u[-1]['gc_share']:.0%} ({u[-1]['gc_full_passes']} full)"
                                        + (f", {u[-1]['loop_traces']} loop traces" if "loop_traces" in u[-1] else "")
                                        for k, u in usage.items()), flush=True)

    base = summarise(timings["keras_hub_fit"])
    report["results"]["keras_hub_fit"] = base | {"jit_compile": bool(hub.classifier.jit_compile)}
    print(f"\n{'contestant':<34}{'ex/s':>8}{'ratio':>8}{'useful GFLOP/s':>16}  of matmul peak")
    rows = [("keras_hub_fit", f"keras-hub fit (pad {args.max_seq_length}, fp32)", base, None)]
    for name in variants:
        peak_name = "bfloat16" if "bf16" in name and "bfloat16" in peaks else "float32"
        result = summarise(timings[name]) | {"peak": peak_name}
        result["ratio_to_keras_hub"] = result["examples_per_s"] / base["examples_per_s"]
        evaluation = summarise(timings[f"{name}_eval"])
        result["eval_examples_per_s"] = evaluation["examples_per_s"]
        result["eval_to_train_speed"] = evaluation["examples_per_s"] / result["examples_per_s"]
        report["results"][f"mtdnn_tf_{name}"] = result
        rows.append((name, f"mtdnn_tf {name}", result, peak_name))
    for _, label, result, peak_name in rows:
        peak = peaks[peak_name or "float32"]
        ratio = result.get("ratio_to_keras_hub", 1.0)
        print(f"{label:<34}{result['examples_per_s']:8.1f}{ratio:7.2f}x{result['useful_gflops']:16.1f}"
              f"  {100 * result['useful_gflops'] / peak:5.1f}% of {peak_name or 'float32'}")
    for name in ["keras_hub_fit", *(f"mtdnn_tf_{v}" for v in variants)]:
        print(f"first round / median of the later ones (useful FLOP/s), {name}: "
              f"{report['results'][name]['first_round_to_later_median']}")
    for name in variants:
        r = report["results"][f"mtdnn_tf_{name}"]
        print(f"evaluation, {name}: {r['eval_examples_per_s']:.1f} ex/s = {r['eval_to_train_speed']:.1f}x its "
              "training speed")
    if args.profile_dir:
        breakdown = op_breakdown(args.profile_dir)
        report["op_breakdown"] = [{"op": n, "share": round(f, 4), "ms": round(ms, 1)} for n, f, ms in breakdown]
        print(f"TensorFlow op self time, {variants[-1]}, last round:")
        for name, share, ms in breakdown:
            print(f"  {name:32s} {100 * share:5.1f}%  {ms:9.0f} ms")
    report["wall_seconds"] = round(time.time() - started, 1)
    print(f"total {report['wall_seconds']:.0f} s")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
