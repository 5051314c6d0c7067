"""One SavedModel with a signature per task, on raw text, for TF Serving."""

import keras
import tensorflow as tf

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.serving.atomic import atomic_directory
from mtdnn_tf.serving.signatures import input_signature, make_serving_function


def export_saved_model(trained, export_dir, default_task=None, overwrite=False, verbose=False):
    """Writes ``trained`` (a TrainedModel) as a SavedModel to ``export_dir``.

    Every task becomes a signature named after it; ``serving_default`` is
    ``default_task`` (default: the first task). Tokenisation runs in the graph,
    so clients send text. Loading it in Python needs ``import tensorflow_text``
    (its WordPiece ops); TF Serving's model server includes them.

    Args:
        trained: TrainedModel from ``load_trained_model``.
        export_dir: the version folder, e.g. ``saved_models/mtdnn/1``; written
            to a temporary sibling first and renamed when complete.
        default_task: task served as ``serving_default``.
        overwrite: replace an existing ``export_dir``.
    """
    tasks = trained.tasks
    default_task = default_task or next(iter(tasks))
    if default_task not in tasks:
        raise UserInputError(f"--default_task: {default_task!r} is not one of {', '.join(tasks)}")
    packer = trained.packer()
    # keras-hub layers must run once before they are tracked (their lookup tables are built lazily).
    packer.pack(["warm up"], ["warm up"])
    archive = keras.export.ExportArchive()
    # The model is not tracked: the endpoints capture its variables, and tracking it too
    # would store every weight twice (Keras' variable wrappers and the tf.Variables inside).
    archive.track(packer.tokenizer)
    archive.track(packer.packer)
    functions = {name: make_serving_function(task, trained.model, packer) for name, task in tasks.items()}
    archive.add_endpoint("serving_default", tf.function(functions[default_task]), input_signature(tasks[default_task]))
    for name, task in tasks.items():
        archive.add_endpoint(name, tf.function(functions[name]), input_signature(task))
    with atomic_directory(export_dir, overwrite=overwrite) as tmp:
        archive.write_out(str(tmp), verbose=verbose)
    return export_dir
