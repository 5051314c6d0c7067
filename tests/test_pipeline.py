"""Batching: Algorithm 1's per-task batches, sorted by length, padded to a few bucket shapes."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_backbone

from mtdnn_tf.data.packing import TextPacker
from mtdnn_tf.data.pipeline import (
    bucket_lengths,
    epoch_order,
    eval_dataset,
    pack_split,
    train_dataset,
    trim_features,
)
from mtdnn_tf.data.readers import read_split


def test_bucket_lengths_are_a_small_fixed_set_ending_at_max_length():
    assert bucket_lengths(128) == [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128]
    assert bucket_lengths(100) == [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 100]
    assert bucket_lengths(10) == [8, 10]


def test_trim_cuts_to_the_smallest_bucket_holding_the_longest_row():
    mask = np.zeros((3, 128), np.int32)
    mask[0, :17] = 1  # longest row: 17 -> bucket 24
    mask[1, :5] = 1
    features = {"token_ids": tf.constant(mask), "segment_ids": tf.constant(mask), "padding_mask": tf.constant(mask)}
    assert trim_features(features)["token_ids"].shape == (3, 24)
    mask[2, :] = 1
    assert trim_features({k: tf.constant(mask) for k in features})["padding_mask"].shape == (3, 128)


@pytest.mark.parametrize("n", [0, 7, 64, 100, 1000])
def test_epoch_order_is_a_seeded_permutation_of_length_sorted_batches(n):
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 128, size=n)
    order = epoch_order(lengths, 16, seed=3, epoch=1, task_index=0, sort_window=4)
    assert sorted(order.tolist()) == list(range(n))
    np.testing.assert_array_equal(order, epoch_order(lengths, 16, seed=3, epoch=1, task_index=0, sort_window=4))
    if n >= 100:
        assert not np.array_equal(order, epoch_order(lengths, 16, seed=3, epoch=2, task_index=0, sort_window=4))
    # Each full batch is a run of one length-sorted window: its lengths are sorted.
    for start in range(0, n - n % 16, 16):
        assert np.all(np.diff(lengths[order[start:start + 16]]) >= 0)


def test_sorting_by_length_cuts_padding_and_keeps_batches_random():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 128, size=3200)

    def padded_tokens(order):
        return sum(int(lengths[order[i:i + 32]].max()) * len(order[i:i + 32]) for i in range(0, len(order), 32))

    plain = padded_tokens(epoch_order(lengths, 32, 0, 0, 0, sort_window=1))
    sorted_ = padded_tokens(epoch_order(lengths, 32, 0, 0, 0, sort_window=32))
    assert sorted_ < 0.7 * plain  # close to the real token count, far below max-padding
    first_batches = [epoch_order(lengths, 32, 0, e, 0)[:32] for e in range(3)]
    assert len({tuple(sorted(b)) for b in first_batches}) == 3  # batch contents change between epochs


@pytest.mark.slow
def test_train_dataset_batches_are_bucket_shapes_and_skip_resumes(demo_tasks, demo_dir, demo_tokenizer):
    task = demo_tasks["demo_pair"]
    split = pack_split(TextPacker(demo_tokenizer, 64), read_split(task, "train", demo_dir), task=task)
    batches = list(train_dataset(split, 16, seed=1, epoch=0, task_index=2))
    assert len(batches) == 25
    assert {b[0]["token_ids"].shape[1] for b in batches} <= set(bucket_lengths(64))
    assert sum(len(b[1]["labels"]) for b in batches) == len(split)
    assert all(float(b[1]["units"]) == len(b[1]["weights"]) == float(b[1]["weights"].numpy().sum()) for b in batches)
    resumed = list(train_dataset(split, 16, seed=1, epoch=0, task_index=2, skip_batches=10))
    assert len(resumed) == 15
    for a, b in zip(batches[10:], resumed):
        np.testing.assert_array_equal(a[1]["labels"].numpy(), b[1]["labels"].numpy())
        np.testing.assert_array_equal(a[0]["token_ids"].numpy(), b[0]["token_ids"].numpy())


@pytest.mark.slow
def test_bucketed_and_unbucketed_evaluation_give_the_same_metrics(demo_tasks, demo_dir, demo_tokenizer):
    from mtdnn_tf.inference.evaluator import Evaluator
    from mtdnn_tf.models.mtdnn_model import build_mtdnn_model

    packer = TextPacker(demo_tokenizer, 64)
    splits = {n: {"dev": pack_split(packer, read_split(t, "dev", demo_dir), task=t)} for n, t in demo_tasks.items()}
    model = build_mtdnn_model(tiny_backbone(demo_tokenizer.vocabulary_size()), demo_tasks, "mean")
    strategy = tf.distribute.get_strategy()
    shapes = {x["token_ids"].shape[1] for x in eval_dataset(splits["demo_pair"]["dev"], 32)}
    assert max(shapes) < 64  # padding really was cut
    bucketed = Evaluator(model, strategy, 32).evaluate(demo_tasks, splits)
    full = Evaluator(model, strategy, 32, bucketed=False).evaluate(demo_tasks, splits)
    for task, by_split in full.items():
        for metric, value in by_split["dev"].items():
            assert bucketed[task]["dev"][metric] == pytest.approx(value, abs=1e-6), (task, metric)
    outputs = Evaluator(model, strategy, 32).predict(demo_tasks["demo_similarity"], splits["demo_similarity"]["dev"])
    reference = Evaluator(model, strategy, 32, bucketed=False).predict(
        demo_tasks["demo_similarity"], splits["demo_similarity"]["dev"])
    np.testing.assert_allclose(outputs, reference, atol=1e-5)


@pytest.mark.slow
def test_more_steps_than_batches_take_fresh_passes_and_skipping_resumes_mid_pass(demo_tasks, demo_dir,
                                                                                demo_tokenizer):
    from mtdnn_tf.data.packing import TextPacker
    from mtdnn_tf.data.pipeline import pack_split, train_dataset
    from mtdnn_tf.data.readers import read_split

    task = demo_tasks["demo_sentiment"]
    examples = read_split(task, "train", demo_dir).subset(range(40))
    split = pack_split(TextPacker(demo_tokenizer, 24), examples, task=task)
    tokens = split.sequences.token_ids
    tokens[split.sequences.offsets[:-1] + 1] = np.arange(40) + 10  # make every row unique, to follow it
    index = {int(row[1]): i for i, row in enumerate(split.dense_features()["token_ids"])}

    def batches(skip, steps):
        stream = train_dataset(split, 16, seed=3, epoch=1, task_index=0, skip_batches=skip, num_steps=steps)
        return [[index[int(token)] for token in f["token_ids"].numpy()[:, 1]] for f, _ in stream]

    full = batches(0, 7)  # 40 examples: passes of 3 batches (two of 16, one of 8); 7 steps = 2 passes + 1 batch
    assert len(full) == 7 and [sorted(len(b) for b in full[i:i + 3]) for i in (0, 3)] == [[8, 16, 16]] * 2
    first_pass, second_pass = sum(full[:3], []), sum(full[3:6], [])
    assert sorted(first_pass) == sorted(second_pass) == list(range(40))  # each pass: every example once
    assert first_pass != second_pass  # reshuffled
    assert batches(0, None) == full[:3]  # the default, one pass: Algorithm 1's stream, unchanged
    for skip in (1, 3, 4, 6, 7):
        assert batches(skip, 7) == full[skip:]
