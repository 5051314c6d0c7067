"""What a task head reads from the encoder: the [CLS] state, the pooled output or a masked mean."""

import keras
from keras import ops

HEAD_INPUTS = ("cls", "pooled", "mean")


@keras.saving.register_keras_serializable(package="mtdnn_tf")
class HeadInput(keras.layers.Layer):
    """Reduces the encoder's token states to one vector per example.

    Args:
        mode: 'cls' (final hidden state of [CLS], the paper's choice), 'pooled'
            (keras-hub's tanh pooler over [CLS]; untrained in some checkpoints,
            such as all-MiniLM-L6-v2), or 'mean' (mean over non-padding tokens).

    Call arguments:
        sequence_output: float tensor [batch, length, hidden].
        pooled_output: float tensor [batch, hidden].
        padding_mask: int or bool tensor [batch, length], 1 for real tokens.

    Example:

    ```python
    x = keras.random.normal((2, 5, 8))
    mask = keras.ops.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    HeadInput("mean")(x, x[:, 0], mask).shape  # (2, 8)
    ```
    """

    def __init__(self, mode="cls", **kwargs):
        super().__init__(**kwargs)
        if mode not in HEAD_INPUTS:
            raise ValueError(f"mode must be one of {HEAD_INPUTS}, got {mode!r}")
        self.mode = mode

    def call(self, sequence_output, pooled_output, padding_mask):
        if self.mode == "cls":
            return sequence_output[:, 0, :]
        if self.mode == "pooled":
            return pooled_output
        mask = ops.cast(ops.expand_dims(padding_mask, -1), sequence_output.dtype)
        total = ops.sum(sequence_output * mask, axis=1)
        return total / ops.maximum(ops.sum(mask, axis=1), 1.0)

    def compute_output_shape(self, sequence_output_shape, *args):
        return (sequence_output_shape[0], sequence_output_shape[-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
