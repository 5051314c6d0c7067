"""LazyAdamax: Adamax on the rows a sparse gradient touches, nothing elsewhere."""

import keras
import numpy as np
import tensorflow as tf

from mtdnn_tf.training.lazy_adamax import LazyAdamax


def _adamax_reference(value, m, u, gradient, step, lr=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m = beta_1 * m + (1 - beta_1) * gradient
    u = np.maximum(beta_2 * u, np.abs(gradient))
    return value - lr * m / ((1 - beta_1**step) * (u + epsilon)), m, u


def test_touched_rows_follow_adamax_and_the_others_stay():
    initial = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    lazy_var, dense_var = keras.Variable(initial), keras.Variable(initial)
    lazy, dense = LazyAdamax(learning_rate=0.1), keras.optimizers.Adamax(learning_rate=0.1)
    lazy.build([lazy_var])
    dense.build([dense_var])
    grads = [tf.IndexedSlices(tf.constant([[1.0, -2.0, 0.5], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]]),
                              tf.constant([1, 4, 1]), tf.constant([6, 3])),  # row 1 twice: summed
             tf.IndexedSlices(tf.constant([[0.3, 0.0, -0.3]]), tf.constant([4]), tf.constant([6, 3]))]
    value, m, u = initial.copy(), np.zeros_like(initial), np.zeros_like(initial)
    for step, grad in enumerate(grads, 1):
        lazy.apply_gradients([(grad, lazy_var)])
        dense.apply_gradients([(grad, dense_var)])
        dense_grad = tf.convert_to_tensor(grad).numpy()
        rows = np.unique(grad.indices.numpy())
        new_value, new_m, new_u = _adamax_reference(value, m, u, dense_grad, step)
        value[rows], m[rows], u[rows] = new_value[rows], new_m[rows], new_u[rows]
        np.testing.assert_allclose(lazy_var.numpy(), value, rtol=1e-5, atol=1e-6)
    untouched = [0, 2, 3, 5]
    np.testing.assert_array_equal(lazy_var.numpy()[untouched], initial[untouched])
    # Row 1 is touched only by the first gradient: dense Adamax keeps moving it on its momentum, lazy does not.
    assert not np.allclose(dense_var.numpy()[1], lazy_var.numpy()[1])


def test_dense_gradients_get_keras_adamax():
    initial = np.arange(6, dtype=np.float32).reshape(2, 3)
    a, b = keras.Variable(initial), keras.Variable(initial)
    lazy, dense = LazyAdamax(learning_rate=0.01), keras.optimizers.Adamax(learning_rate=0.01)
    lazy.build([a])
    dense.build([b])
    for _ in range(3):
        grad = tf.constant([[1.0, -1.0, 2.0], [0.0, 3.0, -0.5]])
        lazy.apply_gradients([(grad, a)])
        dense.apply_gradients([(grad, b)])
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert LazyAdamax.from_config(lazy.get_config()).beta_2 == lazy.beta_2
