"""Export and prediction from a (tiny) trained model: SavedModel signatures per task on raw
text, TFLite per task, GLUE submission files."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from mtdnn_tf.experiment import RunSettings, run
from mtdnn_tf.models.mtdnn_model import task_model
from mtdnn_tf.run_directory import load_trained_model
from mtdnn_tf.serving.saved_model import export_saved_model
from mtdnn_tf.serving.signatures import outputs_from_model
from mtdnn_tf.training.train_config import TrainConfig

PAIRS = (["the red cat sat near the tree", "a blue dog ran"], ["a red horse was good", "the green bird"])
QUERY = ["where did the red cat see the tree"]
CANDIDATES = [["a red cat sat near the tree", "a blue dog ran near the car", "a green bird slept near the river"]]


def _train_demo(model_dir, demo_dir, tasks, mixed_precision):
    run(RunSettings(
        tasks=tasks, model_dir=str(model_dir), data_dir=str(demo_dir), vocab_file=str(demo_dir / "vocab.txt"),
        random_backbone="num_layers=1,hidden_dim=32,num_heads=2,intermediate_dim=64",
        max_seq_length=24, head_input="mean", mixed_precision=mixed_precision,
        train=TrainConfig(epochs=1, learning_rate=1e-3, verbose=0),
    ), verbose=False)
    return model_dir


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_dir):
    # float32 whatever the CPU (the default, auto, picks bfloat16 on some): exports are compared with the
    # Keras model at float32 tolerances. A run trained in bfloat16 has its own test below.
    return _train_demo(tmp_path_factory.mktemp("model"), demo_dir,
                       ["demo_sentiment", "demo_pair", "demo_similarity", "demo_ranking"], "float32")


def _in_memory(trained_model, name):
    """The signature outputs computed by the in-memory Keras model."""
    task = trained_model.tasks[name]
    packer = trained_model.packer()
    if task.type == "ranking":
        packed = packer.pack(QUERY * 3, CANDIDATES[0])
        features = {k: tf.constant(v)[tf.newaxis] for k, v in packed.items()}
        raw = task.task_type.forward(task_model(trained_model.model, name), features)
    else:
        packed = packer.pack(*(PAIRS if task.is_pair else PAIRS[:1]))
        raw = task_model(trained_model.model, name)(packed)
    return {k: v.numpy() for k, v in outputs_from_model(task, raw).items()}


# A fresh process's requests to every demo task's signature (a format string: pairs, query, candidates).
SERVING_INPUTS = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401 - registers the tokenizers' ops
pairs = {pairs}
inputs = {{
    "demo_sentiment": {{"sentence": tf.constant(pairs[0])}},
    "demo_pair": {{"sentence1": tf.constant(pairs[0]), "sentence2": tf.constant(pairs[1])}},
    "demo_similarity": {{"sentence1": tf.constant(pairs[0]), "sentence2": tf.constant(pairs[1])}},
    "demo_ranking": {{"query": tf.constant({query}), "candidates": tf.constant({candidates})}},
}}
"""

LOADER = SERVING_INPUTS + """
model = tf.saved_model.load(sys.argv[1])
out = {{name: {{k: v.numpy().tolist() for k, v in model.signatures[name](**x).items()}} for name, x in inputs.items()}}
out["serving_default"] = {{k: v.numpy().tolist() for k, v in model.signatures["serving_default"](**inputs["demo_pair"]).items()}}
out["mtdnn_tf imported"] = any(m.startswith("mtdnn_tf") for m in sys.modules)
print(json.dumps(out, default=lambda b: b.decode()))
"""


@pytest.mark.slow  # over 20 s: a fresh process loads the SavedModel
def test_saved_model_answers_every_signature_in_a_fresh_process(trained, tmp_path):
    trained_model = load_trained_model(trained)
    export_dir = tmp_path / "saved_models" / "demo" / "1"
    export_saved_model(trained_model, export_dir, default_task="demo_pair")
    script = LOADER.format(pairs=list(PAIRS), query=QUERY, candidates=CANDIDATES)
    result = subprocess.run([sys.executable, "-c", script, str(export_dir)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served.pop("mtdnn_tf imported") is False
    for name in trained_model.tasks:
        expected = _in_memory(trained_model, name)
        assert set(served[name]) == set(expected)
        for key, value in expected.items():
            if value.dtype.kind in "fi":
                np.testing.assert_allclose(np.asarray(served[name][key]), value, atol=1e-5, err_msg=f"{name}/{key}")
            else:
                assert served[name][key] == [v.decode() for v in value]
    assert served["serving_default"] == served["demo_pair"]
    assert set(served["demo_pair"]["label"]) <= {"same", "different"}
    _assert_each_weight_stored_once(export_dir, trained_model.model)


def _assert_each_weight_stored_once(export_dir, model):
    """The SavedModel's variables hold the model's weights once (plus a few scalars), not twice."""
    reader = tf.train.load_checkpoint(str(export_dir / "variables" / "variables"))
    stored = sum(int(np.prod(shape)) for shape in reader.get_variable_to_shape_map().values())
    weights = sum(int(np.prod(w.shape)) for w in model.weights)
    assert weights <= stored <= 1.01 * weights, (stored, weights)
    data_bytes = sum(f.stat().st_size for f in (export_dir / "variables").glob("variables.data-*"))
    assert data_bytes <= 1.05 * 4 * weights  # float32: within 5% of the weights' own size


@pytest.mark.slow  # over 20 s: a fresh process loads the SavedModel
def test_saved_model_cli_lists_signatures_and_wrong_dtypes_are_rejected(trained, tmp_path):
    export_dir = tmp_path / "1"
    export_saved_model(load_trained_model(trained), export_dir)
    shown = subprocess.run(["saved_model_cli", "show", "--all", "--dir", str(export_dir)],
                           capture_output=True, text=True, timeout=300).stdout
    for name, inputs, outputs in [
        ("demo_sentiment", ["sentence"], ["probabilities", "label", "label_id"]),
        ("demo_pair", ["sentence1", "sentence2"], ["probabilities", "label", "label_id"]),
        ("demo_similarity", ["sentence1", "sentence2"], ["score"]),
        ("demo_ranking", ["query", "candidates"], ["scores"]),
    ]:
        section = shown.split(f"signature_def['{name}']")[1].split("signature_def[")[0]
        for key in inputs:
            assert f"inputs['{key}']" in section
        for key in outputs:
            assert f"outputs['{key}']" in section
    loaded = tf.saved_model.load(str(export_dir))
    errors = (TypeError, ValueError, tf.errors.InvalidArgumentError)
    with pytest.raises(errors, match="expected to be a string tensor but is a int32 tensor"):  # wrong dtype
        loaded.signatures["demo_sentiment"](sentence=tf.constant([1, 2]))
    with pytest.raises(errors, match=r"Shape of tensor sentence \[1,2\] is not compatible with expected shape"):
        loaded.signatures["demo_sentiment"](sentence=tf.constant([["a", "b"]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="demo_pair: sentence1 and sentence2 must have the "
                                                             "same batch size"):
        loaded.signatures["demo_pair"](sentence1=tf.constant(["a", "b"]), sentence2=tf.constant(["c"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="query and candidates must have the same batch"):
        loaded.signatures["demo_ranking"](query=tf.constant(["a", "b"]), candidates=tf.constant([["c", "d"]]))


@pytest.mark.slow
def test_a_predict_request_built_from_the_signature_names_is_served(trained, tmp_path):
    """What a TF Serving client sends: a PredictRequest keyed by our signatures' input names,
    its tensors decoded and fed to the loaded SavedModel, as the server does."""
    from tensorflow_serving.apis import predict_pb2

    from mtdnn_tf.serving.signatures import input_names

    trained_model = load_trained_model(trained)
    export_saved_model(trained_model, tmp_path / "1")
    loaded = tf.saved_model.load(str(tmp_path / "1"))
    for name, values in [("demo_pair", PAIRS), ("demo_sentiment", PAIRS[:1]), ("demo_ranking", (QUERY, CANDIDATES))]:
        task = trained_model.tasks[name]
        request = predict_pb2.PredictRequest()
        request.model_spec.name, request.model_spec.signature_name = "mtdnn", name
        for key, value in zip(input_names(task), values):
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        received = predict_pb2.PredictRequest.FromString(request.SerializeToString())
        signature = loaded.signatures[received.model_spec.signature_name]
        assert set(received.inputs) == set(signature.structured_input_signature[1])
        served = signature(**{k: tf.constant(tf.make_ndarray(v)) for k, v in received.inputs.items()})
        expected = _in_memory(trained_model, name)
        if task.type == "ranking":
            expected = {"scores": expected["scores"].reshape(1, -1)}
        assert set(served) == set(expected)
        for key, value in expected.items():
            if value.dtype.kind in "fi":
                np.testing.assert_allclose(served[key].numpy(), value, atol=1e-5, err_msg=f"{name}/{key}")
            else:
                assert served[key].numpy().tolist() == value.tolist()


def test_export_refuses_an_existing_version(trained, tmp_path):
    from mtdnn_tf.errors import UserInputError

    (tmp_path / "1").mkdir()
    with pytest.raises(UserInputError, match="already exists"):
        export_saved_model(load_trained_model(trained), tmp_path / "1")
    assert [p.name for p in tmp_path.iterdir()] == ["1"]  # no partial directory left behind


def test_a_failed_export_leaves_no_version_folder(trained, tmp_path, monkeypatch):
    import keras

    def write_half_then_fail(self, path, *args, **kwargs):
        (pathlib.Path(path) / "saved_model.pb").write_bytes(b"half")
        raise OSError("disk full")

    archive_class = type(keras.export.ExportArchive())  # the backend's class, which writes
    monkeypatch.setattr(archive_class, "write_out", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(load_trained_model(trained), tmp_path / "exports" / "1")
    # A model server polling exports/ never sees version 1, nor a numbered partial folder.
    assert list((tmp_path / "exports").iterdir()) == []


@pytest.mark.slow
def test_tflite_parity_with_keras(trained, tmp_path):
    from mtdnn_tf.serving.tflite import TFLiteRunner, export_tflite

    trained_model = load_trained_model(trained)
    export_tflite(trained_model, tmp_path / "1", quantize=True)
    assert (tmp_path / "1" / "vocabulary.txt").is_file()
    packed = trained_model.packer().pack(*PAIRS)
    for name in ("demo_pair", "demo_similarity"):
        task = trained_model.tasks[name]
        expected = _in_memory(trained_model, name)["probabilities" if task.type == "classification" else "score"]
        got = TFLiteRunner(tmp_path / "1" / f"{name}.tflite")(packed)
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, expected, atol=1e-4)
        quantized = TFLiteRunner(tmp_path / "1" / f"{name}.int8.tflite")(packed)
        assert np.isfinite(quantized).all() and quantized.shape == got.shape
        # The length is dynamic: a request at its real length (and another batch size) answers the same.
        real = int(packed["padding_mask"].sum(-1).max())
        trimmed = TFLiteRunner(tmp_path / "1" / f"{name}.tflite")({k: v[:1, :real] for k, v in packed.items()})
        np.testing.assert_allclose(trimmed, expected[:1], atol=1e-4)


@pytest.mark.slow
def test_onnx_export_runs_at_the_requests_own_length_equal_to_keras(trained, tmp_path):
    """Every task's ONNX model in ONNX Runtime: probabilities within 1e-5 of the Keras model, at the
    packed length and at the request's real length (both dimensions are dynamic); int8 finite."""
    from mtdnn_tf.serving.onnx_export import OnnxRunner, export_onnx

    trained_model = load_trained_model(trained)
    export_onnx(trained_model, tmp_path / "1", quantize_int8=True)
    assert json.loads((tmp_path / "1" / "tokenizer.json").read_text())["max_seq_length"] == 24
    requests = token_id_requests(trained_model)
    for name, task in trained_model.tasks.items():
        runner = OnnxRunner(tmp_path / "1" / f"{name}.onnx")
        features = {k: np.asarray(v, np.int32) for k, v in requests[name]["features"].items()}
        expected = _in_memory(trained_model, name)
        if task.type == "ranking":  # one row per (query, candidate): the group's three real ones
            features = {k: v[0, :3] for k, v in features.items()}
            want = expected["scores"][0]
        else:
            want = expected["probabilities" if task.type == "classification" else "score"]
        np.testing.assert_allclose(runner(features), want, atol=1e-5, err_msg=name)
        real = int(features["padding_mask"].sum(-1).max())
        trimmed = runner({k: v[:, :real] for k, v in features.items()})
        np.testing.assert_allclose(trimmed, want, atol=1e-5, err_msg=f"{name} at length {real}")
        quantized = OnnxRunner(tmp_path / "1" / f"{name}.int8.onnx")(features)
        assert np.isfinite(quantized).all() and quantized.shape == np.shape(want)


@pytest.mark.slow
def test_a_run_trained_in_bfloat16_exports_float32_models(demo_dir, tmp_path):
    """``--mixed_precision=auto`` trains in mixed_bfloat16 on CPUs with bfloat16 units: its float32 SavedModel,
    TFLite and ONNX exports compute the encoder in float32 with the trained weights (TFLite and ONNX could not
    convert bfloat16 operations at all)."""
    from mtdnn_tf.models.encoder_dtype import trained_with_encoder_dtype
    from mtdnn_tf.models.init_from import source_backbone
    from mtdnn_tf.serving.onnx_export import OnnxRunner, export_onnx
    from mtdnn_tf.serving.tflite import TFLiteRunner, export_tflite

    trained_model = load_trained_model(_train_demo(tmp_path / "run", demo_dir, ["demo_pair"], "mixed_bfloat16"))
    assert source_backbone(trained_model.model).dtype_policy.name == "mixed_bfloat16"
    float32 = trained_with_encoder_dtype(trained_model, "float32")
    assert source_backbone(float32.model).dtype_policy.name == "float32"
    expected = _in_memory(float32, "demo_pair")["probabilities"]
    assert np.abs(_in_memory(trained_model, "demo_pair")["probabilities"] - expected).max() > 1e-5  # bf16 differs

    export_saved_model(trained_model, tmp_path / "saved" / "1", inputs="token_ids")
    export_tflite(trained_model, tmp_path / "tflite" / "1")
    export_onnx(trained_model, tmp_path / "onnx" / "1")
    packed = trained_model.packer().pack(*PAIRS)
    served = tf.saved_model.load(str(tmp_path / "saved" / "1")).signatures["demo_pair"](
        **{k: tf.constant(v) for k, v in packed.items()})
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(TFLiteRunner(tmp_path / "tflite" / "1" / "demo_pair.tflite")(packed), expected,
                               atol=1e-4)
    features = {k: np.asarray(v, np.int32) for k, v in packed.items()}
    np.testing.assert_allclose(OnnxRunner(tmp_path / "onnx" / "1" / "demo_pair.onnx")(features), expected, atol=1e-5)


@pytest.mark.slow
def test_predict_writes_submission_files_and_metrics(trained, demo_dir, tmp_path):
    from mtdnn_tf.serving.predict_run import predict_splits

    results = predict_splits(trained, [], "dev", str(demo_dir), output_dir=tmp_path, verbose=False)
    final = json.loads((trained / "metrics.json").read_text())["final"]
    for name, metrics in results.items():
        assert metrics == pytest.approx(final[name]["dev"])  # the trainer's own evaluation
    lines = (tmp_path / "demo_pair.dev.tsv").read_text().splitlines()
    assert lines[0] == "index\tprediction" and len(lines) == 201
    assert {line.split("\t")[1] for line in lines[1:]} <= {"same", "different"}
    scores = [float(line.split("\t")[1]) for line in (tmp_path / "demo_similarity.dev.tsv").read_text().splitlines()[1:]]
    assert min(scores) >= 0.0 and max(scores) <= 5.0


ID_LOADER = """
import json, sys
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
inputs = json.loads(sys.argv[2])
out = {key: {k: v.numpy().tolist() for k, v in model.signatures[request["signature"]](
    **{f: tf.constant(x, tf.int32) for f, x in request["features"].items()}).items()}
       for key, request in inputs.items()}
out["tensorflow_text imported"] = "tensorflow_text" in sys.modules
print(json.dumps(out, default=lambda b: b.decode()))
"""


def token_id_requests(trained_model):
    """Per task, the token-id signature's request for the inputs ``_in_memory`` computes (a ranking group
    gets a padding candidate, all-zero mask, beside its three)."""
    packer = trained_model.packer()
    inputs = {}
    for name, task in trained_model.tasks.items():
        if task.type == "ranking":
            packed = packer.pack(QUERY * 3, CANDIDATES[0])
            features = {k: np.concatenate([v, np.zeros_like(v[:1])])[np.newaxis].tolist() for k, v in packed.items()}
        else:
            packed = packer.pack(*(PAIRS if task.is_pair else PAIRS[:1]))
            features = {k: v.tolist() for k, v in packed.items()}
        inputs[name] = {"signature": name, "features": features}
    return inputs


def assert_token_id_outputs_equal(served, trained_model):
    """The token-id signatures' answers (``ID_LOADER``'s) equal the in-memory model's."""
    for name, task in trained_model.tasks.items():
        expected = _in_memory(trained_model, name)
        scores = served[name].get("scores")
        if task.type == "ranking":
            assert scores[0][3] == -1e9  # the padding candidate
            served[name]["scores"] = [scores[0][:3]]
        for key, value in expected.items():
            if value.dtype.kind in "fi":
                np.testing.assert_allclose(np.asarray(served[name][key]), value, atol=1e-5, err_msg=f"{name}/{key}")
            else:
                assert served[name][key] == [v.decode() for v in value], name


@pytest.mark.slow
def test_token_id_saved_model_serves_without_tensorflow_text(trained, tmp_path):
    trained_model = load_trained_model(trained)
    export_dir = tmp_path / "ids" / "1"
    export_saved_model(trained_model, export_dir, inputs="token_ids")
    inputs = token_id_requests(trained_model)
    for name, task in trained_model.tasks.items():
        if task.type != "ranking":
            packed = {k: np.asarray(v) for k, v in inputs[name]["features"].items()}
            # Any length the client sends: cut to the longest real sequence (13 of 24 columns, say), the
            # signature pads it to a bucket length and answers the same.
            real = int(packed["padding_mask"].sum(-1).max())
            assert real % 8 and real < packed["token_ids"].shape[-1]  # not itself a bucket length
            inputs[f"{name}, trimmed"] = {"signature": name,
                                          "features": {k: v[:, :real].tolist() for k, v in packed.items()}}
    result = subprocess.run([sys.executable, "-c", ID_LOADER, str(export_dir), json.dumps(inputs)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served.pop("tensorflow_text imported") is False
    for name in list(served):
        if name.endswith(", trimmed"):
            full = served[name.removesuffix(", trimmed")]
            for key, value in served.pop(name).items():
                if key == "label":
                    assert value == full[key], name
                else:
                    np.testing.assert_allclose(value, full[key], atol=1e-5, err_msg=f"{name}/{key}")
    assert_token_id_outputs_equal(served, trained_model)
    assert (export_dir / "assets.extra" / "vocabulary.txt").read_text().splitlines() == \
        trained_model.tokenizer.get_vocabulary()
    assert json.loads((export_dir / "assets.extra" / "tokenizer.json").read_text())["lowercase"] is True


def test_bfloat16_export_stores_the_encoder_in_bfloat16_and_answers_like_float32(trained, tmp_path):
    """--precision=bfloat16: every encoder weight is stored as bfloat16 (heads float32), every task's
    signature answers in float32 within bfloat16's rounding of the float32 model, the same labels."""
    trained_model = load_trained_model(trained)
    export_dir = tmp_path / "bf16" / "1"
    export_saved_model(trained_model, export_dir, inputs="token_ids", precision="bfloat16")
    stored = tf.train.load_checkpoint(str(export_dir / "variables" / "variables"))
    dtypes = [dtype for name, dtype in stored.get_variable_to_dtype_map().items() if name.endswith("VARIABLE_VALUE")]
    head_weights = sum(len(trained_model.model.get_layer(f"{name}_head").weights) for name in trained_model.tasks)
    assert dtypes.count(tf.bfloat16) == len(trained_model.model.weights) - head_weights > 0, dtypes
    assert dtypes.count(tf.float32) == head_weights
    served = tf.saved_model.load(str(export_dir))
    for name, request in token_id_requests(trained_model).items():
        task = trained_model.tasks[name]
        got = served.signatures[name](**{k: tf.constant(v, tf.int32) for k, v in request["features"].items()})
        expected = _in_memory(trained_model, name)
        for key, value in expected.items():
            answer = got[key].numpy()
            if task.type == "ranking":
                answer = answer[:, :3]
            if value.dtype.kind == "f":
                assert answer.dtype == np.float32
                np.testing.assert_allclose(answer, value, atol=0.03, rtol=0.03, err_msg=f"{name}/{key}")
            else:
                np.testing.assert_array_equal(answer, value, err_msg=f"{name}/{key}")


def test_bfloat16_is_refused_for_tflite_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mtdnn_tf.export", "--format=tflite", "--precision=bfloat16",
                             f"--model_dir={tmp_path}", f"--export_dir={tmp_path / 'out'}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("error: --precision=bfloat16 is for --format=saved_model")
