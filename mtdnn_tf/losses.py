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
    if task.type == "ranking":
        return listwise_ranking_loss(labels, outputs, task.head.gamma)
    raise ValueError(f"no loss for task type {task.type!r}")


def listwise_ranking_loss(labels, scores, gamma=1.0):
    """Negative log-likelihood of the positive candidates under a softmax over each group
    (the paper's equations 8-9): -log sum_{positive a} exp(gamma s_a) / sum_a exp(gamma s_a).

    Args:
        labels: [groups, size]: 1 positive, 0 negative, -1 padding (masked out).
        scores: [groups, size] relevance scores.
    """
    labels = tf.cast(labels, tf.float32)
    scores = tf.cast(scores, tf.float32) * gamma
    very_negative = tf.fill(tf.shape(scores), -1e9)
    valid = labels >= 0
    log_all = tf.reduce_logsumexp(tf.where(valid, scores, very_negative), axis=-1)
    log_positive = tf.reduce_logsumexp(tf.where(labels > 0, scores, very_negative), axis=-1)
    return log_all - log_positive


def task_loss(task, labels, outputs, num_replicas=1):
    """Mean loss of the batch times the task's loss weight, divided across replicas
    so that summing the replicas' gradients gives the global-batch mean."""
    loss = tf.reduce_mean(per_example_loss(task, labels, outputs))
    return loss * task.loss_weight / num_replicas
