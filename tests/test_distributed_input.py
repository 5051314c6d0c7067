"""Real-length storage, per-replica shards of each batch, the global-batch loss, padded last batches, loops."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import make_trainer

from mtdnn_tf.data.packing import TextPacker
from mtdnn_tf.data.pipeline import (
    InputShard,
    bucket_lengths,
    pack_split,
    replica_shards,
    train_batches,
    train_dataset,
)
from mtdnn_tf.data.readers import read_split
from mtdnn_tf.data.sequences import PackedSequences
from mtdnn_tf.losses import weighted_mean


def test_packed_sequences_keep_real_tokens_only_and_pad_on_request(tmp_path):
    padded = {"token_ids": np.array([[2, 5, 6, 3, 0], [2, 7, 3, 0, 0], [2, 3, 0, 0, 0]]),
              "segment_ids": np.array([[0, 0, 1, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]),
              "padding_mask": np.array([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0]])}
    store = PackedSequences.from_padded(padded, vocabulary_size=30522)
    assert store.token_ids.dtype == np.uint16 and store.segment_ids.dtype == np.int8
    assert store.lengths.tolist() == [4, 3, 2] and len(store.token_ids) == 9
    again = store.padded([0, 1, 2], 5)
    for name, values in padded.items():
        np.testing.assert_array_equal(again[name], values)
        assert again[name].dtype == np.int32
    assert store.padded([2, -1], 3)["padding_mask"].tolist() == [[1, 1, 0], [0, 0, 0]]
    both = PackedSequences.concatenate([store, store])
    np.testing.assert_array_equal(both.padded([4], 4)["token_ids"], [[2, 7, 3, 0]])
    assert PackedSequences.from_padded(padded, vocabulary_size=70000).token_ids.dtype == np.int32
    store.save(tmp_path)
    loaded = PackedSequences.load(tmp_path)
    assert isinstance(loaded.token_ids, np.memmap)
    np.testing.assert_array_equal(loaded.padded([1, 0], 5)["token_ids"], store.padded([1, 0], 5)["token_ids"])


def test_a_packed_split_holds_its_real_tokens_not_padding(demo_tasks, demo_dir, demo_tokenizer):
    task = demo_tasks["demo_pair"]
    examples = read_split(task, "train", demo_dir)
    split = pack_split(TextPacker(demo_tokenizer, 128), examples, task=task)
    dense = TextPacker(demo_tokenizer, 128).pack(examples.text_a, examples.text_b)
    np.testing.assert_array_equal(split.dense_features()["token_ids"],
                                  dense["token_ids"][:, :split.lengths.max()])
    real_tokens = int(dense["padding_mask"].sum())
    assert split.sequences.nbytes <= 3 * real_tokens + 8 * (len(split) + 1)  # 2 B + 1 B a token, an offset a row
    assert split.sequences.nbytes < sum(v.nbytes for v in dense.values()) / 20


@pytest.mark.parametrize("last", range(1, 8))
def test_replica_losses_add_up_to_the_global_batch_mean_with_empty_replicas(last):
    losses = np.random.default_rng(last).random(16 + last).astype(np.float32)
    for batch in (losses[:16], losses[16:]):  # a full batch, then the short last one
        shards = replica_shards(np.arange(len(batch)), 8)
        assert sorted(np.concatenate(shards).tolist()) == list(range(len(batch)))
        if len(batch) < 8:
            assert sum(len(s) == 0 for s in shards) == 8 - len(batch)
        units = np.float32(len(batch))
        parts = [float(weighted_mean(tf.constant(batch[s]), tf.ones([len(s)]), units)) for s in shards]
        assert all(np.isfinite(parts))
        assert sum(parts) == pytest.approx(float(batch.mean()), rel=1e-6)


@pytest.mark.slow
def test_each_input_pipeline_makes_only_its_replicas_shards(demo_tasks, demo_dir, demo_tokenizer):
    task = demo_tasks["demo_sentiment"]
    split = pack_split(TextPacker(demo_tokenizer, 24), read_split(task, "train", demo_dir).subset(range(37)), task=task)
    split.labels = np.arange(37, dtype=np.int32)  # every example traceable by its label
    batches = train_batches(split, 16, seed=1, epoch=0, task_index=0)
    made = {0: [], 1: []}
    for pipeline in (0, 1):  # two workers of two replicas each
        shard = InputShard(num_replicas=4, first_replica=2 * pipeline, local_replicas=2)
        elements = list(train_dataset(split, 16, seed=1, epoch=0, task_index=0, shard=shard))
        assert len(elements) == 2 * len(batches)  # one element per local replica and batch
        for b, units in enumerate(batches):
            shards = replica_shards(units, 4)
            length = elements[2 * b][0]["token_ids"].shape[1]
            for local in (0, 1):
                features, targets = elements[2 * b + local]
                rows = shards[2 * pipeline + local]
                np.testing.assert_array_equal(targets["labels"], rows)
                for name, values in split.unit_features(rows, length).items():
                    np.testing.assert_array_equal(features[name], values)
                assert float(targets["units"]) == len(units)  # the global batch's weight, on every replica
                made[pipeline] += rows.tolist()
    assert not set(made[0]) & set(made[1])  # no example made by both workers
    assert sorted(made[0] + made[1]) == list(range(37))  # and every example by one of them


def test_padded_last_batch_trains_each_example_once_in_one_shape_per_bucket(demo_tasks, demo_dir, demo_tokenizer):
    task = demo_tasks["demo_similarity"]
    split = pack_split(TextPacker(demo_tokenizer, 24), read_split(task, "train", demo_dir).subset(range(45)), task=task)
    # Make every example traceable by its label.
    split.labels = np.arange(45, dtype=np.float32)
    plain = list(train_dataset(split, 16, seed=2, epoch=0, task_index=1))
    padded = list(train_dataset(split, 16, seed=2, epoch=0, task_index=1, pad_last_batch=True))
    assert [len(t["labels"]) for _, t in plain] == [16, 16, 13]
    assert [len(t["labels"]) for _, t in padded] == [16, 16, 16]
    trained = [label for _, t in padded for label, w in zip(t["labels"].numpy(), t["weights"].numpy()) if w > 0]
    assert sorted(trained) == list(range(45))  # every example once, with weight 1
    assert [float(t["units"]) for _, t in padded] == [16, 16, 13]  # the padding rows do not count
    shapes = {tuple(f["token_ids"].shape) for f, _ in padded}
    assert all(rows == 16 and length in bucket_lengths(24) for rows, length in shapes)
    assert len(shapes) == len({length for _, length in shapes})  # one batch shape per bucket length


@pytest.mark.slow
def test_steps_per_loop_gives_the_weights_of_one_step_per_call(demo_tasks, demo_dir, demo_tokenizer, tmp_path):
    weights = {}
    for steps in (1, 4):
        trainer = make_trainer(demo_tasks, demo_dir, demo_tokenizer, tmp_path / str(steps), epochs=1,
                               steps_per_loop=steps, checkpoint_every=10, max_examples_per_task=160)
        trainer.train()
        weights[steps] = [v.numpy() for v in trainer.model.trainable_variables]
        assert int(trainer.optimizer.iterations.numpy()) == 30  # 3 tasks x 160 examples / 16
    for a, b in zip(weights[1], weights[4]):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # Checkpoints fall on loop boundaries: the first after step 10 is at step 12 with 4 steps a call.
    saved = sorted(int(p.stem.split("-")[1]) for p in (tmp_path / "4" / "checkpoints").glob("ckpt-*.index"))
    assert saved == [12, 20, 30]  # keep_checkpoints=3: steps 12 and 20 (loop boundaries), then the epoch's end
