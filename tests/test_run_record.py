"""metrics.json and TensorBoard logs of a run: what is written, at which interval, and what a resume keeps."""

import json

import tensorflow as tf

from mtdnn_tf.training.run_record import RunRecord


def _logged_steps(model_dir, tag):
    steps = []
    for path in sorted((model_dir / "tensorboard").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            steps += [event.step for value in event.summary.value if value.tag == tag]
    return steps


def test_training_losses_are_logged_at_the_configured_interval(tmp_path):
    record = RunRecord(tmp_path / "a", tensorboard_every=4)
    for step in range(1, 13):
        record.training_loss(step, "rte", 0.5)
    record.writer.flush()
    assert _logged_steps(tmp_path / "a", "rte/loss") == [4, 8, 12]
    never = RunRecord(tmp_path / "b", tensorboard_every=0)
    never.training_loss(10, "rte", 0.5)
    never.writer.flush()
    assert _logged_steps(tmp_path / "b", "rte/loss") == []


def _logged_values(model_dir, tag):
    values = []
    for path in sorted((model_dir / "tensorboard").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            values += [(event.step, float(tf.make_ndarray(v.tensor))) for v in event.summary.value if v.tag == tag]
    return values


def test_smarts_regularizer_is_logged_as_its_mean_since_the_last_write_and_per_epoch(tmp_path):
    record = RunRecord(tmp_path, tensorboard_every=2)
    for step, value in zip(range(1, 5), [1.0, 3.0, 5.0, 9.0]):
        record.training_loss(step, "rte", 0.5, smart_regularizer=value)
        record.training_loss(step, "mrpc", 0.5)  # no SMART: nothing logged for it
    record.add_epoch(1, 1.0, None, {})
    record.writer.flush()
    assert _logged_values(tmp_path, "rte/smart_regularizer") == [(2, 2.0), (4, 7.0)]
    assert _logged_values(tmp_path, "mrpc/smart_regularizer") == []
    epoch = json.loads((tmp_path / "metrics.json").read_text())["epochs"][0]
    assert epoch["smart_regularizer"] == {"rte": 4.5}
    record.add_epoch(2, 1.0, None, {})  # an epoch without SMART steps says nothing of it
    assert "smart_regularizer" not in json.loads((tmp_path / "metrics.json").read_text())["epochs"][1]


def test_a_resume_keeps_only_what_its_checkpoint_covers(tmp_path):
    record = RunRecord(tmp_path, extra={"settings": {"x": 1}})
    record.skip({"epoch": 1, "step": 3, "task": "rte"})
    record.add_epoch(1, 10.0, {"rte": {"dev": {"accuracy": 0.6}}}, {"rte": {"dev": {"accuracy": 0.6}}})
    record.skip({"epoch": 2, "step": 5, "task": "rte"})
    record.skip({"epoch": 2, "step": 9, "task": "rte"})
    record.add_epoch(2, 10.0, None, {"rte": {"dev": {"accuracy": 0.6}}})
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["settings"] == {"x": 1} and written["skipped_nonfinite_batches"] == 3
    assert [e["epoch"] for e in written["epochs"]] == [1, 2] and written["epochs"][1]["metrics"] is None

    resumed = RunRecord(tmp_path, write=False)
    resumed.resume(epochs_done=1, steps_done=6)  # the checkpoint: epoch 2, step 6
    assert [e["epoch"] for e in resumed.history] == [1]
    assert [(s["epoch"], s["step"]) for s in resumed.skipped] == [(1, 3), (2, 5)]
    assert resumed.last_metrics() == {"rte": {"dev": {"accuracy": 0.6}}}
    assert resumed.writer is None  # a non-chief process writes nothing


def test_nothing_is_written_before_the_first_record(tmp_path):
    RunRecord(tmp_path / "run")
    assert not (tmp_path / "run").exists()
