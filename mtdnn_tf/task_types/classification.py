"""Classification: one label from the task's label vocabulary per example (CoLA, SST-2, MNLI, ...)."""

import numpy as np
import tensorflow as tf

from mtdnn_tf import losses, metrics
from mtdnn_tf.data.sampling import fraction_size, sample_indices
from mtdnn_tf.task_types.base import TaskType, softmax
from mtdnn_tf.task_types.registry import register_task_type


@register_task_type
class ClassificationType(TaskType):
    """Logits [batch, classes] (SAN heads: log-probabilities), cross-entropy loss.

    Serving outputs ``probabilities`` [batch, classes] in label order,
    ``label`` (string) and ``label_id``; predictions are label strings.
    """

    name = "classification"
    metrics = {"accuracy": metrics.accuracy, "f1": metrics.f1, "f1_macro": metrics.f1_macro, "mcc": metrics.mcc}

    def validate(self, task, fail):
        super().validate(task, fail)
        if len(task.labels) < 2:
            fail("labels", "a classification task needs at least two labels")
        if "f1" in task.metrics and len(task.labels) > 2:
            fail("metrics", f"'f1' is binary F1 (of the label {task.labels[1]!r}); a task with {len(task.labels)}"
                            " labels can list 'f1_macro' (the mean of every class's F1)")

    def num_outputs(self, task):
        return len(task.labels)

    def sample_fraction(self, task, examples, fraction, seed):
        """Per class (see ``sample_indices``): even a handful of examples holds every class."""
        size = fraction_size(len(examples), fraction, self.num_outputs(task))
        return examples.subset(sample_indices(examples.labels, size, seed, stratify=True))

    def per_example_loss(self, task, labels, outputs):
        return losses.cross_entropy(labels, outputs)

    def divergence(self, clean, perturbed, features):
        """Symmetric KL between the class distributions (logits or SAN log-probabilities)."""
        return losses.symmetric_kl(clean, perturbed)

    def teacher_targets(self, task, teacher_outputs, split):
        """The teachers' class probabilities, averaged."""
        return np.mean([softmax(np.asarray(o, np.float64)) for o in teacher_outputs], axis=0).astype(np.float32)

    def soft_loss(self, task, soft_targets, outputs, features):
        return losses.soft_cross_entropy(soft_targets, outputs)

    def chance_level(self, task, labels):
        """Accuracy, F1 and MCC of always predicting the majority class."""
        classes = self.num_outputs(task)
        majority = np.bincount(labels, minlength=classes).argmax()
        return self.compute_metrics(task, np.eye(classes)[np.full(len(labels), majority)], labels)

    def serving_outputs(self, task, raw):
        probabilities = tf.nn.softmax(tf.cast(raw, tf.float32), axis=-1)
        label_id = tf.argmax(probabilities, axis=-1)
        return {
            "probabilities": probabilities,
            "label": tf.gather(tf.constant(list(task.labels)), label_id),
            "label_id": label_id,
        }

    def tflite_outputs(self, task, raw):
        return {"probabilities": tf.nn.softmax(tf.cast(raw, tf.float32), axis=-1)}

    def prediction_strings(self, task, outputs, split):
        return [task.labels[i] for i in np.asarray(outputs).argmax(-1)]
