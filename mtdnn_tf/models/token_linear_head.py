"""The per-token task head of sequence labelling: dropout then one dense layer on every token state."""

import keras

from mtdnn_tf.models.linear_head import LinearHead


@keras.saving.register_keras_serializable(package="mtdnn_tf")
class TokenLinearHead(LinearHead):
    """Tag logits [batch, length, tags] from the encoder's token states (``LinearHead``'s layers and
    settings, applied at every position).

    Args:
        units: number of tags.
        dropout: task-layer dropout rate.

    Call arguments:
        features: dict with 'sequence_output' [batch, length, hidden]; other keys are ignored.

    Example:

    ```python
    head = TokenLinearHead(units=9, dropout=0.1)
    head({"sequence_output": keras.random.normal((2, 7, 16))}).shape  # (2, 7, 9)
    ```
    """

    def build(self, features_shape):
        self.dense.build(features_shape["sequence_output"])

    def call(self, features, training=None):
        return self.dense(self.dropout(features["sequence_output"], training=training))

    def compute_output_shape(self, features_shape):
        return (*features_shape["sequence_output"][:-1], self.units)
