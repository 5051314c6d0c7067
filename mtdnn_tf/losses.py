"""Per-task losses. Each batch holds one task, so only that task's loss is computed
(the other heads are masked out and get no gradient)."""

import tensorflow as tf


def per_example_loss(task, labels, outputs):
    """Unweighted loss per example.

    Classification: cross-entropy on logits [batch, classes] (the SAN head
    returns log-probabilities, for which this is the same NLL).
    Regression: squared error of the score [batch].
    """
    if task.type == "regression":
        return tf.square(tf.cast(outputs, tf.float32) - tf.cast(labels, tf.float32))
    if task.type == "classification":
        return tf.keras.losses.sparse_categorical_crossentropy(
            tf.cast(labels, tf.int32), tf.cast(outputs, tf.float32), from_logits=True
        )
    raise ValueError(f"no loss for task type {task.type!r}")


def task_loss(task, labels, outputs, num_replicas=1):
    """Mean loss of the batch times the task's loss weight, divided across replicas
    so that summing the replicas' gradients gives the global-batch mean."""
    loss = tf.reduce_mean(per_example_loss(task, labels, outputs))
    return loss * task.loss_weight / num_replicas
