"""Regression: one real-valued score per example (STS-B), optionally within ``label_range``."""

import math

import numpy as np

from mtdnn_tf import losses, metrics
from mtdnn_tf.task_types.base import TaskType
from mtdnn_tf.task_types.registry import register_task_type


@register_task_type
class RegressionType(TaskType):
    """A score [batch], squared-error loss; serving outputs ``score``.

    Predictions are the scores clipped to the task's ``label_range``.
    """

    name = "regression"
    metrics = {"pearson": metrics.pearson, "spearman": metrics.spearman}
    label_dtype = np.float32
    has_label_range = True

    def validate(self, task, fail):
        super().validate(task, fail)
        if task.labels:
            fail("labels", "a regression task has no label vocabulary (use label_range)")

    def parse_label(self, task, raw):
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"cannot parse label {raw!r} as a number") from None
        if not math.isfinite(value):
            raise ValueError(f"label {raw!r} is not a finite number")
        if task.label_range is not None:
            low, high = task.label_range
            if not low <= value <= high:
                raise ValueError(f"label {value:g} is outside label_range [{low:g}, {high:g}]")
        return value

    def tfds_label(self, task, value, names):
        """A TFDS score as text; -1.0 is no label (how TFDS's GLUE marks its test scores)."""
        value = float(value)
        return None if value == -1.0 else repr(value)

    def per_example_loss(self, task, labels, outputs):
        return losses.squared_error(labels, outputs)

    def prediction_strings(self, task, outputs, split):
        outputs = np.asarray(outputs)
        if task.label_range is not None:
            outputs = np.clip(outputs, *task.label_range)
        return [f"{v:.3f}" for v in outputs]
