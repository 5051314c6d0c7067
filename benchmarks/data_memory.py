"""Memory and start-up time of all of GLUE's training data at length 512, as configs/glue.flags packs it.

A synthetic suite with the nine GLUE training sizes (MNLI 392,702, QQP 363,846, QNLI 104,743, SST-2
67,349, CoLA 8,551, STS-B 5,749, MRPC 3,668, RTE 2,490, WNLI 635: 949,733 examples) whose rows are
drawn with replacement from the real files in ``../shared/glue`` (and ``../shared/nli``), so lengths
follow the real distributions; nothing large is committed. Tasks whose training file is not here take
their rows from a stand-in: QNLI from its dev file, MNLI from the re-split MNLI dev sets (not MNLI's
training set), QQP from MRPC (another question/paraphrase pair task). Tokenised with the MiniLM
(BERT uncased) vocabulary, packed at 512.

Phases, each with the peak resident memory above the process's baseline after importing TensorFlow
(sampled every 5 ms): packing every task (``pack_split``), writing the token cache, and the start of
the first two epochs (every task's ``train_dataset`` built and its first batch made). Also the time to
start an epoch and the cache's size on disk against the real tokens' bytes (token ids in the smallest
type the vocabulary fits plus int8 segment ids, the format the issue set).

    python benchmarks/data_memory.py --json=docs/results/data_memory.json
    python benchmarks/data_memory.py --scale=0.1   # a tenth of each size, for a quick look

The same script runs against an older checkout (``PYTHONPATH=<old tree>``): it only uses
``pack_split``, ``cache.save`` and ``train_dataset``, which both have.
"""

import argparse
import json
import os
import pathlib
import shutil
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from machine import cpu_description  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# GLUE training sizes, and where this benchmark draws each task's rows from: (task YAML, split, data dir).
GLUE_TRAIN = {
    "mnli": (392_702, "mnli_dev_split", "train", SHARED / "nli"),
    "qqp": (363_846, "mrpc", "train", SHARED / "glue"),
    "qnli": (104_743, "qnli", "dev", SHARED / "glue"),
    "sst2": (67_349, "sst2", "train", SHARED / "glue"),
    "cola": (8_551, "cola", "train", SHARED / "glue"),
    "stsb": (5_749, "stsb", "train", SHARED / "glue"),
    "mrpc": (3_668, "mrpc", "train", SHARED / "glue"),
    "rte": (2_490, "rte", "train", SHARED / "glue"),
    "wnli": (635, "wnli", "train", SHARED / "glue"),
}


def rss_mb():
    with open("/proc/self/statm", encoding="utf-8") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakMemory:
    """The largest resident memory seen while the block runs (a thread samples every 5 ms)."""

    def __enter__(self):
        self.peak, self._stop = rss_mb(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of each GLUE size (1: the real sizes)")
    parser.add_argument("--max_seq_length", type=int, default=512)
    parser.add_argument("--vocab_dir", default=str(SHARED / "pretrained" / "all-MiniLM-L6-v2"))
    parser.add_argument("--work_dir", default=None, help="where the token cache goes (default: a temporary dir)")
    parser.add_argument("--json", default=None, help="write the figures to this file")
    parser.add_argument("--label", default="", help="a name for this run in the output (e.g. before, after)")
    args = parser.parse_args()

    import tensorflow as tf  # noqa: PLC0415

    from mtdnn_tf.data import cache as token_cache  # noqa: PLC0415
    from mtdnn_tf.data.packing import TextPacker  # noqa: PLC0415
    from mtdnn_tf.data.pipeline import pack_split, train_dataset  # noqa: PLC0415
    from mtdnn_tf.data.readers import read_split  # noqa: PLC0415
    from mtdnn_tf.models.backbone import load_tokenizer  # noqa: PLC0415
    from mtdnn_tf.tasks import load_tasks  # noqa: PLC0415

    if not (pathlib.Path(args.vocab_dir) / "vocab.txt").is_file():
        sys.exit(f"error: no vocab.txt in {args.vocab_dir} (--vocab_dir)")
    tokenizer = load_tokenizer(vocab_file=str(pathlib.Path(args.vocab_dir) / "vocab.txt"))
    packer = TextPacker(tokenizer, args.max_seq_length)
    tasks = load_tasks(list(GLUE_TRAIN))
    sources = {name: (load_tasks([source])[source], split, data_dir)
               for name, (_, source, split, data_dir) in GLUE_TRAIN.items()}
    tf.constant(0)  # TensorFlow's runtime is up: the baseline includes it
    baseline = rss_mb()
    print(f"CPU: {cpu_description()}")
    print(f"baseline after importing TensorFlow: {baseline:.0f} MB")

    work = pathlib.Path(args.work_dir or tempfile.mkdtemp(prefix="data_memory_"))
    cache_dir = work / "token_cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    report = {"label": args.label, "cpu": cpu_description(), "scale": args.scale,
              "max_seq_length": args.max_seq_length, "baseline_rss_mb": round(baseline)}
    splits, real_tokens = {}, 0
    started = time.time()
    with PeakMemory() as packing:
        for name, (size, _, _, _) in GLUE_TRAIN.items():
            source_task, split_name, data_dir = sources[name]
            examples = read_split(source_task, split_name, str(data_dir))
            rng = np.random.default_rng(list(GLUE_TRAIN).index(name))
            drawn = examples.subset(rng.integers(0, len(examples), max(int(size * args.scale), 1)).tolist())
            del examples
            splits[name] = pack_split(packer, drawn, task=tasks[name])
            lengths = splits[name].lengths
            real_tokens += int(lengths.sum())
            print(f"  packed {name}: {len(drawn):,} examples, {lengths.mean():.1f} tokens on average "
                  f"({time.time() - started:.0f} s, {rss_mb() - baseline:.0f} MB above baseline)", flush=True)
            del drawn
    report["examples"] = int(sum(len(s) for s in splits.values()))
    report["real_tokens"] = real_tokens
    report["packing_s"] = round(time.time() - started, 1)
    report["packing_peak_rss_mb"] = round(packing.peak - baseline)

    with PeakMemory() as writing:
        for name, split in splits.items():
            token_cache.save(str(cache_dir), f"bench_{name}", split)
    on_disk = sum(f.stat().st_size for f in cache_dir.rglob("*") if f.is_file())
    # Token ids in the smallest type that holds the vocabulary, plus one int8 segment id a token.
    id_bytes = 2 if tokenizer.vocabulary_size() <= 65536 else 4
    report["cache_bytes"] = on_disk
    report["real_token_bytes"] = real_tokens * (id_bytes + 1)
    report["cache_vs_real_tokens"] = round(on_disk / report["real_token_bytes"], 3)
    report["cache_write_peak_rss_mb"] = round(writing.peak - baseline)

    epoch_starts = []
    with PeakMemory() as epochs:
        for epoch in range(2):
            tick = time.time()
            for index, (name, split) in enumerate(splits.items()):
                next(iter(train_dataset(split, 32, 13, epoch, index)))
            epoch_starts.append(round(time.time() - tick, 2))
            print(f"  epoch {epoch + 1} started in {epoch_starts[-1]} s "
                  f"({rss_mb() - baseline:.0f} MB above baseline)", flush=True)
    report["epoch_start_s"] = epoch_starts
    report["epoch_start_peak_rss_mb"] = round(epochs.peak - baseline)
    report["peak_data_rss_mb"] = max(report[k] for k in ("packing_peak_rss_mb", "cache_write_peak_rss_mb",
                                                          "epoch_start_peak_rss_mb"))
    if not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=2))
    if args.json:
        pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
