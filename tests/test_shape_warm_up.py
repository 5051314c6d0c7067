"""The shape warm-up meets every batch shape of the epoch once and changes nothing the run computes."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from conftest import make_trainer

from mtdnn_tf.data.pipeline import train_dataset
from mtdnn_tf.tasks import load_tasks
from mtdnn_tf.training.shape_warm_up import (
    batch_shape,
    distinct_shape_batches,
)


def test_distinct_shape_batches_keeps_the_first_batch_of_each_shape():
    batches = [({"token_ids": tf.fill([2, n], n)}, {"labels": tf.constant([n, n])}) for n in (8, 16, 8, 24, 16)]
    kept = distinct_shape_batches(batches)
    assert [int(f["token_ids"][0, 0]) for f, _ in kept] == [8, 16, 24]
    assert batch_shape(kept[0][0]) == ((2, 8),)


def _weights(model):
    return [v.numpy().copy() for v in model.weights]


@pytest.mark.slow
def test_the_warm_up_covers_every_shape_and_leaves_training_bit_identical(demo_dir, demo_tokenizer, tmp_path):
    demo_tasks = load_tasks(["demo_sentiment", "demo_similarity"])
    plain = make_trainer(demo_tasks, demo_dir, demo_tokenizer, str(tmp_path / "plain"), epochs=1,
                         warm_up_min_steps=0, sort_window=4)
    warmed = make_trainer(demo_tasks, demo_dir, demo_tokenizer, str(tmp_path / "warmed"), epochs=1,
                          warm_up_min_steps=1, sort_window=4)
    before = _weights(warmed.model)
    optimizer_state = [v.numpy().copy() for v in warmed.optimizer.variables]
    count = warmed.warm_up_shapes(0)
    expected = sum(
        len({batch_shape(f) for f, _ in train_dataset(split, 16, warmed.config.seed, 0, warmed.task_index[name],
                                                      sort_window=4)})
        for name, split in warmed.train_splits.items())
    assert count == expected > len(warmed.train_splits)  # bucketing: more than one shape per task
    assert all(np.array_equal(a, b) for a, b in zip(before, _weights(warmed.model)))
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(optimizer_state, warmed.optimizer.variables))

    assert plain.warms_up_shapes() is False and warmed.warms_up_shapes() is True
    configured = warmed.config
    warmed.config = dataclasses.replace(configured, warm_up_min_steps=10_000)
    assert warmed.warms_up_shapes() is False  # the demo's epoch is shorter
    warmed.config = configured
    plain.train()
    warmed.train()  # warms up once more, inside train(), before its epoch
    assert all(np.array_equal(a, b) for a, b in zip(_weights(plain.model), _weights(warmed.model)))
