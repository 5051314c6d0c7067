"""Task types own what differs between classification, regression and ranking; new ones plug in."""

import numpy as np
import pytest
import tensorflow as tf

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.task_types import TaskType, get_task_type, task_type_names
from mtdnn_tf.task_types.registry import TASK_TYPES
from mtdnn_tf.tasks import load_task_file, load_tasks

TASK = """name: t
type: {type}
input: pair
metrics: [{metric}]
files:
  dir: T
  splits:
    train: {{file: train.tsv, text_a: a, text_b: b, label: l}}
    dev: {{file: dev.tsv, text_a: a, text_b: b, label: l}}
"""


def test_built_in_types_are_registered_and_unknown_ones_name_the_choices(tmp_path):
    assert task_type_names() == ("classification", "regression", "ranking", "sequence_labeling")
    with pytest.raises(KeyError, match=r"unknown task type 'tagging' \(registered: classification, regression"):
        get_task_type("tagging")
    path = tmp_path / "t.yaml"
    path.write_text(TASK.format(type="tagging", metric="accuracy"))
    with pytest.raises(UserInputError, match=r"t.yaml: field 'type': 'tagging' is not one of \['classification'"):
        load_task_file(path)


def test_each_type_parses_its_labels():
    tasks = load_tasks(["rte", "stsb"])
    rte, stsb = tasks["rte"], tasks["stsb"]
    assert rte.task_type.parse_label(rte, "not_entailment") == 1
    with pytest.raises(ValueError, match=r"label 'maybe' is not one of \['entailment', 'not_entailment'\]"):
        rte.task_type.parse_label(rte, "maybe")
    assert stsb.task_type.parse_label(stsb, "3.8") == pytest.approx(3.8)
    with pytest.raises(ValueError, match=r"label 7 is outside label_range \[0, 5\]"):
        stsb.task_type.parse_label(stsb, "7")
    assert stsb.task_type.label_dtype == np.float32 and rte.task_type.label_dtype == np.int32


def test_serving_and_tflite_outputs_per_type():
    tasks = load_tasks(["rte", "stsb"])
    rte = tasks["rte"]
    served = rte.task_type.serving_outputs(rte, tf.constant([[0.0, 2.0], [3.0, 0.0]]))
    assert served["label"].numpy().tolist() == [b"not_entailment", b"entailment"]
    assert served["label_id"].numpy().tolist() == [1, 0]
    np.testing.assert_allclose(served["probabilities"].numpy().sum(-1), [1.0, 1.0], rtol=1e-6)
    assert set(rte.task_type.tflite_outputs(rte, tf.constant([[0.0, 2.0]]))) == {"probabilities"}
    stsb = tasks["stsb"]
    assert set(stsb.task_type.serving_outputs(stsb, tf.constant([1.5]))) == {"score"}
    assert stsb.task_type.prediction_strings(stsb, np.array([5.7, -1.0, 2.25]), None) == ["5.000", "0.000", "2.250"]


def test_ranking_masks_padding_candidates_and_predicts_the_top_one():
    ranking = load_tasks(["demo_ranking"])["demo_ranking"]
    kind = ranking.task_type
    mask = tf.constant([[[1, 1], [1, 0], [0, 0]]])  # one group: two real candidates, one padding
    masked = kind.mask_padding(tf.constant([[0.5, 2.0, 9.0]]), {"padding_mask": mask})
    assert masked.numpy().tolist() == [[0.5, 2.0, -1e9]]

    class Split:  # two groups over five examples; -1 pads the second group
        ids = ["0", "1", "2", "3", "4"]
        group_matrix = np.array([[0, 1, 2], [3, 4, -1]])

    predicted = kind.prediction_strings(ranking, np.array([[0.1, 0.9, 0.3], [0.7, 0.2, 5.0]]), Split())
    negative, positive = ranking.labels
    assert predicted == [negative, positive, negative, positive, negative]


def test_a_new_task_type_is_one_class(tmp_path, monkeypatch):
    """The README's walk-through: a type registered from outside the package is usable from YAML."""
    monkeypatch.setattr(TASK_TYPES, "_entries", dict(TASK_TYPES._entries))  # undone after the test

    @TASK_TYPES.register
    class BinaryScore(TaskType):
        """A score in [0, 1] trained with binary cross-entropy (e.g. a calibrated relevance)."""

        name = "binary_score"
        metrics = {"brier": lambda scores, labels: float(np.mean((1 / (1 + np.exp(-scores)) - labels) ** 2))}
        label_dtype = np.float32

        def parse_label(self, task, raw):
            value = float(raw)
            if value not in (0.0, 1.0):
                raise ValueError(f"label {raw!r} is not 0 or 1")
            return value

        def per_example_loss(self, task, labels, outputs):
            return tf.nn.sigmoid_cross_entropy_with_logits(tf.cast(labels, tf.float32), tf.cast(outputs, tf.float32))

    path = tmp_path / "t.yaml"
    path.write_text(TASK.format(type="binary_score", metric="brier"))
    task = load_task_file(path)
    assert isinstance(task.task_type, BinaryScore) and task.num_outputs == 1
    assert task.task_type.compute_metrics(task, np.array([0.0]), np.array([1.0])) == {"brier": 0.25}
    from mtdnn_tf.losses import task_loss

    assert float(task_loss(task, np.array([1.0]), tf.constant([0.0]))) == pytest.approx(np.log(2.0), rel=1e-6)
    path.write_text(TASK.format(type="binary_score", metric="accuracy"))
    with pytest.raises(UserInputError, match="'accuracy' is not a binary_score metric"):
        load_task_file(path)


def test_ranking_divergence_soft_targets_and_soft_loss_ignore_padding_candidates():
    ranking = load_tasks(["demo_ranking"])["demo_ranking"]
    kind = ranking.task_type
    features = {"padding_mask": tf.constant([[[1, 1], [1, 0], [0, 0]]])}  # the third candidate is padding
    clean = tf.constant([[0.5, 2.0, 9.0]])
    assert float(kind.divergence(clean, tf.constant([[0.5, 2.0, -7.0]]), features)[0]) == 0.0
    assert float(kind.divergence(clean, tf.constant([[0.5, 1.0, 9.0]]), features)[0]) > 0.0

    class Split:
        group_matrix = np.array([[0, 1, -1]])

    soft = kind.teacher_targets(ranking, [np.array([[0.0, np.log(3.0), 5.0]])], Split())
    np.testing.assert_allclose(soft, [[0.25, 0.75, 0.0]], atol=1e-6)
    loss = kind.soft_loss(ranking, soft, tf.constant([[0.0, np.log(3.0), 123.0]]), features)
    np.testing.assert_allclose(loss.numpy(), [-(0.25 * np.log(0.25) + 0.75 * np.log(0.75))], rtol=1e-5)


@pytest.mark.parametrize("type_, extra, field, message", [
    ("regression", "no_positive: skip\n", "no_positive", "only ranking tasks have candidate groups"),
    ("classification", "labels: [a, b]\nno_positive: skip\n", "no_positive", "only ranking tasks have candidate groups"),
    ("classification", "labels: [a, b]\nlabel_range: [0, 1]\n", "label_range", "only regression tasks have a label range"),
    ("ranking", "labels: [a, b]\nlabel_range: [0, 1]\n", "label_range", "only regression tasks have a label range"),
])
def test_fields_a_type_does_not_have_are_refused(tmp_path, type_, extra, field, message):
    metric = {"regression": "pearson", "classification": "accuracy", "ranking": "accuracy"}[type_]
    text = TASK.format(type=type_, metric=metric) + extra
    if type_ == "ranking":
        text = text.replace("label: l}", "label: l, group: g}")
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(UserInputError, match=rf"t.yaml: field '{field}': {message}$"):
        load_task_file(path)
