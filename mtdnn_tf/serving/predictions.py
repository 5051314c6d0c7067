"""Predictions for whole splits and GLUE submission files."""

import pathlib

from mtdnn_tf.metrics import compute_metrics


def prediction_strings(task, outputs, split):
    """One prediction string per example, in file order (its task type's ``prediction_strings``):
    classification, the label; regression, the score clipped to ``label_range``; ranking,
    the positive label for each group's top-ranked candidate and the negative one for the others.
    """
    return task.task_type.prediction_strings(task, outputs, split)


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
