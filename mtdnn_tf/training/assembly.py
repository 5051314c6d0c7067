"""Assembling a trainer: model and optimizer built under the strategy, then the trainer.

The one way the command line, the study, the benchmarks and the tests put a
trainer together:

```python
trainer = make_trainer(lambda: load_backbone(random_size="tiny", vocabulary_size=100), tasks,
                       data.train, data.eval, TrainConfig(epochs=1), "/tmp/run")
trainer.train()
```
"""

import keras
import tensorflow as tf

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.models.mtdnn_model import build_mtdnn_model
from mtdnn_tf.training.optimization import make_optimizer
from mtdnn_tf.training.trainer import MultiTaskTrainer


def build_model_and_optimizer(backbone, tasks, config, train_splits, strategy, head_input="cls",
                              loss_scaling=False, initialize=None):
    """The multi-task model and its optimizer, created inside ``strategy.scope()``.

    Args:
        backbone: a keras-hub backbone, or a zero-argument function returning one
            (called inside the scope, so its variables are the strategy's).
        tasks: ordered mapping name -> TaskConfig.
        config: TrainConfig (the schedule's length comes from it and ``train_splits``).
        train_splits: name -> PackedSplit.
        strategy: the tf.distribute strategy.
        head_input: what the linear heads read ('cls', 'pooled', 'mean').
        loss_scaling: wrap the optimizer for mixed_float16.
        initialize: optional function of the new model (e.g. copying a trained encoder in).

    Returns:
        (model, optimizer); the optimizer's slots are built, so the first step only updates them.
    """
    with strategy.scope():
        if not isinstance(backbone, keras.layers.Layer):
            backbone = backbone()
        model = build_mtdnn_model(backbone, tasks, head_input)
        if initialize is not None:
            initialize(model)
        optimizer = make_optimizer(config, config.total_steps(train_splits), loss_scaling=loss_scaling)
        optimizer.build(model.trainable_variables)
    return model, optimizer


def check_supported(tasks, config, train_splits):
    """Refuses SMART, with one line, for a trained task whose type does not support it (its
    ``unsupported``; distillation is refused where soft targets are made, ``attach_soft_targets``)."""
    for name in train_splits:
        task = tasks[name]
        if "smart" in task.task_type.unsupported and config.smart.for_task(task.smart).enabled:
            raise UserInputError(f"--smart: task {name} is {task.type}, which SMART does not support; leave it"
                                 " out or turn SMART off for it (smart: {enabled: false} in its YAML)")


def make_trainer(backbone, tasks, train_splits, eval_splits, config, model_dir, strategy=None, head_input="cls",
                 loss_scaling=False, initialize=None, extra_record=None):
    """A ``MultiTaskTrainer`` ready to ``train()`` (see ``build_model_and_optimizer`` for the arguments;
    ``strategy`` defaults to the current one, ``extra_record`` goes into metrics.json)."""
    strategy = strategy or tf.distribute.get_strategy()
    check_supported(tasks, config, train_splits)
    model, optimizer = build_model_and_optimizer(backbone, tasks, config, train_splits, strategy, head_input,
                                                 loss_scaling, initialize)
    return MultiTaskTrainer(model, optimizer, tasks, train_splits, eval_splits, config, model_dir, strategy,
                            extra_record=extra_record)
