"""training/checkpoints: what a checkpoint holds comes back, the newest readable one is chosen, old ones go."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.training.checkpoints import CheckpointStore, checkpoint_prefixes


def _store(directory, keep=2, enabled=True):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dropout(0.5, seed=1)])
    optimizer = keras.optimizers.Adamax(1e-2)
    optimizer.build(model.trainable_variables)
    epoch, step = tf.Variable(0, dtype=tf.int64), tf.Variable(0, dtype=tf.int64)
    return CheckpointStore(directory, model, optimizer, epoch, step, keep=keep, enabled=enabled), model, optimizer


def _step(model, optimizer):
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(tf.ones((4, 3)), training=True))
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))


def test_restore_gives_back_weights_optimizer_position_and_dropout_state(tmp_path):
    store, model, optimizer = _store(tmp_path)
    _step(model, optimizer)
    store.checkpoint.epoch.assign(2)
    store.checkpoint.step_in_epoch.assign(5)
    store.save()
    saved = [v.numpy().copy() for v in model.variables]
    after_save = np.asarray(model(tf.ones((4, 3)), training=True))  # the next dropout mask
    fresh, fresh_model, fresh_optimizer = _store(tmp_path)
    assert fresh.restore() == str(tmp_path / "ckpt-1")
    assert int(fresh.checkpoint.epoch.numpy()) == 2 and int(fresh.checkpoint.step_in_epoch.numpy()) == 5
    assert int(fresh_optimizer.iterations.numpy()) == 1
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(saved, fresh_model.variables))
    np.testing.assert_array_equal(np.asarray(fresh_model(tf.ones((4, 3)), training=True)), after_save)


def test_only_the_newest_are_kept_and_listed_newest_first(tmp_path):
    store, model, optimizer = _store(tmp_path, keep=2)
    for _ in range(3):
        _step(model, optimizer)
        store.save()
    assert [p.rsplit("/", 1)[1] for p in checkpoint_prefixes(tmp_path)] == ["ckpt-3", "ckpt-2"]


def test_a_damaged_newest_checkpoint_falls_back_and_none_readable_is_one_error(tmp_path, capsys):
    store, model, optimizer = _store(tmp_path, keep=3)
    for _ in range(2):
        _step(model, optimizer)
        store.save()
    for data in tmp_path.glob("ckpt-2.data-*"):
        data.write_bytes(b"cut short")
    assert _store(tmp_path)[0].restore() == str(tmp_path / "ckpt-1")
    assert "ckpt-2: cannot restore" in capsys.readouterr().err
    for data in tmp_path.glob("ckpt-1.data-*"):
        data.write_bytes(b"cut short")
    with pytest.raises(UserInputError, match="no readable checkpoint .*use a new --model_dir"):
        _store(tmp_path)[0].restore()


def test_a_disabled_store_writes_nothing_and_an_empty_one_restores_nothing(tmp_path):
    store, model, optimizer = _store(tmp_path / "off", enabled=False)
    _step(model, optimizer)
    store.save()
    assert checkpoint_prefixes(tmp_path / "off") == [] and store.restore() is None
