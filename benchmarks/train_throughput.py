"""Training throughput: this project's trainer against keras-hub's BertTextClassifier.fit.

Both run in one process on the same machine, the same real GLUE examples and the
same pretrained encoder, after warm-up:

  (a) mtdnn_tf's multi-task trainer (Algorithm 1 over the task mix, SAN heads where
      the task YAML says so, length-sorted batches cut to bucket shapes);
  (b) keras_hub.models.BertTextClassifier.fit with its default fixed-length padding
      and its default compile settings (it reports whether XLA was on), inputs
      tokenised beforehand.

It prints examples/s, real (non-padding) tokens/s, the ratio (a)/(b), and useful
FLOP/s (6 x non-embedding parameters x real tokens/s, plus attention over real
lengths) as a fraction of the fp32 matmul throughput it measures first.

    python benchmarks/train_throughput.py                       # ~5 minutes on 2 idle cores
    python benchmarks/train_throughput.py --variants=plain,xla,bf16 --json=out.json
    python benchmarks/train_throughput.py --profile_dir=/tmp/prof   # + op breakdown (pip install xprof)

A variant is one configuration of (a): plain (float32, no XLA), xla, bf16
(mixed_bfloat16), xla_bf16, lazy (row-sparse embedding update), lazy_bf16.
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
VARIANTS = {
    "plain": dict(jit_compile=False, mixed_precision=None),
    "xla": dict(jit_compile=True, mixed_precision=None),
    "bf16": dict(jit_compile=False, mixed_precision="mixed_bfloat16"),
    "xla_bf16": dict(jit_compile=True, mixed_precision="mixed_bfloat16"),
    "lazy": dict(jit_compile=False, mixed_precision=None, lazy_embedding_update=True),
    "lazy_bf16": dict(jit_compile=False, mixed_precision="mixed_bfloat16", lazy_embedding_update=True),
}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--glue_dir", default=str(REPO.parent / "shared" / "glue"))
    parser.add_argument("--preset", default=str(REPO.parent / "shared" / "pretrained" / "all-MiniLM-L6-v2"))
    parser.add_argument("--tasks", default="rte,mrpc,stsb,cola")
    parser.add_argument("--examples_per_task", type=int, default=128,
                        help="training examples drawn (seeded) from each task; one timed epoch sees all of them")
    parser.add_argument("--warmup_epochs", type=int, default=2)
    parser.add_argument("--timed_epochs", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--keras_hub_steps", type=int, default=12, help="timed keras-hub steps (after 2 warm-up)")
    parser.add_argument("--variants", default="plain", help=f"comma list of {', '.join(VARIANTS)}")
    parser.add_argument("--profile_dir", default=None,
                        help="profile the timed epochs of (a) with the TensorFlow profiler and print the op"
                             " breakdown (needs `pip install xprof`)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    return parser.parse_args(argv)


# -- the machine --------------------------------------------------------------
def matmul_gflops(size=2048, seconds=4.0):
    """Measured fp32 matmul throughput (best of repeated 2048^3 products)."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))

    @tf.function
    def product(a, b):
        return tf.reduce_sum(tf.matmul(a, b))

    product(a, b).numpy()
    best, started = 0.0, time.time()
    while time.time() - started < seconds:
        tick = time.perf_counter()
        product(a, b).numpy()
        best = max(best, 2 * size**3 / (time.perf_counter() - tick) / 1e9)
    return best


def useful_flops(backbone, lengths):
    """Training FLOPs on real tokens: 6 x non-embedding parameters per token, plus attention.

    Attention scores and the weighted sum cost 2 x 2 x L^2 x hidden per layer
    forward; training is three times the forward.
    """
    embedding = sum(int(np.prod(w.shape)) for layer in backbone.layers if "embedding" in layer.name
                    for w in layer.weights)
    pooler = sum(int(np.prod(w.shape)) for w in backbone.get_layer("pooled_dense").weights)
    non_embedding = backbone.count_params() - embedding - pooler
    lengths = np.asarray(lengths, np.float64)
    attention = 12.0 * backbone.num_layers * backbone.hidden_dim * np.sum(lengths**2)
    return 6.0 * non_embedding * lengths.sum() + attention, non_embedding


# -- data ---------------------------------------------------------------------
def sample_examples(tasks, glue_dir, per_task, seed=0):
    from mtdnn_tf.data.readers import read_split

    samples = {}
    for name, task in tasks.items():
        examples = read_split(task, "train", glue_dir)
        index = np.sort(np.random.default_rng(seed).permutation(len(examples))[:per_task])
        samples[name] = examples.subset(index)
    return samples


# -- (a) this project -----------------------------------------------------------
def run_mtdnn(tasks, samples, tokenizer, args, variant, profile_dir=None):
    import keras
    import tensorflow as tf

    from mtdnn_tf.data.packing import TextPacker
    from mtdnn_tf.data.pipeline import pack_split
    from mtdnn_tf.models.backbone import load_backbone
    from mtdnn_tf.models.mtdnn_model import build_mtdnn_model
    from mtdnn_tf.training.trainer import MultiTaskTrainer, TrainConfig, make_optimizer, total_train_steps

    options = VARIANTS[variant]
    packer = TextPacker(tokenizer, args.max_seq_length)
    train = {n: pack_split(packer, samples[n], task=tasks[n]) for n in tasks}
    lengths = np.concatenate([train[n].lengths for n in tasks])
    config = TrainConfig(epochs=args.warmup_epochs + args.timed_epochs, batch_size=args.batch_size,
                         learning_rate=2e-5, verbose=0, jit_compile=options["jit_compile"],
                         lazy_embedding_update=options.get("lazy_embedding_update", False))
    keras.utils.set_random_seed(0)
    backbone = load_backbone(args.preset, dtype=options["mixed_precision"])
    model = build_mtdnn_model(backbone, tasks, "mean")
    optimizer = make_optimizer(config, total_train_steps(train, args.batch_size, config.epochs))
    optimizer.build(model.trainable_variables)
    with tempfile.TemporaryDirectory() as workdir:
        trainer = MultiTaskTrainer(model, optimizer, tasks, train, {}, config, workdir, tf.distribute.get_strategy())
        return _time_epochs(trainer, train, tasks, lengths, backbone, config, args, profile_dir)


def _time_epochs(trainer, train, tasks, lengths, backbone, config, args, profile_dir):
    import tensorflow as tf

    # Warm-up: traces the steps (with XLA, compiles each bucket shape), and lets
    # oneDNN build its kernels for each shape, which it does on first sight.
    for epoch in range(args.warmup_epochs):
        trainer.run_epoch(epoch)
        trainer.step_in_epoch.assign(0)
    if profile_dir:
        tf.profiler.experimental.start(profile_dir)
    started = time.perf_counter()
    for epoch in range(args.warmup_epochs, args.warmup_epochs + args.timed_epochs):
        trainer.run_epoch(epoch)
        trainer.step_in_epoch.assign(0)
    seconds = time.perf_counter() - started
    if profile_dir:
        tf.profiler.experimental.stop()
    flops, non_embedding = useful_flops(backbone, lengths)
    n = args.timed_epochs
    padded = sum(padded_tokens(train[name], args.batch_size, config, epoch, index)
                 for index, name in enumerate(tasks)
                 for epoch in range(args.warmup_epochs, args.warmup_epochs + n))
    return dict(examples=n * len(lengths), real_tokens=n * int(lengths.sum()), padded_tokens=padded,
                seconds=seconds, examples_per_s=n * len(lengths) / seconds,
                real_tokens_per_s=n * lengths.sum() / seconds, useful_gflops=n * flops / seconds / 1e9,
                non_embedding_params=non_embedding)


def padded_tokens(split, batch_size, config, epoch, task_index):
    """Tokens computed, padding included, for one task's batches in one epoch."""
    from mtdnn_tf.data.pipeline import train_dataset

    dataset = train_dataset(split, batch_size, config.seed, epoch, task_index, sort_window=config.sort_window)
    return sum(int(np.prod(features["token_ids"].shape)) for features, _ in dataset)


# -- (b) keras-hub --------------------------------------------------------------
def run_keras_hub(samples, args):
    import keras
    import keras_hub
    import tensorflow as tf

    a = np.concatenate([samples[n].text_a for n in samples])
    b = np.concatenate([samples[n].text_b if samples[n].text_b is not None else [""] * len(samples[n])
                        for n in samples])
    order = np.random.default_rng(0).permutation(len(a))
    a, b = a[order], b[order]
    labels = np.zeros(len(a), np.int32)  # throughput does not depend on the labels
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(
        args.preset, sequence_length=args.max_seq_length)
    keras.utils.set_random_seed(0)
    classifier = keras_hub.models.BertTextClassifier(
        backbone=keras_hub.models.BertBackbone.from_preset(args.preset), num_classes=2, preprocessor=None)
    classifier.compile(optimizer=keras.optimizers.Adam(2e-5),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    # Tokenised once, as in (a); fit then sees fixed-length int tensors.
    batches = [preprocessor(x=(tf.constant(a[i:i + args.batch_size]), tf.constant(b[i:i + args.batch_size])))
               for i in range(0, len(a), args.batch_size)]
    features = {k: np.concatenate([x[k].numpy() for x in batches]) for k in batches[0]}
    steps = args.keras_hub_steps
    needed = (steps + 2) * args.batch_size
    reps = -(-needed // len(labels))
    features = {k: np.concatenate([v] * reps)[:needed] for k, v in features.items()}
    real = features["padding_mask"].sum(axis=-1)
    dataset = tf.data.Dataset.from_tensor_slices((features, labels.repeat(reps)[:needed])).batch(args.batch_size)
    classifier.fit(dataset.take(2), verbose=0)  # warm-up: XLA compilation
    timed = dataset.skip(2).cache()
    for _ in timed:
        pass
    started = time.perf_counter()
    classifier.fit(timed, verbose=0)
    seconds = time.perf_counter() - started
    real = real[2 * args.batch_size:]
    flops, non_embedding = useful_flops(classifier.backbone, real)
    return dict(examples=len(real), real_tokens=int(real.sum()), seconds=seconds,
                examples_per_s=len(real) / seconds, real_tokens_per_s=real.sum() / seconds,
                useful_gflops=flops / seconds / 1e9, non_embedding_params=non_embedding,
                jit_compile=bool(classifier.jit_compile))


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


def main(argv=None):
    args = parse_args(argv)
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        sys.exit(f"error: --variants: unknown {unknown} (choose from {', '.join(VARIANTS)})")
    for path, flag in [(args.glue_dir, "--glue_dir"), (args.preset, "--preset")]:
        if not pathlib.Path(path).is_dir():
            sys.exit(f"error: {flag}: {path} is not a directory")
    import tensorflow as tf

    from mtdnn_tf.models.backbone import load_tokenizer
    from mtdnn_tf.tasks import load_tasks

    started = time.time()
    peak = matmul_gflops()
    print(f"fp32 matmul throughput: {peak:.1f} GFLOP/s ({os.cpu_count()} CPUs, {platform.processor() or platform.machine()})")
    tasks = load_tasks(args.tasks.split(","))
    samples = sample_examples(tasks, args.glue_dir, args.examples_per_task)
    tokenizer = load_tokenizer(args.preset)
    report = {"machine": {"cpus": os.cpu_count(), "matmul_fp32_gflops": round(peak, 1),
                          "tensorflow": tf.__version__},
              "settings": {k: v for k, v in vars(args).items() if k not in ("json",)}, "results": {}}
    hub = run_keras_hub(samples, args)
    report["results"]["keras_hub_fit"] = hub
    xla = "XLA" if hub["jit_compile"] else "no XLA"
    print(_line(f"keras-hub BertTextClassifier.fit ({xla}, pad {args.max_seq_length})", hub, peak))
    for variant in variants:
        ours = run_mtdnn(tasks, samples, tokenizer, args, variant, args.profile_dir)
        ours["ratio_to_keras_hub"] = ours["examples_per_s"] / hub["examples_per_s"]
        report["results"][f"mtdnn_tf_{variant}"] = ours
        print(_line(f"mtdnn_tf trainer, {variant}", ours, peak) + f"  ratio {ours['ratio_to_keras_hub']:.2f}x")
    if args.profile_dir:
        breakdown = op_breakdown(args.profile_dir)
        report["op_breakdown"] = [{"op": n, "share": round(f, 4), "ms": round(ms, 1)} for n, f, ms in breakdown]
        print(f"TensorFlow op self time in the last profiled epoch of (a) ({args.variants.split(',')[-1]}):")
        for name, share, ms in breakdown:
            print(f"  {name:32s} {100 * share:5.1f}%  {ms:9.0f} ms")
    report["wall_seconds"] = round(time.time() - started, 1)
    print(f"total {report['wall_seconds']:.0f} s")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2, default=float) + "\n")


def _line(label, r, peak):
    return (f"{label:48s} {r['examples_per_s']:6.1f} ex/s  {r['real_tokens_per_s']:7.0f} real tok/s  "
            f"{r['useful_gflops']:6.1f} useful GFLOP/s = {100 * r['useful_gflops'] / peak:4.1f}% of fp32 matmul")


if __name__ == "__main__":
    main()
