"""Learning-rate schedule: linear warm-up then linear decay to zero (the paper's schedule)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mtdnn_tf")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from 0 to ``peak`` over ``warmup_steps``, then falls linearly to 0 at ``total_steps``.

    Args:
        peak: the learning rate reached at the end of warm-up.
        total_steps: the step at which the rate reaches 0.
        warmup_steps: length of the warm-up.

    Example:

    ```python
    schedule = WarmupLinearDecay(peak=5e-5, total_steps=100, warmup_steps=10)
    float(schedule(10))  # 5e-05
    ```
    """

    def __init__(self, peak, total_steps, warmup_steps):
        self.peak = peak
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = ops.cast(max(self.warmup_steps, 1), "float32")
        total = ops.cast(max(self.total_steps, 1), "float32")
        rising = step / warmup
        falling = ops.maximum(total - step, 0.0) / ops.maximum(total - warmup, 1.0)
        return self.peak * ops.where(step < warmup, rising, falling)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps}
