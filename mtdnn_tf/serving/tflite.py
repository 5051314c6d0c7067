"""TFLite models per task, on token ids (tokenise with the exported vocabulary).

Each ``<task>.tflite`` takes three int32 inputs of shape [batch, length]
(``token_ids``, ``segment_ids``, ``padding_mask``; both dimensions are dynamic,
so a request runs at its own length, unless a length is fixed at export) and
returns ``probabilities`` (class probabilities; per subword for sequence
labelling) for classification, or ``score`` for regression and ranking (one
score per (query, candidate) pair).

Conversion goes through a SavedModel (``TFLiteConverter.from_saved_model``),
which freezes the variables into the flatbuffer: converting concrete functions
directly left resource variables uninitialised and produced NaN here.
"""

import pathlib
import tempfile

import keras
import numpy as np
import tensorflow as tf

from mtdnn_tf.atomic_files import atomic_directory
from mtdnn_tf.features import FEATURES
from mtdnn_tf.models.encoder_dtype import trained_with_encoder_dtype, with_encoder_dtype
from mtdnn_tf.models.mtdnn_model import task_model
from mtdnn_tf.serving.tokenizer_files import write_tokenizer_files


def token_id_function(task, head_model):
    """The task's head on the three packed inputs, returning its type's ``tflite_outputs`` (the TFLite and
    ONNX models' function: no bucket lookup, which neither converter takes)."""
    def serve(token_ids, segment_ids, padding_mask):
        raw = head_model(dict(zip(FEATURES, (token_ids, segment_ids, padding_mask))), training=False)
        return task.task_type.tflite_outputs(task, raw)

    return serve


def write_token_id_files(trained, seq_length, directory, length_note):
    """The tokenizer's files, ``tokenizer.json`` and a README.txt on the inputs (``length_note``: how long
    they may be) beside token-id models (TFLite, ONNX)."""
    packing = write_tokenizer_files(trained.tokenizer, seq_length, directory)
    start, separator, end = (" ".join(packing[k]) for k in ("start", "separator", "end"))
    (pathlib.Path(directory) / "README.txt").write_text(
        f"Inputs: token_ids, segment_ids, padding_mask, int32 [batch, length]; {length_note};\n"
        f"pack as {start} A {separator} B {end} (one text: {start} A {end}) with the tokenizer's files and the"
        f" settings in tokenizer.json, pad with {packing['pad_id']}.\n"
        "Outputs: probabilities (classification; sequence labelling: per subword) or score (regression,"
        " ranking).\n",
        encoding="utf-8",
    )


def convert_task(trained, task_name, seq_length=None, quantize=False):
    """Returns the TFLite flatbuffer (bytes) of one task's head on the shared encoder; ``seq_length``
    fixes the input length (default: dynamic, the interpreter resizes to each request's)."""
    task = trained.tasks[task_name]
    # TFLite converts float32 operations only (a run trained in mixed_bfloat16 computes its encoder in bfloat16).
    model = with_encoder_dtype(trained.model, trained.tasks, trained.head_input, "float32")
    head_model = task_model(model, task_name)
    signature = [tf.TensorSpec([None, seq_length], tf.int32, name=n) for n in FEATURES]
    archive = keras.export.ExportArchive()  # the endpoint captures the variables; no track(): no second copy
    archive.add_endpoint("serving_default", tf.function(token_id_function(task, head_model)), signature)
    with tempfile.TemporaryDirectory() as tmp:
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic-range int8 weights
        return converter.convert()


def export_tflite(trained, export_dir, seq_length=None, quantize=False, overwrite=False):
    """Writes ``<task>.tflite`` for every task (and ``<task>.int8.tflite`` with ``quantize``),
    plus the tokenizer's files and ``tokenizer.json`` (its settings, the length and how to pack),
    into ``export_dir`` (atomically). ``seq_length`` fixes the input length (default: dynamic)."""
    trained = trained_with_encoder_dtype(trained, "float32")  # once for every task
    with atomic_directory(export_dir, overwrite=overwrite) as tmp:
        tmp = pathlib.Path(tmp)
        for name in trained.tasks:
            (tmp / f"{name}.tflite").write_bytes(convert_task(trained, name, seq_length))
            if quantize:
                (tmp / f"{name}.int8.tflite").write_bytes(convert_task(trained, name, seq_length, True))
        write_token_id_files(trained, seq_length or trained.max_seq_length, tmp,
                             f"length {seq_length} (fixed at export)" if seq_length else
                             f"any length up to {trained.max_seq_length} (the request's own)")
    return export_dir


class TFLiteRunner:
    """Runs one exported ``.tflite`` task model with the LiteRT interpreter.

    Example:

    ```python
    runner = TFLiteRunner("saved_models/demo_tflite/1/demo_pair.tflite")
    runner(packed)  # packed: dict of int32 arrays [batch, seq_length]
    ```
    """

    def __init__(self, path):
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415 - optional at import time

        self.interpreter = Interpreter(model_path=str(path))
        self.runner = self.interpreter.get_signature_runner("serving_default")

    def __call__(self, features):
        inputs = {name: np.asarray(features[name], np.int32) for name in FEATURES}
        outputs = self.runner(**inputs)
        return outputs["probabilities"] if "probabilities" in outputs else outputs["score"]
