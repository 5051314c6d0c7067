"""Knowledge distillation from finished runs (MT-DNN-KD, Liu et al. 2019).

Teachers (finished runs, e.g. differently seeded MT-DNN models: an ensemble)
predict every training unit of each task they share with the student; their
outputs become soft targets (``TaskType.teacher_targets``: averaged class
probabilities, averaged scores, averaged candidate distributions for ranking).
The student's loss on such a task is ``w`` x the soft loss (soft cross-entropy,
or squared error for scores) + (1 - ``w``) x the usual loss on gold labels,
with ``w`` the run's ``distill_weight`` or the task YAML's.

Soft targets are computed once and stored (``<store>/soft_targets/<key>.npz``);
the key hashes the teachers' model files and the packed split, so it changes
when either does. The same averaged outputs on the labelled evaluation splits
give the teacher ensemble's own metrics, recorded beside the student's.
"""

import dataclasses
import hashlib
import json
import pathlib

import numpy as np
import tensorflow as tf

from mtdnn_tf.atomic_files import atomic_file
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.inference.evaluator import Evaluator
from mtdnn_tf.models.backbone import check_same_tokenizer
from mtdnn_tf.models.init_from import check_tasks_match, task_meaning
from mtdnn_tf.run_directory import load_trained_model

SOFT_TARGETS_DIR = "soft_targets"


def _file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def soft_target_key(teacher_digests, task, split):
    """A hex digest of the teachers' model files (their digests), what the task means (its type, label
    order and head kind) and the packed split's contents."""
    digest = hashlib.sha256()
    for part in (*teacher_digests, task.name, json.dumps(task_meaning(task), sort_keys=True)):
        digest.update(str(part).encode("utf-8") + b"\0")
    sequences = split.sequences
    for array in (sequences.token_ids, sequences.segment_ids, sequences.offsets):
        digest.update(str(array.dtype).encode("utf-8"))
        digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))
    if split.group_matrix is not None:
        digest.update(np.ascontiguousarray(split.group_matrix).tobytes())
    return digest.hexdigest()[:24]


def check_teacher_fits(teacher, tokenizer, max_seq_length):
    """Refuses a teacher that would read the student's token ids differently."""
    where = f"--teachers: {teacher.model_dir}"
    check_same_tokenizer(teacher.tokenizer, tokenizer, where, "the student's")
    if teacher.max_seq_length < max_seq_length:
        raise UserInputError(f"{where} was trained at --max_seq_length={teacher.max_seq_length}, shorter than the"
                             f" student's {max_seq_length}")


def compute_soft_targets(teachers, task, split, batch_size=64, verbose=False):
    """The teachers' soft targets for every unit of ``split`` (teachers: TrainedModel values with the task).

    ``verbose``: a progress bar per teacher (a long wait on a large training split).
    """
    outputs = [Evaluator(t.model, tf.distribute.get_strategy(), batch_size).predict(
                   task, split, description=f"Teacher {i} of {len(teachers)} ({t.model_dir}) on {task.name}"
                   if verbose else None)
               for i, t in enumerate(teachers, 1)]
    return task.task_type.teacher_targets(task, outputs, split)


def ensemble_metrics(teachers, task, splits):
    """The teachers' ensemble (their averaged outputs, as soft targets) scored on each labelled split."""
    return {name: task.task_type.evaluate(task, compute_soft_targets(teachers, task, split), split)
            for name, split in splits.items() if split.labels is not None}


def attach_soft_targets(train_splits, tasks, teacher_dirs, tokenizer, max_seq_length, store_dir, verbose=True,
                        eval_splits=None):
    """``train_splits`` with ``soft_targets`` set for each task some teacher has; returns (splits, record).

    ``record`` maps each distilled task to its teacher count and soft-target file, and, with
    ``eval_splits`` (name -> {split: PackedSplit}), to the teacher ensemble's metrics on them
    (``ensemble``: {split: {metric: value}}), for metrics.json.
    Soft targets are read from ``store_dir/soft_targets`` when their key is there.
    """
    teachers = [load_trained_model(d, flag="--teachers") for d in teacher_dirs]
    for teacher in teachers:
        check_teacher_fits(teacher, tokenizer, max_seq_length)
        check_tasks_match(teacher, tasks, origin="--teachers")
    digests = [_file_digest(pathlib.Path(t.model_dir) / "model.keras") for t in teachers]
    store = pathlib.Path(store_dir) / SOFT_TARGETS_DIR
    store.mkdir(parents=True, exist_ok=True)
    for name in train_splits:
        if "distillation" in tasks[name].task_type.unsupported and any(name in t.tasks for t in teachers):
            raise UserInputError(f"--teachers: task {name} is {tasks[name].type}, which distillation does not"
                                 " support; give teachers that were not trained on it")
    splits, record = dict(train_splits), {}
    for name, split in train_splits.items():
        own = [(t, d) for t, d in zip(teachers, digests) if name in t.tasks]
        if not own:
            continue
        key = soft_target_key([d for _, d in own], tasks[name], split)
        path = store / f"{key}.npz"
        if path.is_file():
            with np.load(path) as stored:
                soft = stored["soft_targets"]
        else:
            if verbose:
                print(f"Soft targets for {name}: {len(own)} teacher(s) predicting {len(split)} training units")
            soft = compute_soft_targets([t for t, _ in own], tasks[name], split, verbose=verbose)
            with atomic_file(path) as tmp:
                np.savez(tmp, soft_targets=soft)
        splits[name] = dataclasses.replace(split, soft_targets=soft)
        record[name] = {"teachers": len(own), "soft_targets": str(path)}
        if eval_splits and eval_splits.get(name):  # what the student is distilled from, scored as it will be
            record[name]["ensemble"] = ensemble_metrics([t for t, _ in own], tasks[name], eval_splits[name])
            if verbose:
                print(f"Teacher ensemble on {name}: {record[name]['ensemble']}")
    if not record:
        raise UserInputError(f"--teachers: none of {', '.join(teacher_dirs)} has any of the tasks {', '.join(tasks)}")
    return splits, record

