import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_backbone

from mtdnn_tf.losses import task_loss
from mtdnn_tf.models.head_input import HeadInput
from mtdnn_tf.models.mtdnn_model import build_mtdnn_model, task_model, task_variables


def _inputs(batch=4, length=10, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, length), "int32")
    mask[:, 7:] = 0
    return {
        "token_ids": rng.integers(5, 40, (batch, length)).astype("int32") * mask,
        "segment_ids": np.concatenate([np.zeros((batch, 4)), np.ones((batch, 6))], 1).astype("int32") * mask,
        "padding_mask": mask,
    }


def test_one_named_output_per_task(demo_tasks):
    model = build_mtdnn_model(tiny_backbone(60), demo_tasks, head_input="mean")
    outputs = model(_inputs())
    assert set(outputs) == set(demo_tasks)
    assert outputs["demo_sentiment"].shape == (4, 2)
    assert outputs["demo_similarity"].shape == (4,)
    single = task_model(model, "demo_pair")(_inputs())
    np.testing.assert_allclose(single, outputs["demo_pair"], atol=1e-6)


@pytest.mark.slow
def test_model_round_trips_through_keras_format(demo_tasks, tmp_path):
    model = build_mtdnn_model(tiny_backbone(60), demo_tasks, head_input="cls")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    for name, value in model(_inputs()).items():
        np.testing.assert_allclose(loaded(_inputs())[name], value, atol=1e-6)


@pytest.mark.parametrize("mode", ["cls", "pooled", "mean"])
def test_head_input_modes(mode):
    sequence = keras.random.normal((2, 5, 8), seed=1)
    pooled = keras.random.normal((2, 8), seed=2)
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]])
    out = np.asarray(HeadInput(mode)(sequence, pooled, mask))
    expected = {
        "cls": np.asarray(sequence)[:, 0],
        "pooled": np.asarray(pooled),
        "mean": np.stack([np.asarray(sequence)[0, :2].mean(0), np.asarray(sequence)[1].mean(0)]),
    }[mode]
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_task_masked_loss_gives_other_heads_no_gradient(demo_tasks):
    backbone = tiny_backbone(60)
    model = build_mtdnn_model(backbone, demo_tasks, head_input="mean")
    task = demo_tasks["demo_pair"]
    with tf.GradientTape() as tape:
        outputs = model(_inputs(), training=True)
        loss = task_loss(task, np.array([0, 1, 1, 0]), outputs["demo_pair"])
    grads = dict(zip([v.path for v in model.trainable_variables], tape.gradient(loss, model.trainable_variables)))
    other_heads = [n for n in grads if n.startswith(("demo_sentiment_head", "demo_similarity_head"))]
    assert other_heads and all(grads[n] is None for n in other_heads)
    # The encoder and the task's own head get a gradient (looked up by exact path: a renamed
    # variable fails here instead of silently leaving the check out).
    reached = ["token_embedding/embeddings", "transformer_layer_0/feedforward_output_dense/kernel",
               *[n for n in grads if n.startswith("demo_pair_head/")]]
    assert len(reached) > 2
    for name in reached:
        assert grads[name] is not None and float(tf.norm(tf.convert_to_tensor(grads[name]))) > 0, name
    own = {v.path for v in task_variables(model, "demo_pair")}
    assert not any(p.startswith("demo_sentiment_head") for p in own)
    assert any(p.startswith("demo_pair_head") for p in own)
    assert {v.path for v in backbone.trainable_variables} <= own


def test_models_saved_with_the_old_feature_key_still_load(tmp_path):
    """Before the rename, HeadInput's vector reached the heads under "pooled"; such model.keras files load."""
    from mtdnn_tf.models.linear_head import LinearHead

    vector = keras.Input(shape=(8,), name="vector")
    old_style = keras.Model(vector, LinearHead(units=3, name="t_head")({"pooled": vector}))
    old_style.save(tmp_path / "old.keras")
    loaded = keras.saving.load_model(tmp_path / "old.keras")
    x = np.random.default_rng(0).normal(size=(2, 8)).astype("float32")
    np.testing.assert_allclose(loaded(x), old_style(x), atol=1e-6)
    head = loaded.get_layer("t_head")
    np.testing.assert_allclose(head({"head_input": x}), head({"pooled": x}), atol=1e-6)
