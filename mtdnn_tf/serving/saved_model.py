"""One SavedModel with a signature per task, on raw text or on token ids, for TF Serving."""

import pathlib

import keras
import tensorflow as tf

from mtdnn_tf.atomic_files import atomic_directory
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.models.encoder_dtype import with_encoder_dtype
from mtdnn_tf.serving.signatures import (
    input_signature,
    make_serving_function,
    make_token_id_serving_function,
    token_id_signature,
)
from mtdnn_tf.serving.tokenizer_files import write_tokenizer_files

INPUT_KINDS = ("text", "token_ids")


def export_saved_model(trained, export_dir, default_task=None, overwrite=False, verbose=False, inputs="text",
                       jit_compile=False, precision="float32"):
    """Writes ``trained`` (a TrainedModel) as a SavedModel to ``export_dir``.

    Every task becomes a signature named after it; ``serving_default`` is
    ``default_task`` (default: the first task).

    With ``inputs="text"``, tokenisation runs in the graph, so clients send
    text; loading it needs ``import tensorflow_text`` (its WordPiece ops), and
    a model server needs those ops linked in. With ``inputs="token_ids"`` the
    signatures take packed ids (see ``signatures``) and use core TensorFlow
    ops only; the tokenizer's files and ``tokenizer.json`` (its settings and how
    to pack: ``tokenizer_files``) are written beside ``saved_model.pb`` under
    ``assets.extra/`` for clients.

    Args:
        trained: TrainedModel from ``load_trained_model``.
        export_dir: the version folder, e.g. ``saved_models/mtdnn/1``; written
            to a temporary sibling first and renamed when complete.
        default_task: task served as ``serving_default``.
        overwrite: replace an existing ``export_dir``.
        inputs: 'text' or 'token_ids'.
        jit_compile: compile each task's model with XLA (faster per request on
            CPUs; one compilation per input shape, at the first request of it).
        precision: 'float32', or 'bfloat16': the encoder's weights and products in
            bfloat16 (half the size; faster on CPUs with bfloat16 units, AVX-512 BF16
            or AMX), the heads and outputs float32.
    """
    tasks = trained.tasks
    default_task = default_task or next(iter(tasks))
    if default_task not in tasks:
        raise UserInputError(f"--default_task: {default_task!r} is not one of {', '.join(tasks)}")
    if inputs not in INPUT_KINDS:
        raise UserInputError(f"--inputs: {inputs!r} is not one of {', '.join(INPUT_KINDS)}")
    model = with_encoder_dtype(trained.model, tasks, trained.head_input, precision)
    # The model is not tracked: the endpoints capture its variables, and tracking it too
    # would store every weight twice (Keras' variable wrappers and the tf.Variables inside).
    archive = keras.export.ExportArchive()
    if inputs == "text":
        packer = trained.packer()
        # keras-hub layers must run once before they are tracked (their lookup tables are built lazily).
        packer.pack(["warm up"], ["warm up"])
        archive.track(packer.tokenizer)
        archive.track(packer.packer)
        functions = {name: make_serving_function(task, model, packer, jit_compile) for name, task in tasks.items()}
        signatures = {name: input_signature(task) for name, task in tasks.items()}
    else:
        functions = {name: make_token_id_serving_function(task, model, jit_compile) for name, task in tasks.items()}
        signatures = {name: token_id_signature(task) for name, task in tasks.items()}
    archive.add_endpoint("serving_default", tf.function(functions[default_task]), signatures[default_task])
    for name in tasks:
        archive.add_endpoint(name, tf.function(functions[name]), signatures[name])
    with atomic_directory(export_dir, overwrite=overwrite) as tmp:
        archive.write_out(str(tmp), verbose=verbose)
        if inputs == "token_ids":
            extra = pathlib.Path(tmp) / "assets.extra"
            extra.mkdir(exist_ok=True)
            write_tokenizer_files(trained.tokenizer, trained.max_seq_length, extra)
    return export_dir
