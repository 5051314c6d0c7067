"""ONNX models per task on token ids, converted by tf2onnx, for ONNX Runtime.

Each ``<task>.onnx`` takes ``token_ids``, ``segment_ids``, ``padding_mask``
(int32 [batch, length]; both dimensions dynamic, so a request runs at its own
length) and returns what the task's TFLite model returns: ``probabilities``
(classification; per subword for sequence labelling) or ``score``. The graph is
the task's head on the encoder without the SavedModel's bucket lookup
(tf2onnx cannot convert ``LowerBound``). With ``quantize``, ``<task>.int8.onnx``
holds ONNX Runtime's dynamic int8 quantisation of the same graph. The
tokenizer's files and ``tokenizer.json`` are written beside them.

Needs the ``onnx`` extra: ``pip install "mtdnn_tf[onnx]"`` (tf2onnx, onnxruntime).

Example:

```python
export_onnx(load_trained_model("runs/glue_local"), "saved_models/glue_onnx/1")
OnnxRunner("saved_models/glue_onnx/1/mrpc.onnx")(packed)  # packed: dict of int32 arrays
```
"""

import pathlib

import numpy as np
import tensorflow as tf

from mtdnn_tf.atomic_files import atomic_directory
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.features import FEATURES
from mtdnn_tf.models.encoder_dtype import trained_with_encoder_dtype, with_encoder_dtype
from mtdnn_tf.models.mtdnn_model import task_model
from mtdnn_tf.serving.tflite import token_id_function, write_token_id_files

OPSET = 17


def _require(module):
    import importlib  # noqa: PLC0415

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserInputError(f"--format=onnx needs {module}: pip install \"mtdnn_tf[onnx]\"") from None


def convert_task(trained, task_name):
    """The ONNX model (bytes) of one task's head on the shared encoder, dynamic batch and length."""
    tf2onnx = _require("tf2onnx")
    task = trained.tasks[task_name]
    # A float32 graph also for a run trained in mixed_bfloat16 (see models/encoder_dtype.py).
    model = with_encoder_dtype(trained.model, trained.tasks, trained.head_input, "float32")
    function = tf.function(token_id_function(task, task_model(model, task_name)))
    signature = [tf.TensorSpec([None, None], tf.int32, name=name) for name in FEATURES]
    proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=OPSET)
    return proto.SerializeToString()


def quantize(model_bytes, directory):
    """ONNX Runtime's dynamic int8 quantisation (weights int8, activations quantised per call) of a model."""
    _require("onnxruntime")
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415

    source, target = pathlib.Path(directory) / "float.onnx", pathlib.Path(directory) / "int8.onnx"
    source.write_bytes(model_bytes)
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    data = target.read_bytes()
    source.unlink()
    target.unlink()
    return data


def export_onnx(trained, export_dir, quantize_int8=False, overwrite=False):
    """Writes ``<task>.onnx`` for every task (and ``<task>.int8.onnx`` with ``quantize_int8``), the
    tokenizer's files and ``tokenizer.json`` into ``export_dir`` (atomically)."""
    trained = trained_with_encoder_dtype(trained, "float32")  # once for every task
    with atomic_directory(export_dir, overwrite=overwrite) as tmp:
        tmp = pathlib.Path(tmp)
        for name in trained.tasks:
            model = convert_task(trained, name)
            (tmp / f"{name}.onnx").write_bytes(model)
            if quantize_int8:
                (tmp / f"{name}.int8.onnx").write_bytes(quantize(model, tmp))
        write_token_id_files(trained, trained.max_seq_length, tmp,
                             f"any length up to {trained.max_seq_length} (the request's own)")
    return export_dir


class OnnxRunner:
    """Runs one exported ``.onnx`` task model with ONNX Runtime on the CPU; a call returns the model's
    first output (``probabilities`` or ``score``) for packed features of any batch size and length.

    Args:
        path: the ``<task>.onnx`` (or ``<task>.int8.onnx``) file.
        threads: ONNX Runtime's intra-op threads (default: its own choice, every core).
    """

    def __init__(self, path, threads=None):
        ort = _require("onnxruntime")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, features):
        return self.session.run(None, {name: np.asarray(features[name], np.int32) for name in FEATURES})[0]
