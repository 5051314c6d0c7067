import numpy as np
import pytest

from mtdnn_tf.metrics import chance_level, compute_metrics
from mtdnn_tf.tasks import load_tasks


def test_classification_metrics_from_logits():
    tasks = load_tasks(["mrpc", "cola"])
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    labels = np.array([0, 1, 1, 1])
    mrpc = compute_metrics(tasks["mrpc"], logits, labels)
    assert mrpc["accuracy"] == pytest.approx(0.75)
    assert mrpc["f1"] == pytest.approx(0.8)  # precision 1, recall 2/3
    # MCC = (TP*TN - FP*FN) / sqrt(...) = (2*1 - 0*1) / sqrt(2*3*1*2)
    assert compute_metrics(tasks["cola"], logits, labels)["mcc"] == pytest.approx(2 / np.sqrt(12))


def test_regression_metrics_and_constant_prediction():
    stsb = load_tasks(["stsb"])["stsb"]
    labels = np.array([0.0, 1.0, 2.0, 3.0])
    values = compute_metrics(stsb, np.array([0.1, 0.9, 2.5, 2.7]), labels)
    assert 0.95 < values["pearson"] < 1.0 and values["spearman"] == pytest.approx(1.0)
    assert compute_metrics(stsb, np.full(4, 2.0), labels) == {"pearson": 0.0, "spearman": 0.0}


def test_chance_level_is_majority_class():
    rte = load_tasks(["rte"])["rte"]
    assert chance_level(rte, np.array([1, 1, 1, 0]))["accuracy"] == pytest.approx(0.75)
