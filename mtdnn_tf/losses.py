"""Loss functions and the weighted per-task loss of a batch.

Each batch holds one task, so only that task's loss is computed (the other
heads are masked out and get no gradient). Which loss a task uses is its
type's choice (``TaskType.per_example_loss``).
"""

import tensorflow as tf

from mtdnn_tf.models.masking import MASKED_SCORE


def cross_entropy(labels, logits):
    """Cross-entropy per example on logits [batch, classes] (on the SAN head's
    log-probabilities this is the same negative log-likelihood)."""
    return tf.keras.losses.sparse_categorical_crossentropy(
        tf.cast(labels, tf.int32), tf.cast(logits, tf.float32), from_logits=True
    )


def squared_error(labels, scores):
    """Squared error per example of scores [batch]."""
    return tf.square(tf.cast(scores, tf.float32) - tf.cast(labels, tf.float32))


def soft_cross_entropy(soft_targets, logits):
    """Cross-entropy per row of a target distribution [..., classes] and logits (knowledge distillation)."""
    return -tf.reduce_sum(tf.cast(soft_targets, tf.float32) * tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1),
                          axis=-1)


def symmetric_kl(logits_a, logits_b):
    """KL(p_a || p_b) + KL(p_b || p_a) per row, for the softmax distributions of two logit tensors
    [..., classes] (log-probabilities work too: softmax of them is the same distribution)."""
    log_a = tf.nn.log_softmax(tf.cast(logits_a, tf.float32), axis=-1)
    log_b = tf.nn.log_softmax(tf.cast(logits_b, tf.float32), axis=-1)
    return tf.reduce_sum((tf.exp(log_a) - tf.exp(log_b)) * (log_a - log_b), axis=-1)


def listwise_ranking_loss(labels, scores, gamma=1.0):
    """Negative log-likelihood of the positive candidates under a softmax over each group
    (the paper's equations 8-9): -log sum_{positive a} exp(gamma s_a) / sum_a exp(gamma s_a).

    Args:
        labels: [groups, size]: 1 positive, 0 negative, -1 padding (masked out).
        scores: [groups, size] relevance scores.
    """
    labels = tf.cast(labels, tf.float32)
    scores = tf.cast(scores, tf.float32) * gamma
    masked = tf.fill(tf.shape(scores), MASKED_SCORE)
    valid = labels >= 0
    log_all = tf.reduce_logsumexp(tf.where(valid, scores, masked), axis=-1)
    log_positive = tf.reduce_logsumexp(tf.where(labels > 0, scores, masked), axis=-1)
    return log_all - log_positive


def per_example_loss(task, labels, outputs):
    """The task type's unweighted loss per batch unit."""
    return task.task_type.per_example_loss(task, labels, outputs)


def task_loss(task, labels, outputs, num_replicas=1):
    """Mean loss of the batch times the task's loss weight, divided across replicas
    so that summing the replicas' gradients gives the global-batch mean."""
    loss = tf.reduce_mean(per_example_loss(task, labels, outputs))
    return loss * task.loss_weight / num_replicas


def soft_task_loss(task, soft_targets, outputs, features, num_replicas=1):
    """Knowledge distillation: the mean loss against the teachers' soft targets (its task type's
    ``soft_loss``), weighted and divided across replicas like ``task_loss``."""
    loss = tf.reduce_mean(task.task_type.soft_loss(task, soft_targets, outputs, features))
    return loss * task.loss_weight / num_replicas
