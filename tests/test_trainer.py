import json

import numpy as np

from conftest import make_trainer as _trainer


def test_multi_task_training_learns_and_records_metrics(demo_tasks, demo_dir, demo_tokenizer, tmp_path):
    tasks = {n: demo_tasks[n] for n in ("demo_sentiment", "demo_similarity")}
    trainer = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path, epochs=4)
    results = trainer.train()
    assert results["demo_sentiment"]["dev"]["accuracy"] > 0.8
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert [e["epoch"] for e in record["epochs"]] == [1, 2, 3, 4]
    assert record["final"] == results
    # Every batch of every task was used once per epoch: 400 examples / 16 = 25 batches each.
    assert int(trainer.optimizer.iterations.numpy()) == 4 * 2 * 25
    assert (tmp_path / "tensorboard").is_dir()


def test_rerun_resumes_from_latest_checkpoint(demo_tasks, demo_dir, demo_tokenizer, tmp_path):
    tasks = {"demo_sentiment": demo_tasks["demo_sentiment"]}
    first = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path, epochs=1)
    first.train()
    saved = [v.numpy().copy() for v in first.model.trainable_variables]
    second = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path, epochs=2, seed=5)
    # A fresh model differs until restored.
    assert not all(np.allclose(a, b.numpy()) for a, b in zip(saved, second.model.trainable_variables))
    assert second.restore() is not None
    for a, b in zip(saved, second.model.trainable_variables):
        np.testing.assert_array_equal(a, b.numpy())
    assert int(second.epoch.numpy()) == 1 and int(second.optimizer.iterations.numpy()) == 25
    second.train()
    assert int(second.optimizer.iterations.numpy()) == 50
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert [e["epoch"] for e in record["epochs"]] == [1, 2]
