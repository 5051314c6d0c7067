"""The plain task head: dropout then one dense layer."""

import keras
from keras import ops


def _head_vector(features):
    # Models saved before the key was renamed (it held HeadInput's output under "pooled") still load.
    return features["head_input"] if "head_input" in features else features["pooled"]


@keras.saving.register_keras_serializable(package="mtdnn_tf")
class LinearHead(keras.layers.Layer):
    """Class logits (``units`` > 1) or a scalar score (``units`` == 1, squeezed to [batch]).

    Args:
        units: number of classes, or 1 for regression and ranking scores.
        dropout: task-layer dropout rate (the paper uses 0.1; MNLI 0.3, CoLA 0.05).

    Call arguments:
        features: dict with 'head_input' [batch, hidden] (``HeadInput``'s output); other
            keys ('sequence_output', 'padding_mask', 'segment_ids') are ignored.

    Example:

    ```python
    head = LinearHead(units=3, dropout=0.1)
    head({"head_input": keras.random.normal((4, 16))}).shape  # (4, 3)
    ```
    """

    def __init__(self, units, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dropout_rate = dropout
        self.dropout = keras.layers.Dropout(dropout)
        self.dense = keras.layers.Dense(
            units, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02)
        )

    def build(self, features_shape):
        self.dense.build(_head_vector(features_shape))

    def call(self, features, training=None):
        x = self.dropout(_head_vector(features), training=training)
        x = self.dense(x)
        return ops.squeeze(x, -1) if self.units == 1 else x

    def compute_output_shape(self, features_shape):
        batch = _head_vector(features_shape)[0]
        return (batch,) if self.units == 1 else (batch, self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "dropout": self.dropout_rate}
