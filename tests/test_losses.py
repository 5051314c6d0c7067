"""The per-task losses, checked against their definitions computed by hand in numpy."""

import dataclasses

import numpy as np
import tensorflow as tf

from mtdnn_tf import losses
from mtdnn_tf.losses import per_example_loss, task_loss
from mtdnn_tf.tasks import load_tasks

TASKS = load_tasks(["mrpc", "stsb", "mnli"])


def test_classification_loss_is_the_cross_entropy_of_the_logits():
    logits = np.array([[2.0, -1.0], [0.5, 0.5], [-3.0, 4.0]], np.float32)
    labels = np.array([0, 1, 0])
    expected = -np.log(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True))[np.arange(3), labels]
    np.testing.assert_allclose(per_example_loss(TASKS["mrpc"], labels, logits), expected, rtol=1e-6)
    assert expected[2] > 7  # a confident wrong answer costs much more than a right one
    three_way = np.array([[0.1, 0.2, 0.3]], np.float32)
    np.testing.assert_allclose(per_example_loss(TASKS["mnli"], np.array([2]), three_way),
                               [-np.log(np.exp(0.3) / np.exp(three_way).sum())], rtol=1e-6)


def test_regression_loss_is_the_squared_error():
    scores = np.array([0.0, 2.5, 5.0], np.float32)
    labels = np.array([1.0, 2.5, 3.0], np.float32)
    np.testing.assert_allclose(per_example_loss(TASKS["stsb"], labels, scores), [1.0, 0.0, 4.0])


def test_task_loss_is_the_weighted_mean_over_the_global_batch():
    scores = np.array([0.0, 2.5, 5.0], np.float32)
    labels = np.array([1.0, 2.5, 3.0], np.float32)
    heavy = dataclasses.replace(TASKS["stsb"], loss_weight=3.0)
    assert float(task_loss(TASKS["stsb"], labels, scores)) == np.float32(5.0 / 3)
    # A replica holding two of a global batch of 3 (the third on another replica): its share of the sum.
    np.testing.assert_allclose(float(task_loss(heavy, labels[:2], scores[:2], np.ones(2), units=3.0)),
                               3.0 * (1.0 + 0.0) / 3, rtol=1e-6)
    # Zero-weight rows (a padded last batch) count for nothing; an empty replica adds 0, not NaN.
    assert float(task_loss(TASKS["stsb"], labels, scores, np.array([1.0, 1.0, 0.0]))) == np.float32(0.5)
    assert float(task_loss(TASKS["stsb"], labels[:0], scores[:0], np.ones(0), units=3.0)) == 0.0


def test_symmetric_kl_is_the_official_symkl_each_term_with_a_constant_target():
    a = tf.constant([[1.0, -0.5, 0.3], [0.2, 0.1, 2.0]])
    b = tf.constant([[0.4, 0.0, -1.0], [0.2, 0.3, 1.5]])
    p_a, p_b = tf.nn.softmax(a), tf.nn.softmax(b)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([a, b])
        value = tf.reduce_sum(losses.symmetric_kl(a, b))
    # The value: KL(p_a || p_b) + KL(p_b || p_a).
    expected = tf.reduce_sum((p_a - p_b) * (tf.math.log(p_a) - tf.math.log(p_b)))
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    # The gradient: each side only through the term where it is the prediction, as the official criterion's
    # detach(): d/da KL(sg p_b || p_a) = p_a - p_b for logits, and the same for b.
    np.testing.assert_allclose(tape.gradient(value, a), p_a - p_b, atol=1e-6)
    np.testing.assert_allclose(tape.gradient(value, b), p_b - p_a, atol=1e-6)
