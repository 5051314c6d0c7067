"""training/assembly: the model and its optimizer are made inside the strategy's scope, slots built up front."""

import keras
import pytest
import tensorflow as tf
from conftest import demo_data, tiny_backbone

from mtdnn_tf.training.assembly import build_model_and_optimizer
from mtdnn_tf.training.train_config import TrainConfig


@pytest.mark.slow
def test_the_optimizer_is_built_in_scope_with_a_slot_per_trainable_variable(demo_tasks, demo_tokenizer, demo_dir):
    data = demo_data(demo_tasks, demo_dir, demo_tokenizer)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    config = TrainConfig(epochs=2, batch_size=16)
    seen = []

    def backbone():  # called inside the scope: its variables are the strategy's
        seen.append(tf.distribute.has_strategy())
        return tiny_backbone(demo_tokenizer.vocabulary_size())

    model, optimizer = build_model_and_optimizer(backbone, demo_tasks, config, data.train, strategy,
                                                 initialize=lambda m: seen.append(tf.distribute.has_strategy()))
    assert seen == [True, True]
    assert optimizer.built and int(optimizer.iterations.numpy()) == 0
    assert isinstance(optimizer, keras.optimizers.Adamax)
    # Adamax keeps two slots (m, u) per trainable variable, all made before the first step.
    assert len(optimizer.variables) >= 2 * len(model.trainable_variables)
    assert config.total_steps(data.train) == 2 * sum(-(-len(s) // 16) for s in data.train.values())
