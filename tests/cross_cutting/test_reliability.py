"""Numerical safety and checkpoint safety: non-finite steps, damaged checkpoints, exact resume."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO
from conftest import make_trainer as _trainer

from mtdnn_tf.errors import NonFiniteLossError, UserInputError
from mtdnn_tf.training import train_step as train_step_module


def _nan_on_call(monkeypatch, bad_call):
    """Makes the training loss NaN on the ``bad_call``-th step (counted in the graph)."""
    calls = tf.Variable(0, dtype=tf.int64)
    real = train_step_module.task_loss

    def poisoned(*args, **kwargs):
        loss = real(*args, **kwargs)
        calls.assign_add(1)
        return tf.where(tf.equal(calls, bad_call), tf.constant(float("nan")), loss)

    monkeypatch.setattr(train_step_module, "task_loss", poisoned)


@pytest.mark.slow
def test_non_finite_loss_stops_without_applying_the_update(demo_tasks, demo_dir, demo_tokenizer, tmp_path,
                                                          monkeypatch):
    _nan_on_call(monkeypatch, 4)
    tasks = {"demo_sentiment": demo_tasks["demo_sentiment"]}
    trainer = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path, epochs=1)
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss nan at epoch 1, step 4 \(task 'demo_sentiment', "
                                                r"its batch 4, examples 49-64"):
        trainer.train()
    # Three updates were applied, the fourth was not: weights are finite, no metrics were written.
    assert int(trainer.optimizer.iterations.numpy()) == 3
    assert all(np.isfinite(v.numpy()).all() for v in trainer.model.trainable_variables)
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.slow
def test_skip_nonfinite_counts_and_reports_skipped_batches(demo_tasks, demo_dir, demo_tokenizer, tmp_path,
                                                           monkeypatch, capsys):
    _nan_on_call(monkeypatch, 4)
    tasks = {"demo_sentiment": demo_tasks["demo_sentiment"]}
    trainer = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path, epochs=1, skip_nonfinite=True)
    trainer.train()
    assert int(trainer.optimizer.iterations.numpy()) == 25 - 1
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["skipped_nonfinite_batches"] == 1
    assert record["skipped_nonfinite"] == [{"epoch": 1, "step": 4, "task": "demo_sentiment", "batch": 4,
                                            "what": "loss nan"}]
    assert "warning: skipped the batch: non-finite loss nan at epoch 1, step 4" in capsys.readouterr().err


@pytest.mark.slow
def test_damaged_latest_checkpoint_falls_back_to_the_previous_one(demo_tasks, demo_dir, demo_tokenizer, tmp_path,
                                                                  capsys):
    tasks = {"demo_sentiment": demo_tasks["demo_sentiment"]}
    first = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path, epochs=2, checkpoint_every=10)
    first.train()
    checkpoints = sorted((tmp_path / "checkpoints").glob("ckpt-*.index"), key=lambda p: int(p.stem.split("-")[1]))
    assert [p.stem for p in checkpoints] == ["ckpt-30", "ckpt-40", "ckpt-50"]  # keep_checkpoints=3
    newest = checkpoints[-1]
    newest.write_bytes(newest.read_bytes()[: len(newest.read_bytes()) // 2])  # a write cut short
    second = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path, epochs=2)
    restored = second.restore()
    assert restored == str(checkpoints[-2].with_suffix(""))
    assert f"warning: {newest.with_suffix('')}: cannot restore" in capsys.readouterr().err
    assert int(second.optimizer.iterations.numpy()) == int(checkpoints[-2].stem.split("-")[1])
    # Every checkpoint damaged: a clear error, not a silent restart from scratch.
    for index in (tmp_path / "checkpoints").glob("ckpt-*.index"):
        index.write_bytes(b"garbage")
    third = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path, epochs=2)
    with pytest.raises(UserInputError, match=r"ckpt-50: no readable checkpoint \(tried ckpt-50, ckpt-40, ckpt-30\)"):
        third.restore()


RUN = ["--flagfile=configs/demo.flags", "--tasks=demo_sentiment,demo_pair", "--epochs=2", "--checkpoint_every=5",
       "--verbose=0", "--max_seq_length=24"]


KILL_AT_STEP = "MTDNN_TF_TEST_KILL_AT_STEP"  # documented in training/trainer.py


def _train(data, model_dir, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "mtdnn_tf.train", *RUN, f"--data_dir={data}",
                             f"--model_dir={model_dir}"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def _final_weights(model_dir):
    import keras

    import mtdnn_tf.run_directory  # noqa: F401 - registers the layers

    model = keras.saving.load_model(model_dir / "model.keras")
    return [v.numpy() for v in model.weights]


def _latest_step(state):
    """The step number of the newest checkpoint named in CheckpointManager's state file."""
    try:
        first = state.read_text().splitlines()[0]
    except (OSError, IndexError):
        return 0
    return int(first.rsplit("ckpt-", 1)[1].rstrip('"')) if "ckpt-" in first else 0


@pytest.mark.slow
def test_sigkill_mid_epoch_then_rerun_gives_the_uninterrupted_result(tmp_path):
    from mtdnn_tf.data.synthetic import write_demo_suite

    data = tmp_path / "data"
    write_demo_suite(data, train_size=480, dev_size=48)  # 15 + 15 steps an epoch; the demo flags reuse it
    clean = _train(data, tmp_path / "clean")
    out, err = clean.communicate(timeout=600)
    assert clean.returncode == 0, err[-3000:]

    killed_dir = tmp_path / "killed"
    # The trainer's test hook: SIGKILL itself right after optimizer step 12, two steps past the mid-epoch
    # checkpoint of step 10 (every 5 steps; an epoch is 30 steps): an exact point, not a race.
    victim = _train(data, killed_dir, env={**os.environ, KILL_AT_STEP: "12"})
    victim.communicate(timeout=600)
    assert victim.returncode == -signal.SIGKILL
    assert _latest_step(killed_dir / "checkpoints" / "checkpoint") == 10
    assert not (killed_dir / "model.keras").exists()
    resumed = _train(data, killed_dir)
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]

    clean_record = json.loads((tmp_path / "clean" / "metrics.json").read_text())
    resumed_record = json.loads((killed_dir / "metrics.json").read_text())
    assert [e["epoch"] for e in resumed_record["epochs"]] == [1, 2]
    # Same seed, same batches, same dropout masks: equal up to float32 rounding.
    for task, by_split in clean_record["final"].items():
        for metric, value in by_split["dev"].items():
            assert resumed_record["final"][task]["dev"][metric] == pytest.approx(value, abs=1e-6)
    for a, b in zip(_final_weights(tmp_path / "clean"), _final_weights(killed_dir)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


class _Killed(Exception):
    """Stands for the process dying at an exact point."""


@pytest.mark.slow
@pytest.mark.parametrize("point", ["record", "checkpoint"])
def test_a_kill_between_the_epochs_record_and_checkpoint_loses_nothing(point, demo_tasks, demo_dir, demo_tokenizer,
                                                                       tmp_path, monkeypatch):
    from mtdnn_tf.training.checkpoints import CheckpointStore
    from mtdnn_tf.training.run_record import RunRecord

    tasks = {"demo_sentiment": demo_tasks["demo_sentiment"]}
    short = {"max_examples_per_task": 64}
    clean = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path / "clean", epochs=2, **short).train()
    # Die on epoch 1's end: inside writing its record, or inside writing its checkpoint.
    target, name = (RunRecord, "add_epoch") if point == "record" else (CheckpointStore, "save")
    real = getattr(target, name)

    def dying(self, *args, **kwargs):
        if point == "checkpoint" or args[0] == 1:
            raise _Killed
        return real(self, *args, **kwargs)

    monkeypatch.setattr(target, name, dying)
    with pytest.raises(_Killed):
        _trainer(tasks, demo_dir, demo_tokenizer, tmp_path / "run", epochs=2, **short).train()
    monkeypatch.setattr(target, name, real)
    final = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path / "run", epochs=2, **short).train()
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [e["epoch"] for e in record["epochs"]] == [1, 2]  # epoch 1's metrics were not lost
    assert record["final"] == final
    for task, by_split in clean.items():
        for metric, value in by_split["dev"].items():
            assert final[task]["dev"][metric] == pytest.approx(value, abs=1e-6)
