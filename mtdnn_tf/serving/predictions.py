"""Predictions for whole splits and GLUE submission files."""

import pathlib

import numpy as np

from mtdnn_tf.metrics import compute_metrics


def prediction_strings(task, outputs, split):
    """One prediction string per example, in file order.

    Classification: the label string; regression: the score, clipped to the
    task's ``label_range``; ranking: each group's top-ranked candidate gets the
    positive label, the others the negative one.
    """
    outputs = np.asarray(outputs)
    if task.type == "classification":
        return [task.labels[i] for i in outputs.argmax(-1)]
    if task.type == "regression":
        if task.label_range is not None:
            outputs = np.clip(outputs, *task.label_range)
        return [f"{v:.3f}" for v in outputs]
    predicted = [task.labels[0]] * len(split.ids)
    matrix = split.group_matrix
    masked = np.where(matrix >= 0, outputs, -np.inf)
    for row, top in enumerate(masked.argmax(-1)):
        predicted[matrix[row, top]] = task.labels[1]
    return predicted


def write_submission(path, ids, predictions):
    """A GLUE submission file: header ``index<TAB>prediction``, one row per example."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["index\tprediction"] + [f"{i}\t{p}" for i, p in zip(ids, predictions)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def split_metrics(task, outputs, split):
    """Metrics for a labelled split, else None."""
    return None if split.labels is None else compute_metrics(task, outputs, split.labels)
