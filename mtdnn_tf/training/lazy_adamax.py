"""Adamax whose update of a row-sparse gradient touches only the rows a batch used.

A BERT encoder's token-embedding gradient is an ``IndexedSlices`` holding the
few hundred rows of a batch's tokens, but Keras' Adamax updates its moments
and the variable densely: all 30,522 x 384 entries of MiniLM's embedding,
every step. ``LazyAdamax`` updates the touched rows only (as TensorFlow 1's
``LazyAdamOptimizer`` did for Adam). Dense gradients get Keras' own update.

How it differs from dense Adamax: a row that a batch does not use keeps its
moments and its value. Dense Adamax would decay that row's first moment and
keep moving the row by ``lr * m / u`` on its old momentum, and decay its
second moment. For rows that do appear, the update is exactly Adamax's.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="mtdnn_tf")
class LazyAdamax(keras.optimizers.Adamax):
    """``keras.optimizers.Adamax`` with lazy (touched rows only) updates of ``IndexedSlices`` gradients.

    Takes Adamax's arguments.

    Example:

    ```python
    optimizer = LazyAdamax(learning_rate=1e-3)
    embedding = keras.Variable(tf.zeros([1000, 8]))
    optimizer.build([embedding])
    gradient = tf.IndexedSlices(tf.ones([2, 8]), tf.constant([3, 7]), tf.constant([1000, 8]))
    optimizer.apply_gradients([(gradient, embedding)])  # only rows 3 and 7 change
    ```
    """

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        # A token seen twice in a batch has two gradient rows: sum them, as the dense gradient would.
        rows, position = tf.unique(gradient.indices)
        values = tf.math.unsorted_segment_sum(tf.cast(gradient.values, dtype), position, tf.shape(rows)[0])
        lr = tf.cast(learning_rate, dtype)
        beta_1_power = tf.pow(tf.cast(self.beta_1, dtype), tf.cast(self.iterations + 1, dtype))
        index = self._get_variable_index(variable)
        m, u = self._m[index], self._u[index]
        m_rows = tf.gather(m.value, rows) * self.beta_1 + values * (1 - self.beta_1)
        u_rows = tf.maximum(tf.gather(u.value, rows) * self.beta_2, tf.abs(values))
        self.assign(m, tf.IndexedSlices(m_rows, rows, gradient.dense_shape))
        self.assign(u, tf.IndexedSlices(u_rows, rows, gradient.dense_shape))
        step = lr * m_rows / ((1 - beta_1_power) * (u_rows + self.epsilon))
        self.assign_sub(variable, tf.IndexedSlices(step, rows, gradient.dense_shape))
