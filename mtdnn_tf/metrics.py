"""GLUE metrics from scikit-learn and scipy, by name (as listed in task YAMLs)."""

import numpy as np
from scipy import stats
from sklearn import metrics as skm


def _labels(outputs):
    return np.argmax(outputs, axis=-1)


def _correlation(fn, predictions, labels):
    if np.std(predictions) == 0 or np.std(labels) == 0:
        return 0.0  # Undefined for constant inputs; a constant predictor has no correlation.
    return float(fn(predictions, labels)[0])


METRICS = {
    "accuracy": lambda out, y: float(skm.accuracy_score(y, _labels(out))),
    "f1": lambda out, y: float(skm.f1_score(y, _labels(out), zero_division=0.0)),
    "mcc": lambda out, y: float(skm.matthews_corrcoef(y, _labels(out))),
    "pearson": lambda out, y: _correlation(stats.pearsonr, out, y),
    "spearman": lambda out, y: _correlation(stats.spearmanr, out, y),
}


def compute_metrics(task, outputs, labels):
    """Metric name -> value for one evaluated split.

    Args:
        task: TaskConfig (its ``metrics`` list is computed).
        outputs: model outputs, logits [n, classes] or scores [n].
        labels: gold labels [n].
    """
    outputs, labels = np.asarray(outputs), np.asarray(labels)
    return {name: METRICS[name](outputs, labels) for name in task.metrics}


def chance_level(task, labels):
    """The score of the best constant guess: majority-class accuracy, 0 for correlations."""
    labels = np.asarray(labels)
    if task.type != "classification":
        return {name: 0.0 for name in task.metrics}
    majority = np.bincount(labels, minlength=task.num_outputs).argmax()
    guess = np.eye(task.num_outputs)[np.full(len(labels), majority)]
    return compute_metrics(task, guess, labels)
