"""The checks every layer of the package goes through, in the style of keras-hub's ``TestCase``.

``run_layer_test`` runs them all for one layer: the output shape, training and
inference calls, the config round trip (``run_serialization_test``), saving and
loading inside a ``model.keras`` file (``run_model_saving_test``), float32 /
bfloat16 / float16 outputs (``run_precision_test``) and, for layers that read a
padding mask, that padded positions change nothing (``run_masking_test``).
``tests/test_layers.py`` puts every head kind's layer and ``HeadInput`` through it.
"""

import keras
import numpy as np

# 16-bit outputs against float32: bfloat16 keeps 8 bits of mantissa, float16 11.
PRECISION_TOLERANCE = {"bfloat16": 0.1, "float16": 0.02}


def _numpy(x):
    return keras.tree.map_structure(lambda t: np.asarray(keras.ops.convert_to_numpy(t), np.float32), x)


def _copy_weights(source, target):
    target.set_weights(source.get_weights())


def make_layer(cls, init_kwargs, inputs, dtype=None):
    """A built layer of ``cls`` (called once on ``inputs``)."""
    layer = cls(**init_kwargs, **({"dtype": dtype} if dtype else {}))
    layer(inputs, training=False) if not isinstance(inputs, tuple) else layer(*inputs)
    return layer


def _call(layer, inputs, training=False):
    if isinstance(inputs, tuple):  # positional inputs (HeadInput takes three tensors)
        return layer(*inputs)
    return layer(inputs, training=training)


def run_serialization_test(cls, init_kwargs, inputs):
    """``from_config(get_config())`` gives the same config and, with the same weights, the same outputs."""
    layer = make_layer(cls, init_kwargs, inputs)
    config = layer.get_config()
    clone = cls.from_config(config)
    _call(clone, inputs)
    _copy_weights(layer, clone)
    assert clone.get_config() == config
    np.testing.assert_allclose(_numpy(_call(clone, inputs)), _numpy(_call(layer, inputs)), atol=1e-6)
    # The config is plain data: it survives Keras' own serialisation.
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer)).get_config() == config


def _functional(layer, inputs):
    def spec(x):
        x = np.asarray(x)
        return keras.Input(shape=x.shape[1:], dtype=str(x.dtype))

    if isinstance(inputs, tuple):
        symbolic = tuple(spec(x) for x in inputs)
        return keras.Model(list(symbolic), layer(*symbolic))
    symbolic = {k: spec(v) for k, v in inputs.items()}
    return keras.Model(symbolic, layer(symbolic))


def run_model_saving_test(cls, init_kwargs, inputs, tmp_path):
    """The layer inside a functional model saved as ``model.keras`` and loaded gives the same outputs."""
    model = _functional(cls(**init_kwargs), inputs)
    args = list(inputs) if isinstance(inputs, tuple) else inputs
    expected = _numpy(model(args, training=False))
    path = tmp_path / f"{cls.__name__}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_numpy(loaded(args, training=False)), expected, atol=1e-6)


def run_precision_test(cls, init_kwargs, inputs):
    """Under a bfloat16 or float16 policy the layer computes in that type and stays close to float32."""
    reference = make_layer(cls, init_kwargs, inputs)
    expected = _numpy(_call(reference, inputs))
    for policy, tolerance in PRECISION_TOLERANCE.items():
        layer = make_layer(cls, init_kwargs, inputs, dtype=keras.DTypePolicy(f"mixed_{policy}"))
        _copy_weights(reference, layer)
        assert layer.compute_dtype == policy and all(w.dtype == "float32" for w in layer.weights)
        got = _numpy(_call(layer, inputs))
        assert np.all(np.isfinite(got)), policy
        np.testing.assert_allclose(got, expected, atol=tolerance, rtol=tolerance, err_msg=policy)


def run_masking_test(cls, init_kwargs, inputs, replace_padding):
    """``replace_padding(inputs)`` changes only what the padding mask hides: the output must not move."""
    layer = make_layer(cls, init_kwargs, inputs)
    np.testing.assert_allclose(_numpy(_call(layer, replace_padding(inputs))), _numpy(_call(layer, inputs)),
                               atol=1e-5)


def run_layer_test(cls, init_kwargs, inputs, expected_output_shape, tmp_path, replace_padding=None):
    """Every check above, for one layer and its inputs."""
    layer = make_layer(cls, init_kwargs, inputs)
    assert tuple(_call(layer, inputs).shape) == tuple(expected_output_shape)
    if not isinstance(inputs, tuple):
        assert tuple(_call(layer, inputs, training=True).shape) == tuple(expected_output_shape)
    run_serialization_test(cls, init_kwargs, inputs)
    run_model_saving_test(cls, init_kwargs, inputs, tmp_path)
    run_precision_test(cls, init_kwargs, inputs)
    if replace_padding is not None:
        run_masking_test(cls, init_kwargs, inputs, replace_padding)
