"""Metric functions (scikit-learn and scipy) and the per-task entry points.

Which metrics a task may list, and how its outputs become predictions, is
its type's business (``mtdnn_tf.task_types``); the functions here take model
outputs and gold labels as numpy arrays.
"""

import numpy as np
from scipy import stats
from sklearn import metrics as skm


def _labels(outputs):
    return np.argmax(outputs, axis=-1)


def _correlation(fn, predictions, labels):
    if np.std(predictions) == 0 or np.std(labels) == 0:
        return 0.0  # Undefined for constant inputs; a constant predictor has no correlation.
    return float(fn(predictions, labels)[0])


def accuracy(outputs, labels):
    return float(skm.accuracy_score(labels, _labels(outputs)))


def f1(outputs, labels):
    """Binary F1 of the second label (the positive class of MRPC and QQP)."""
    return float(skm.f1_score(labels, _labels(outputs), zero_division=0.0))


def f1_macro(outputs, labels):
    """The unweighted mean of every class's F1 (for tasks with more than two labels)."""
    classes = np.arange(np.asarray(outputs).shape[-1])
    return float(skm.f1_score(labels, _labels(outputs), labels=classes, average="macro", zero_division=0.0))


def mcc(outputs, labels):
    return float(skm.matthews_corrcoef(labels, _labels(outputs)))


def pearson(scores, labels):
    return _correlation(stats.pearsonr, scores, labels)


def spearman(scores, labels):
    return _correlation(stats.spearmanr, scores, labels)


def top_candidates(scores, labels):
    """Index of the top-scored real candidate of each group (labels -1 mark padding)."""
    return np.argmax(np.where(labels >= 0, scores, -np.inf), axis=-1)


def ranking_accuracy(scores, labels):
    """Fraction of groups whose top-ranked candidate is a positive."""
    top = top_candidates(scores, labels)
    return float(np.mean(labels[np.arange(len(labels)), top] == 1))


def ranking_pair_accuracy(scores, labels):
    """Per-pair accuracy when each group's top-ranked candidate is predicted positive and
    the others negative (the paper's QNLI protocol: one answer sentence per question)."""
    predicted = np.zeros_like(labels)
    predicted[np.arange(len(labels)), top_candidates(scores, labels)] = 1
    valid = labels >= 0
    return float(np.mean(predicted[valid] == labels[valid]))


def _entity_scores(predicted, gold):
    """seqeval's strict IOB2 entity scores of tag sequences (lists of tag strings per sentence): an entity
    counts only if its type and exact span match, as CoNLL's evaluation counts it."""
    from seqeval import metrics as seqeval  # noqa: PLC0415 - only sequence labelling needs it
    from seqeval.scheme import IOB2  # noqa: PLC0415

    options = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    return (float(seqeval.precision_score(gold, predicted, **options)),
            float(seqeval.recall_score(gold, predicted, **options)),
            float(seqeval.f1_score(gold, predicted, **options)))


def entity_precision(predicted, gold):
    return _entity_scores(predicted, gold)[0]


def entity_recall(predicted, gold):
    return _entity_scores(predicted, gold)[1]


def entity_f1(predicted, gold):
    """Micro-averaged entity F1 over every entity type (CoNLL-2003's metric)."""
    return _entity_scores(predicted, gold)[2]


def token_accuracy(predicted, gold):
    """The share of words whose predicted tag is the gold tag."""
    pairs = [(p, g) for p_row, g_row in zip(predicted, gold) for p, g in zip(p_row, g_row)]
    return float(np.mean([p == g for p, g in pairs])) if pairs else 0.0


def compute_metrics(task, outputs, labels):
    """Metric name -> value for one evaluated split (the task's ``metrics`` list).

    Args:
        task: TaskConfig.
        outputs: model outputs: logits [n, classes], scores [n], or [groups, size] for ranking.
        labels: gold labels of the same units.
    """
    return task.task_type.compute_metrics(task, outputs, labels)


def chance_level(task, labels):
    """The score of the best constant guess: majority-class accuracy, 0 for correlations;
    for ranking, the expected score of a random ranking."""
    return task.task_type.chance_level(task, np.asarray(labels))


def primary_metric(task):
    """The metric a task is compared by: the first its YAML lists."""
    return task.metrics[0]


def format_metrics_inline(results):
    """``{task: {split: {metric: value}}}`` as one line: ``rte accuracy=0.6643; mrpc/test f1=0.8120``."""
    parts = []
    for task, by_split in results.items():
        for split, values in by_split.items():
            label = task if split == "dev" else f"{task}/{split}"
            parts.append(label + " " + " ".join(f"{k}={v:.4f}" for k, v in values.items()))
    return "; ".join(parts)
