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


def _ranking_top(scores, labels):
    """Index of the top-scored real candidate of each group."""
    return np.argmax(np.where(labels >= 0, scores, -np.inf), axis=-1)


def ranking_accuracy(scores, labels):
    """Fraction of groups whose top-ranked candidate is a positive."""
    top = _ranking_top(scores, labels)
    return float(np.mean(labels[np.arange(len(labels)), top] == 1))


def ranking_pair_accuracy(scores, labels):
    """Per-pair accuracy when each group's top-ranked candidate is predicted positive and
    the others negative (the paper's QNLI protocol: one answer sentence per question)."""
    predicted = np.zeros_like(labels)
    predicted[np.arange(len(labels)), _ranking_top(scores, labels)] = 1
    valid = labels >= 0
    return float(np.mean(predicted[valid] == labels[valid]))


RANKING_METRICS = {"ranking_accuracy": ranking_accuracy, "accuracy": ranking_pair_accuracy}


def compute_metrics(task, outputs, labels):
    """Metric name -> value for one evaluated split.

    Args:
        task: TaskConfig (its ``metrics`` list is computed).
        outputs: model outputs, logits [n, classes] or scores [n].
        labels: gold labels [n].
    """
    outputs, labels = np.asarray(outputs), np.asarray(labels)
    table = RANKING_METRICS if task.is_ranking else METRICS
    return {name: table[name](outputs, labels) for name in task.metrics}


def chance_level(task, labels):
    """The score of the best constant guess: majority-class accuracy, 0 for correlations;
    for ranking, the expected score of a random ranking."""
    labels = np.asarray(labels)
    if task.is_ranking:  # The expected score of random candidate scores.
        rng = np.random.default_rng(0)
        draws = [compute_metrics(task, rng.random(labels.shape), labels) for _ in range(50)]
        return {name: float(np.mean([d[name] for d in draws])) for name in task.metrics}
    if task.type != "classification":
        return {name: 0.0 for name in task.metrics}
    majority = np.bincount(labels, minlength=task.num_outputs).argmax()
    guess = np.eye(task.num_outputs)[np.full(len(labels), majority)]
    return compute_metrics(task, guess, labels)


def primary_metric(task):
    """The metric a task is compared by: the first its YAML lists."""
    return task.metrics[0]
