"""How much each packed length truncates, and what a longer one costs under bucketing.

    python benchmarks/truncation.py --tasks=rte,mrpc,stsb,cola,sst2,wnli --lengths=128,256,512

For each task and split: examples cut and tokens lost at each length (the
encoder's own tokenizer, so the counts are the trainer's). Then the tokens one
training epoch computes at each length, with the trainer's length-sorted,
bucketed batches (batch 32, seed 13, epoch 0), against the real tokens.
Takes about a minute on 2 cores; writes nothing.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def computed_tokens(lengths, max_seq_length, batch_size=32, seed=13):
    """Tokens the trainer computes in one epoch: each batch padded to its bucket length."""
    from mtdnn_tf.data.pipeline import bucket_lengths, epoch_order  # noqa: PLC0415

    capped = np.minimum(lengths, max_seq_length)
    buckets = np.asarray(bucket_lengths(max_seq_length))
    order = epoch_order(capped, batch_size, seed, 0, 0)
    total = 0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        total += len(batch) * int(buckets[np.searchsorted(buckets, capped[batch].max())])
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="rte,mrpc,stsb,cola,sst2,wnli")
    parser.add_argument("--lengths", default="128,256,512")
    parser.add_argument("--data_dir", default="../shared/glue")
    parser.add_argument("--preset", default="../shared/pretrained/all-MiniLM-L6-v2")
    args = parser.parse_args()

    from mtdnn_tf.data.packing import TextPacker, truncation_counts  # noqa: PLC0415
    from mtdnn_tf.data.readers import read_split  # noqa: PLC0415
    from mtdnn_tf.models.backbone import load_tokenizer  # noqa: PLC0415
    from mtdnn_tf.tasks import load_tasks  # noqa: PLC0415

    lengths_to_try = [int(v) for v in args.lengths.split(",")]
    packer = TextPacker(load_tokenizer(args.preset), max(lengths_to_try))
    computed = dict.fromkeys(lengths_to_try, 0)
    real = 0
    print(f"{'task/split':<20}" + "".join(f"{'cut at ' + str(n):>22}" for n in lengths_to_try) + "   longest")
    for name, task in load_tasks(args.tasks.split(",")).items():
        for split in ("train", *task.eval_splits):
            examples = read_split(task, split, args.data_dir)
            _, lengths = packer.pack(examples.text_a, examples.text_b, with_lengths=True)
            cells = []
            for n in lengths_to_try:
                c = truncation_counts(lengths, n)
                cells.append(f"{c['truncated']:>6} ({100 * c['truncated'] / c['examples']:5.2f}%) {c['tokens_cut']:>6}t")
            print(f"{name + '/' + split:<20}" + "".join(f"{cell:>22}" for cell in cells) + f"   {lengths.max():>7}")
            if split == "train":
                real += int(lengths.sum())
                for n in lengths_to_try:
                    computed[n] += computed_tokens(lengths, n)
    print(f"\nOne training epoch, bucketed batches of 32: {real:,} real tokens")
    for n in lengths_to_try:
        print(f"  max_seq_length {n}: {computed[n]:,} computed tokens "
              f"({computed[n] / computed[lengths_to_try[0]]:.3f}x of length {lengths_to_try[0]})")


if __name__ == "__main__":
    main()
