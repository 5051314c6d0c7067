"""Every layer of the package, and a model with a task of every task type, through the shared harness."""

import keras
import numpy as np
import pytest
from conftest import tiny_backbone
from harness import PRECISION_TOLERANCE, run_layer_test

from mtdnn_tf.models.head_input import HeadInput
from mtdnn_tf.models.linear_head import LinearHead
from mtdnn_tf.models.mtdnn_model import build_mtdnn_model
from mtdnn_tf.models.san_head import SANHead
from mtdnn_tf.models.token_linear_head import TokenLinearHead
from mtdnn_tf.registry import TASK_TYPES
from mtdnn_tf.tasks import load_tasks

BATCH, LENGTH, HIDDEN, REAL = 3, 9, 16, 7  # positions REAL.. are padding


def _features():
    rng = np.random.default_rng(0)
    mask = np.ones((BATCH, LENGTH), "int32")
    mask[:, REAL:] = 0
    segments = np.zeros((BATCH, LENGTH), "int32")
    segments[:, 4:REAL] = 1
    return {"head_input": rng.normal(size=(BATCH, HIDDEN)).astype("float32"),
            "sequence_output": rng.normal(size=(BATCH, LENGTH, HIDDEN)).astype("float32"),
            "padding_mask": mask, "segment_ids": segments}


def _noisy_padding(features):
    """The same features with other token states at the padded positions."""
    changed = dict(features)
    sequence = features["sequence_output"].copy()
    sequence[:, REAL:] = 100.0
    changed["sequence_output"] = sequence
    return changed


def _head_input_args(features):
    return (features["sequence_output"], features["head_input"], features["padding_mask"])


def _noisy_padding_args(args):
    sequence, pooled, mask = args
    sequence = sequence.copy()
    sequence[:, REAL:] = 100.0
    return (sequence, pooled, mask)


CASES = {
    "linear_classes": (LinearHead, {"units": 3}, _features(), (BATCH, 3), None),
    "linear_score": (LinearHead, {"units": 1}, _features(), (BATCH,), None),
    "san": (SANHead, {"num_classes": 3, "steps": 3, "seed": 1}, _features(), (BATCH, 3), _noisy_padding),
    "token_linear": (TokenLinearHead, {"units": 5}, _features(), (BATCH, LENGTH, 5), None),
    **{f"head_input_{mode}": (HeadInput, {"mode": mode}, _head_input_args(_features()), (BATCH, HIDDEN),
                              _noisy_padding_args)
       for mode in ("cls", "pooled", "mean")},
}


@pytest.mark.parametrize("case", CASES)
def test_layer(case, tmp_path):
    cls, init_kwargs, inputs, shape, replace_padding = CASES[case]
    run_layer_test(cls, init_kwargs, inputs, shape, tmp_path, replace_padding=replace_padding)


def test_every_registered_layer_has_a_case():
    registered = {obj for name, obj in keras.saving.get_custom_objects().items()
                  if name.startswith("mtdnn_tf>") and isinstance(obj, type) and issubclass(obj, keras.layers.Layer)}
    assert registered == {cls for cls, *_ in CASES.values()}, registered


DEMO_TASKS = ("demo_sentiment", "demo_pair", "demo_similarity", "demo_ranking", "demo_ner")


def _model_inputs(seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones((BATCH, LENGTH), "int32")
    mask[:, REAL:] = 0
    return {"token_ids": (rng.integers(5, 40, (BATCH, LENGTH)) * mask).astype("int32"),
            "segment_ids": (np.concatenate([np.zeros((BATCH, 4)), np.ones((BATCH, LENGTH - 4))], 1)
                            * mask).astype("int32"),
            "padding_mask": mask}


def _real_positions(name, output):
    """Per-token outputs at the real positions only (a padded position has an output of its own)."""
    output = np.asarray(output, np.float32)
    return output[:, :REAL] if name == "demo_ner" else output


@pytest.fixture(scope="module")
def every_type_model():
    tasks = load_tasks(list(DEMO_TASKS))
    assert {t.type for t in tasks.values()} == set(TASK_TYPES.names()), "a task type has no demo task here"
    return build_mtdnn_model(tiny_backbone(60), tasks, head_input="mean"), tasks


@pytest.mark.slow
def test_a_model_with_every_task_type_saves_and_loads(every_type_model, tmp_path):
    model, _ = every_type_model
    inputs = _model_inputs()
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    expected, got = model(inputs), loaded(inputs)
    for name in DEMO_TASKS:
        np.testing.assert_allclose(np.asarray(got[name]), np.asarray(expected[name]), atol=1e-6, err_msg=name)


def test_padded_tokens_change_no_task_output(every_type_model):
    model, _ = every_type_model
    inputs = _model_inputs()
    changed = dict(inputs, token_ids=inputs["token_ids"].copy())
    changed["token_ids"][:, REAL:] = 17  # other tokens where the mask says padding
    expected, got = model(inputs), model(changed)
    for name in DEMO_TASKS:
        np.testing.assert_allclose(_real_positions(name, got[name]), _real_positions(name, expected[name]),
                                   atol=1e-5, err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("policy", sorted(PRECISION_TOLERANCE))
def test_every_task_type_in_16_bits_stays_close_to_float32(every_type_model, policy):
    model, tasks = every_type_model
    low = build_mtdnn_model(tiny_backbone(60, dtype=f"mixed_{policy}"), tasks, head_input="mean")
    low.set_weights(model.get_weights())
    inputs = _model_inputs()
    expected, got = model(inputs), low(inputs)
    tolerance = PRECISION_TOLERANCE[policy]
    for name in DEMO_TASKS:
        assert got[name].dtype == "float32", name  # heads and outputs stay float32
        np.testing.assert_allclose(_real_positions(name, got[name]), _real_positions(name, expected[name]),
                                   atol=tolerance * 10, rtol=tolerance, err_msg=f"{name} {policy}")
