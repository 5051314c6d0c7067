"""Grouping ranking examples (query, candidate) into candidate lists.

A ranking task's rows share a group key (e.g. the QNLI question). Each group
becomes one row of an index matrix [groups, max group size]; shorter groups
are padded with -1, and the padding is masked out of the loss and metrics.
A group without a positive candidate has no listwise loss: it is an error,
unless the task sets ``no_positive: skip``, which skips and counts it.
"""

import numpy as np

from mtdnn_tf.errors import UserInputError

NO_POSITIVE = "ranking groups without a positive candidate"


def group_candidates(examples, no_positive="error"):
    """Returns (index matrix [groups, size] with -1 padding, skipped counts).

    Args:
        examples: SplitExamples with ``groups`` and 0/1 ``labels``.
        no_positive: 'error' or 'skip' for groups with no positive label.
    """
    if examples.groups is None:
        raise UserInputError(f"{examples.source}: a ranking split needs a group column")
    members = {}
    for index, key in enumerate(examples.groups):
        members.setdefault(key, []).append(index)
    groups, skipped = [], 0
    for key, indices in members.items():
        if examples.labels is not None and not any(examples.labels[i] == 1 for i in indices):
            if no_positive == "skip":
                skipped += 1
                continue
            raise UserInputError(
                f"{examples.source}: ranking group {key!r} (row id {examples.ids[indices[0]]}) has no"
                " positive candidate; set 'no_positive: skip' in the task YAML to skip such groups"
            )
        groups.append(indices)
    if not groups:
        raise UserInputError(f"{examples.source}: no ranking group has a positive candidate")
    size = max(len(g) for g in groups)
    matrix = np.full((len(groups), size), -1, dtype=np.int64)
    for row, indices in enumerate(groups):
        matrix[row, : len(indices)] = indices
    return matrix, ({NO_POSITIVE: skipped} if skipped else {})


def group_labels(labels, matrix):
    """Labels [groups, size] of the candidates in ``matrix`` (-1 marks padding)."""
    grouped = np.asarray(labels)[np.maximum(matrix, 0)].astype(np.float32)
    grouped[matrix < 0] = -1.0
    return grouped
