
import pytest

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.tasks import available_tasks, load_task_file, load_tasks

GLUE = ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli"]


def test_every_shipped_task_loads():
    names = available_tasks()
    assert set(GLUE + ["snli", "scitail"]) <= set(names)
    tasks = load_tasks(names)
    assert tasks["stsb"].type == "regression" and tasks["stsb"].num_outputs == 1
    assert tasks["mnli"].eval_splits == ("dev_matched", "dev_mismatched")
    assert tasks["mnli"].head.dropout == 0.3 and tasks["cola"].head.dropout == 0.05
    assert tasks["cola"].metrics == ("mcc",)
    assert tasks["qqp"].metrics == ("accuracy", "f1")
    assert tasks["snli"].files.skip_labels == ("-",)


def _write(tmp_path, name, text):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


BASE = """name: t
type: classification
input: single
labels: [a, b]
metrics: [accuracy]
files:
  dir: T
  splits:
    train: {file: train.tsv, text_a: s, label: l}
    dev: {file: dev.tsv, text_a: s, label: l}
"""


def test_a_new_task_needs_only_yaml(tmp_path):
    task = load_task_file(_write(tmp_path, "t", BASE))
    assert task.labels == ("a", "b") and task.head.kind == "linear" and task.loss_weight == 1.0


@pytest.mark.parametrize(
    "change, message",
    [
        (("metrics: [accuracy]", "metrics: [accuracy]\ncolour: red"), "field 'colour': unknown field"),
        (("metrics: [accuracy]", "metrics: [accuracy]\nloss_weight: heavy"), "field 'loss_weight': expected a number"),
        (("metrics: [accuracy]", "metrics: [accuracy]\nhead: {kind: lstm}"), "field 'head.kind': 'lstm' is not one of"),
        (("metrics: [accuracy]", "metrics: [accuracy]\nhead: {dropuot: 0.1}"), "field 'head.dropuot': unknown field"),
        (("metrics: [accuracy]", "metrics: [pearson]"), "field 'metrics': 'pearson' is not a classification metric"),
        (("type: classification", "type: clasification"), "field 'type'"),
        (("labels: [a, b]", "labels: [a]"), "field 'labels'"),
        (("name: t", "name: other"), "field 'name'"),
        (("text_a: s, label: l}\n    dev", "text_a: s, label: l, extra: 1}\n    dev"), "field 'files.splits.train.extra'"),
        (("input: single", "input: pair"), "field 'files.splits.train.text_b'"),
        (("labels: [a, b]\n", ""), "field 'labels'"),
        (("  dir: T\n", ""), "field 'files.dir': required field is missing"),
        (("metrics: [accuracy]", "metrics: [accuracy]\ndistill_weight: 1.5"),
         "field 'distill_weight': must be in [0, 1], got 1.5"),
    ],
)
def test_bad_yaml_names_file_and_field(tmp_path, change, message):
    path = _write(tmp_path, "t", BASE.replace(*change, 1))
    with pytest.raises(UserInputError) as error:
        load_task_file(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_invalid_yaml_names_line(tmp_path):
    path = _write(tmp_path, "t", BASE + "  bad: [unclosed\n")
    with pytest.raises(UserInputError, match=rf"{path}:\d+: invalid YAML"):
        load_task_file(path)


def test_unknown_and_repeated_task_names():
    with pytest.raises(UserInputError, match="unknown task 'glue_xyz'.*known: .*cola"):
        load_tasks(["glue_xyz"])
    with pytest.raises(UserInputError, match="'rte' is listed twice"):
        load_tasks(["rte", "rte"])


def test_task_dir_comes_before_the_built_in_tasks(tmp_path):
    _write(tmp_path, "t", BASE)  # a new task
    _write(tmp_path, "rte", BASE.replace("name: t", "name: rte"))  # replaces the built-in RTE
    tasks = load_tasks(["mrpc", "t", "rte"], tmp_path)
    assert tasks["mrpc"].path.endswith("builtin/mrpc.yaml")  # not in task_dir: the built-in one
    assert tasks["t"].path == str(tmp_path / "t.yaml")
    assert tasks["rte"].path == str(tmp_path / "rte.yaml") and tasks["rte"].input == "single"
    assert {"t", "rte", "mrpc", "cola"} <= set(available_tasks(tmp_path))
    with pytest.raises(UserInputError, match=r"^--task_dir: .*/missing: task directory does not exist$"):
        load_tasks(["mrpc"], tmp_path / "missing")
    with pytest.raises(UserInputError, match=r"^unknown task 'nope': no nope.yaml in .* or the built-in tasks"):
        load_tasks(["nope"], tmp_path)


def test_binary_f1_on_more_than_two_labels_is_refused_when_the_yaml_loads(tmp_path):
    three = BASE.replace("labels: [a, b]", "labels: [a, b, c]")
    path = _write(tmp_path, "t", three.replace("metrics: [accuracy]", "metrics: [accuracy, f1]"))
    with pytest.raises(UserInputError, match=r"t\.yaml.*metrics.*'f1' is binary F1.*can list 'f1_macro'"):
        load_task_file(path)
    macro = load_task_file(_write(tmp_path, "t", three.replace("metrics: [accuracy]", "metrics: [accuracy, f1_macro]")))
    assert macro.metrics == ("accuracy", "f1_macro")


def test_f1_macro_is_sklearns_macro_average():
    import numpy as np
    from sklearn.metrics import f1_score

    from mtdnn_tf.metrics import f1_macro

    labels = np.array([0, 1, 2, 2, 1, 0, 2])
    outputs = np.eye(3)[[0, 2, 2, 1, 1, 0, 2]]
    assert f1_macro(outputs, labels) == pytest.approx(f1_score(labels, outputs.argmax(-1), average="macro"))
