"""SMART adversarial regularisation: the embedding path, the regulariser's properties, training with it."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import demo_data, make_trainer, tiny_backbone

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.models.mtdnn_model import build_mtdnn_model
from mtdnn_tf.settings.smart_config import SmartConfig
from mtdnn_tf.training.smart import EmbeddingPath, outputs_and_regularizer, smart_seed


@pytest.fixture(scope="module")
def setting(demo_tasks, demo_dir, demo_tokenizer):
    tasks = {n: demo_tasks[n] for n in ("demo_sentiment", "demo_pair", "demo_similarity")}
    # No dropout: two passes over the same inputs then differ only by the perturbation.
    tasks = {n: dataclasses.replace(t, head=dataclasses.replace(t.head, dropout=0.0, san_dropout=0.0))
             for n, t in tasks.items()}
    model = build_mtdnn_model(tiny_backbone(demo_tokenizer.vocabulary_size(), dropout=0.0), tasks, "mean")
    data = demo_data(tasks, demo_dir, demo_tokenizer)
    batches = {n: {k: tf.constant(v) for k, v in data.train[n].unit_features(np.arange(8)).items()} for n in tasks}
    return tasks, model, batches


@pytest.mark.slow
def test_the_embedding_path_computes_the_models_outputs(setting):
    tasks, model, batches = setting
    path = EmbeddingPath(model)
    for name, task in tasks.items():
        features = batches[name]
        direct = model(features, training=False)[name]
        np.testing.assert_allclose(path.outputs(task, path.embed(features), features), direct, atol=1e-5)


@pytest.mark.slow
def test_the_regularizer_is_zero_without_perturbation_and_positive_with_it(setting):
    tasks, model, batches = setting
    path = EmbeddingPath(model)
    for name, task in tasks.items():
        none = SmartConfig(enabled=True, steps=0, noise_var=0.0)
        clean, zero = outputs_and_regularizer(task, none, path, batches[name], smart_seed(1, 0), training=False)
        assert float(zero) == 0.0
        np.testing.assert_allclose(clean, model(batches[name])[name], atol=1e-5)
        _, positive = outputs_and_regularizer(task, SmartConfig(enabled=True), path, batches[name], smart_seed(1, 0),
                                              training=False)
        assert float(positive) > 0.0, name


@pytest.mark.slow
def test_the_regularizer_is_seeded_and_its_gradient_reaches_the_encoder(setting):
    tasks, model, batches = setting
    path, task, features = EmbeddingPath(model), tasks["demo_pair"], batches["demo_pair"]
    config = SmartConfig(enabled=True, steps=2)
    encoder = [v for v in model.trainable_variables if "transformer_layer_0" in v.path]
    with tf.GradientTape() as tape:
        _, first = outputs_and_regularizer(task, config, path, features, smart_seed(1, 5), training=False)
    gradients = tape.gradient(first, encoder)
    assert encoder and all(g is not None for g in gradients)
    assert sum(float(tf.norm(g)) for g in gradients) > 0
    _, again = outputs_and_regularizer(task, config, path, features, smart_seed(1, 5), training=False)
    _, other = outputs_and_regularizer(task, config, path, features, smart_seed(1, 6), training=False)
    assert float(again) == float(first) and float(other) != float(first)


def test_settings_are_checked_and_a_task_overrides_the_run(tmp_path):
    from mtdnn_tf.tasks import load_task_file
    from mtdnn_tf.tasks.task_config import SmartOverrides

    with pytest.raises(UserInputError, match=r"^alpha: must be 0 or positive, got -1"):
        SmartConfig(alpha=-1)
    run = SmartConfig(enabled=True, alpha=1.0)
    assert run.for_task(SmartOverrides()) == run
    assert run.for_task(SmartOverrides(enabled=False, alpha=0.5)) == SmartConfig(enabled=False, alpha=0.5)
    from mtdnn_tf.tasks import find_task_file

    text = find_task_file("rte").read_text()
    path = tmp_path / "rte.yaml"
    path.write_text(text + "smart:\n  alpha: 0.3\n")
    assert load_task_file(path).smart.alpha == 0.3
    path.write_text(text + "smart:\n  steps: -2\n")
    with pytest.raises(UserInputError, match=r"rte.yaml: field 'smart.steps': must be 0 or positive, got -2"):
        load_task_file(path)


@pytest.mark.slow
def test_training_with_smart_learns_and_resumes_to_the_same_weights(demo_tasks, demo_dir, demo_tokenizer, tmp_path):
    tasks = {n: demo_tasks[n] for n in ("demo_sentiment", "demo_similarity")}
    smart = SmartConfig(enabled=True)
    trainer = make_trainer(tasks, demo_dir, demo_tokenizer, tmp_path / "a", epochs=2, smart=smart)
    results = trainer.train()
    assert results["demo_sentiment"]["dev"]["accuracy"] > 0.7  # chance: about 0.5
    # The regulariser's size is in the record (and TensorBoard), per task and epoch.
    epochs = json.loads((tmp_path / "a" / "metrics.json").read_text())["epochs"]
    assert all(set(e["smart_regularizer"]) == set(tasks) for e in epochs)
    assert all(0 < v < 10 for e in epochs for v in e["smart_regularizer"].values())
    stopped = make_trainer(tasks, demo_dir, demo_tokenizer, tmp_path / "b", epochs=2, smart=smart)
    stopped.run_epoch(0, stop=9)
    stopped.run_epoch(0)
    stopped.step_in_epoch.assign(0)
    stopped.epoch.assign(1)
    stopped.run_epoch(1)
    for a, b in zip(trainer.model.trainable_variables, stopped.model.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, err_msg=a.path)
