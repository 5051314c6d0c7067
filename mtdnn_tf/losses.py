"""Loss functions and the weighted per-task loss of a batch.

Each batch holds one task, so only that task's loss is computed (the other
heads are masked out and get no gradient). Which loss a task uses is its
type's choice (``TaskType.per_example_loss``).
"""

import tensorflow as tf

from mtdnn_tf.features import MASKED_SCORE


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
    """KL(p_b || p_a) + KL(p_a || p_b) per row, for the softmax distributions of two logit tensors
    [..., classes] (log-probabilities work too: softmax of them is the same distribution).

    As the official MT-DNN's ``SymKlCriterion``, each term holds its target distribution constant
    (stop-gradient): the value is the symmetric KL, the gradient reaches each side only through the
    term in which it is the prediction (differentiating both sides of both terms gave about twice
    the gradient near agreement).
    """
    log_a = tf.nn.log_softmax(tf.cast(logits_a, tf.float32), axis=-1)
    log_b = tf.nn.log_softmax(tf.cast(logits_b, tf.float32), axis=-1)
    fixed_a, fixed_b = tf.stop_gradient(log_a), tf.stop_gradient(log_b)
    return tf.reduce_sum(tf.exp(fixed_b) * (fixed_b - log_a) + tf.exp(fixed_a) * (fixed_a - log_b), axis=-1)


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


def weighted_mean(per_unit, weights=None, units=None):
    """``sum(weights * per_unit) / units``: with ``units`` the global batch's total weight (summed over
    replicas), the replicas' results add up to the global-batch mean whatever the split, an empty replica
    included (its sum is 0, not the NaN of an empty mean). Defaults: weight 1 per unit, ``units`` the
    local weight (one replica)."""
    per_unit = tf.cast(per_unit, tf.float32)
    weights = tf.ones_like(per_unit) if weights is None else tf.cast(weights, tf.float32)
    units = tf.reduce_sum(weights) if units is None else tf.cast(units, tf.float32)
    return tf.reduce_sum(per_unit * weights) / tf.maximum(units, 1e-12)


def task_loss(task, labels, outputs, weights=None, units=None):
    """The batch's loss (``weighted_mean`` of its type's per-unit loss) times the task's loss weight."""
    return weighted_mean(per_example_loss(task, labels, outputs), weights, units) * task.loss_weight


def soft_task_loss(task, soft_targets, outputs, features, weights=None, units=None):
    """Knowledge distillation: the loss against the teachers' soft targets (its task type's ``soft_loss``),
    weighted and normalised like ``task_loss``."""
    return weighted_mean(task.task_type.soft_loss(task, soft_targets, outputs, features), weights, units) \
        * task.loss_weight
