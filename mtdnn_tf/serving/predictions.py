"""Predictions for whole splits: their strings and metrics (both their task type's)."""


def split_metrics(task, outputs, split):
    """Metrics for a labelled split (its task type's ``evaluate``), else None."""
    return None if split.labels is None else task.task_type.evaluate(task, outputs, split)
