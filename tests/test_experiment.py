"""experiment: the pieces of one run, from RunSettings (run() itself: tests/cross_cutting/test_train_cli.py)."""

import pytest

from mtdnn_tf.errors import SettingError, UserInputError
from mtdnn_tf.experiment import RunSettings, load_run_tasks, prepare_demo_data, resolve_settings, results_table
from mtdnn_tf.training.train_config import TrainConfig


@pytest.mark.parametrize("field, value", [("tasks", []), ("max_seq_length", 2), ("head_input", "first"),
                                          ("strategy", "gpu"), ("mixed_precision", "float8"),
                                          ("train_fraction", 0.0), ("data_source", "csv")])
def test_a_setting_out_of_range_names_its_field(field, value):
    with pytest.raises(SettingError) as error:
        RunSettings(**{"tasks": ["rte"], "model_dir": "m", field: value})
    assert error.value.setting == field


def test_head_overrides_apply_and_unknown_tasks_are_refused():
    tasks = load_run_tasks(RunSettings(tasks=["rte", "mrpc"], model_dir="m", head_overrides={"rte": "linear"}))
    assert tasks["rte"].head.kind == "linear" and tasks["mrpc"].head.kind == "san"
    with pytest.raises(UserInputError, match=r"^--heads: 'cola' is not one of the --tasks \(rte\)$"):
        load_run_tasks(RunSettings(tasks=["rte"], model_dir="m", head_overrides={"cola": "linear"}))
    with pytest.raises(UserInputError, match=r"^--task_max_examples: sst2 not among the --tasks \(rte\)$"):
        load_run_tasks(RunSettings(tasks=["rte"], model_dir="m", train=TrainConfig(task_max_examples={"sst2": 5})))


def test_auto_precision_is_the_default_resolved_once_and_said(capsys):
    from mtdnn_tf.hardware import has_bfloat16_units

    settings = resolve_settings(RunSettings(tasks=["rte"], model_dir="m"))
    assert settings.mixed_precision == ("mixed_bfloat16" if has_bfloat16_units() else "float32")
    assert capsys.readouterr().out == f"--mixed_precision=auto: {settings.mixed_precision}\n"
    assert resolve_settings(settings) is settings
    opted_out = RunSettings(tasks=["rte"], model_dir="m", mixed_precision="float32")
    assert resolve_settings(opted_out) is opted_out
    on_tpu = resolve_settings(RunSettings(tasks=["rte"], model_dir="m", strategy="tpu"), verbose=False)
    assert on_tpu.mixed_precision == "mixed_bfloat16"


def test_demo_data_needs_a_data_dir_and_is_written_there(tmp_path):
    with pytest.raises(UserInputError, match="^--generate_demo_data needs --data_dir$"):
        prepare_demo_data(RunSettings(tasks=["demo_pair"], model_dir="m", generate_demo_data=True))
    vocab = prepare_demo_data(RunSettings(tasks=["demo_pair"], model_dir="m", generate_demo_data=True,
                                          data_dir=str(tmp_path)))
    assert vocab == str(tmp_path / "vocab.txt") and (tmp_path / "vocab.txt").is_file()


def test_the_results_table_sets_each_metric_beside_its_chance_level(demo_tasks, demo_tokenizer, demo_dir):
    from conftest import demo_data

    data = demo_data(demo_tasks, demo_dir, demo_tokenizer)
    results = {"demo_similarity": {"dev": {"pearson": 0.5, "spearman": 0.25}}}
    lines = results_table(demo_tasks, results, data.eval).splitlines()
    assert lines[0].split() == ["task", "split", "metric", "value", "chance"]
    assert lines[2].split() == ["demo_similarity", "dev", "pearson", "0.5000", "0.0000"]
    assert lines[3].split()[2:4] == ["spearman", "0.2500"]
