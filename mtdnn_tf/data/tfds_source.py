"""Task data from tensorflow-datasets (``glue/mrpc``, ``snli``, ...).

For users with network access: ``tfds.load`` downloads and prepares the data
into ``data_dir`` the first time. Class ids are mapped to this project's label
strings by name (or by the task's ``tfds.labels`` list where tfds names the
classes differently), so label ids always follow the task YAML. Every label goes
through its task type (``TaskType.tfds_label``, then ``parse_label``, which checks
a regression task's ``label_range``); rows the type reads as unlabelled (class id
-1, a score of -1.0) are skipped and counted, and a split with no labelled row is
read without labels.
"""

import numpy as np

from mtdnn_tf.data.examples import SplitExamples
from mtdnn_tf.errors import UserInputError, where

NO_LABEL = "tfds rows with label -1 (no label)"


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_tfds_split(task, split, data_dir=None, download=True):
    """Reads split ``split`` (our name, e.g. 'dev') of ``task`` from tensorflow-datasets."""
    import tensorflow_datasets as tfds  # Imported lazily: slow, and only this source needs it.

    source = task.tfds
    if source is None:
        raise UserInputError(f"{task.path}: task {task.name!r} declares no tfds source")
    their_split = source.splits.get(split)
    if their_split is None:
        raise UserInputError(
            f"{where(task.path, field='tfds.splits')}: no tfds split for {split!r}"
            f" (declared: {', '.join(source.splits)})"
        )
    try:
        builder = tfds.builder(source.name, data_dir=data_dir)
        if download:
            builder.download_and_prepare()
        dataset = builder.as_dataset(split=their_split)
    except Exception as e:  # tfds raises many types for a missing or unreachable dataset
        raise UserInputError(
            f"tensorflow-datasets {source.name!r} split {their_split!r} (data_dir={data_dir}): {e}"
        ) from None

    label_feature = builder.info.features[source.label] if source.label in builder.info.features else None
    names = None
    if task.labels and label_feature is not None:  # class labels: tfds class ids map onto the task's names
        names = list(source.labels) if source.labels else list(label_feature.names)
        unknown = [n for n in names if n not in task.labels]
        if unknown:
            raise UserInputError(
                f"{where(task.path, field='tfds.labels')}: tfds classes {unknown} are not task labels"
                f" {list(task.labels)}"
            )
    name = f"tfds:{source.name}/{their_split}"
    text_a, text_b, labels, ids, skipped = [], [], [], [], 0
    for row, record in enumerate(tfds.as_numpy(dataset), 1):
        label = record.get(source.label)
        if label is not None:
            # The task type says what an unlabelled row looks like and checks the label, as for files.
            raw = task.task_type.tfds_label(task, label, names)
            if raw is None:
                skipped += 1
                continue
            try:
                labels.append(task.task_type.parse_label(task, raw))
            except ValueError as e:
                raise UserInputError(f"{name}, row {row}: {e} (task file {task.path})") from None
        text_a.append(_text(record[source.text_a]))
        if source.text_b is not None:
            text_b.append(_text(record[source.text_b]))
        ids.append(str(record[source.id]) if source.id in record else str(len(ids)))
    if not text_a and skipped:
        # A test split: every row is unlabelled. Read it again without labels.
        return _unlabelled(tfds, dataset, source, name)
    if not text_a:
        raise UserInputError(f"{name}: no rows")
    dtype = task.task_type.label_dtype
    return SplitExamples(
        text_a=text_a,
        text_b=text_b if source.text_b is not None else None,
        labels=np.asarray(labels, dtype=dtype) if labels else None,
        ids=ids,
        source=name,
        skipped={NO_LABEL: skipped} if skipped else {},
    )


def _unlabelled(tfds, dataset, source, name):
    text_a, text_b, ids = [], [], []
    for record in tfds.as_numpy(dataset):
        text_a.append(_text(record[source.text_a]))
        if source.text_b is not None:
            text_b.append(_text(record[source.text_b]))
        ids.append(str(record[source.id]) if source.id in record else str(len(ids)))
    return SplitExamples(
        text_a=text_a, text_b=text_b if source.text_b is not None else None, ids=ids, source=name
    )
