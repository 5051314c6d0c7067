"""The work behind ``python -m mtdnn_tf.predict``, callable from Python."""

import json
import pathlib

import tensorflow as tf

from mtdnn_tf.data.loading import DataSource
from mtdnn_tf.data.pipeline import pack_split
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.inference.evaluator import Evaluator
from mtdnn_tf.run_directory import load_trained_model
from mtdnn_tf.serving.predictions import split_metrics


def submission_file_name(task, split):
    """GLUE's file name for a split (``submission_files`` in the task YAML), else ``<task>.<split>.tsv``
    (``.conll`` for sequence labelling: its type's ``prediction_file_extension``)."""
    return task.submission_files.get(split, f"{task.name}.{split}.{task.task_type.prediction_file_extension}")


def predict_splits(model_dir, task_names, split, data_dir, data_source="files", output_dir=None,
                   batch_size=64, verbose=True):
    """Predicts ``split`` of each task; writes submission files and, for labelled splits,
    ``predict_metrics.json``. Returns {task: metrics or None}."""
    trained = load_trained_model(model_dir)
    names = task_names or list(trained.tasks)
    unknown = [n for n in names if n not in trained.tasks]
    if unknown:
        raise UserInputError(f"--tasks: {', '.join(unknown)} not in the model (it has {', '.join(trained.tasks)})")
    output_dir = pathlib.Path(output_dir or pathlib.Path(model_dir) / "predictions")
    source = DataSource(data_dir, data_source)
    evaluator = Evaluator(trained.model, tf.distribute.get_strategy(), batch_size)
    packer = trained.packer()
    results = {}
    for name in names:
        task = trained.tasks[name]
        examples = source.read(task, split)
        packed = pack_split(packer, examples, task=task)
        outputs = evaluator.predict(task, packed)
        path = output_dir / submission_file_name(task, split)
        task.task_type.write_predictions(task, path, examples, outputs, packed)
        results[name] = split_metrics(task, outputs, packed)
        if verbose:
            metrics = "" if results[name] is None else "  " + json.dumps(results[name])
            print(f"{name}/{split}: {len(examples)} predictions -> {path}{metrics}")
    if any(v is not None for v in results.values()):
        (output_dir / "predict_metrics.json").write_text(json.dumps({split: results}, indent=2) + "\n")
    return results
