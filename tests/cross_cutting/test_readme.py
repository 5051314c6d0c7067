"""The README's and the guides' examples and tables say what the code does."""

import re

import pytest
from conftest import REPO

GUIDES = ("training", "tasks", "serving", "distribution", "speed", "reliability", "results")
# The README and its guides under docs/, read as one text: a check finds its example wherever it lives.
README = "\n".join((REPO / path).read_text(encoding="utf-8")
                   for path in ["README.md", *(f"docs/{guide}.md" for guide in GUIDES)])


def test_the_readme_links_every_guide_and_stays_short():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for guide in GUIDES:
        assert f"](docs/{guide}.md)" in readme, guide
    assert len(readme.splitlines()) <= 230


def test_the_unknown_field_example_is_the_error_the_loader_gives(tmp_path):
    from mtdnn_tf.errors import UserInputError
    from mtdnn_tf.tasks import load_task_file

    example = re.search(r"`((configs/tasks/(\w+)\.yaml): field '([\w.]+)': unknown field \(known: [^)]*\))`", README)
    assert example, "the README's unknown-field example is gone"
    message, path, name, field = example.groups()
    typo_section, typo_key = field.split(".")
    text = (REPO / path).read_text(encoding="utf-8")
    real_key = {"dropuot": "dropout"}[typo_key]  # the README's typo and the field it stands for
    assert f"{real_key}:" in text
    copy = tmp_path / path
    copy.parent.mkdir(parents=True)
    copy.write_text(text.replace(f"{real_key}:", f"{typo_key}:", 1), encoding="utf-8")
    with pytest.raises(UserInputError) as error:
        load_task_file(copy)
    assert str(error.value) == message.replace(path, str(copy))


def _documented_defaults():
    """(flag, documented default) for every row of the README's flag table."""
    # Rows whose first cell is only flag names (`--a`, `--b`): the flag table, not other tables.
    for flags_cell, defaults_cell in re.findall(r"^\| ((?:`--\w+`(?:, )?)+) \|\s*([^|]*?)\s*\|", README, re.M):
        flags = re.findall(r"`--(\w+)`", flags_cell)
        defaults = [d.strip().strip("`") for d in defaults_cell.split(",")] if len(flags) > 1 else [
            defaults_cell.strip().strip("`")]
        assert len(flags) == len(defaults), flags_cell
        yield from zip(flags, defaults)


def _same(documented, actual):
    if documented in ("", "(required)"):
        return actual in (None, [], "")
    if documented in ("off", "on"):
        return actual is (documented == "on")
    if documented == "none":
        return actual is None
    try:
        return float(documented) == float(actual)
    except (TypeError, ValueError):
        return documented == str(actual)


def test_the_flag_table_names_real_flags_with_their_defaults():
    from absl import flags

    import mtdnn_tf.train  # noqa: F401 - defines the flags

    rows = list(_documented_defaults())
    assert len(rows) >= 20
    for flag, documented in rows:
        assert flag in flags.FLAGS, f"--{flag} is in the README but not a flag"
        assert _same(documented, flags.FLAGS[flag].default), (flag, documented, flags.FLAGS[flag].default)


@pytest.mark.slow
def test_the_task_type_walkthrough_runs_and_predicts(monkeypatch, tmp_path):
    """The Architecture section's example class registers, computes what it says, trains and predicts."""
    import numpy as np

    from mtdnn_tf.task_types import get_task_type
    from mtdnn_tf.task_types.registry import TASK_TYPES

    section = README.split("## Adding a task type\n")[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.setattr(TASK_TYPES, "_entries", dict(TASK_TYPES._entries))  # undone after the test
    exec(compile(code, "README.md", "exec"), {})
    kind = get_task_type("binary_score")
    assert kind.parse_label(None, "1") == 1.0
    with pytest.raises(ValueError, match="is not 0 or 1"):
        kind.parse_label(None, "2")
    assert float(kind.per_example_loss(None, np.array([1.0]), np.array([0.0]))[0]) == pytest.approx(np.log(2.0))
    # What mtdnn_tf.predict writes for it: the default, one score per example (it raised before).
    from types import SimpleNamespace

    assert kind.prediction_strings(None, np.array([0.25, -1.5]), SimpleNamespace(ids=["a", "b"])) == ["0.25", "-1.5"]
    _train_and_predict_with_the_readme_type(tmp_path, np)


def _train_and_predict_with_the_readme_type(tmp_path, np):
    """A task of the README's type trains, and ``mtdnn_tf.predict`` writes its predictions and metrics."""
    from mtdnn_tf.experiment import RunSettings, run
    from mtdnn_tf.serving.predict_run import predict_splits
    from mtdnn_tf.training.train_config import TrainConfig

    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "scored.yaml").write_text(
        "name: scored\ntype: binary_score\ninput: pair\nmetrics: [brier]\nfiles:\n  dir: SCORED\n  splits:\n"
        "    train: {file: train.tsv, text_a: a, text_b: b, label: l}\n"
        "    dev: {file: dev.tsv, text_a: a, text_b: b, label: l}\n")
    data = tmp_path / "data"
    (data / "SCORED").mkdir(parents=True)
    rows = "a\tb\tl\n" + "".join(f"good film {i}\tgood film\t1\nbad film {i}\tgood film\t0\n" for i in range(8))
    for split in ("train", "dev"):
        (data / "SCORED" / f"{split}.tsv").write_text(rows)
    model_dir = tmp_path / "run"
    run(RunSettings(tasks=["scored"], model_dir=str(model_dir), data_dir=str(data), task_dir=str(tmp_path / "tasks"),
                    generate_demo_data=True, random_backbone="tiny",
                    train=TrainConfig(epochs=1, batch_size=8, verbose=0)), verbose=False)
    results = predict_splits(str(model_dir), ["scored"], "dev", str(data), output_dir=tmp_path / "out", verbose=False)
    assert set(results["scored"]) == {"brier"} and 0 <= results["scored"]["brier"] <= 1
    lines = (tmp_path / "out" / "scored.dev.tsv").read_text().splitlines()
    assert lines[0] == "index\tprediction" and len(lines) == 17
    assert all(np.isfinite(float(line.split("\t")[1])) for line in lines[1:])  # the raw score, by default


def test_ci_runs_the_readmes_test_command_in_a_fresh_virtual_environment():
    import subprocess

    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    documented = re.search(r"^\(b\).*?```\n(.*?)\n```", README, re.S | re.M).group(1)
    picked = subprocess.run(["bash", "-c", re.search(r"^command=\$\((.*)\)$", script, re.M).group(1)], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.strip()
    assert picked == documented  # the command CI evals is the README's (b), word for word
    assert re.search(r'-m venv "\$venv"', script) and '. "$venv/bin/activate"' in script
    assert script.index('. "$venv/bin/activate"') < script.index('eval "$command"')  # run inside the venv
