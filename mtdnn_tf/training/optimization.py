"""The optimiser of a run: Adamax with linear warm-up and decay (the paper's)."""

import keras

from mtdnn_tf.training.lazy_adamax import LazyAdamax
from mtdnn_tf.training.schedules import WarmupLinearDecay


def make_optimizer(config, total_steps, loss_scaling=False):
    """Adamax with linear warm-up and decay over ``total_steps`` (the trainer clips).

    With ``config.lazy_embedding_update``, ``LazyAdamax``: sparse (embedding)
    gradients update only the rows the batch used.

    With ``loss_scaling`` (for the mixed_float16 policy) it is wrapped in a
    dynamic ``keras.optimizers.LossScaleOptimizer``.
    """
    schedule = WarmupLinearDecay(
        peak=config.learning_rate,
        total_steps=total_steps,
        warmup_steps=int(round(total_steps * config.warmup_proportion)),
    )
    # Gradient clipping is done by the trainer on the all-reduced gradients: Keras'
    # own global_clipnorm would clip each replica's part separately.
    adamax = LazyAdamax if config.lazy_embedding_update else keras.optimizers.Adamax
    optimizer = adamax(learning_rate=schedule)
    return keras.optimizers.LossScaleOptimizer(optimizer) if loss_scaling else optimizer
