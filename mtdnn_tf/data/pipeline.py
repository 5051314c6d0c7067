"""Per-task tf.data pipelines over tokenised splits.

Every task split is tokenised once into numpy arrays (``PackedSplit``). Each
epoch, a task's training examples are shuffled with a seed derived from
(seed, epoch, task) and cut into batches; each batch is trimmed to its longest
real sequence (rounded up to a multiple of 8), so short GLUE sentences do not
pay for padding to ``max_seq_length``.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from mtdnn_tf.data.packing import FEATURES
from mtdnn_tf.data.ranking import gather_groups, group_candidates

PAD_MULTIPLE = 8


@dataclasses.dataclass
class PackedSplit:
    """A tokenised split, batched by its first axis.

    ``features`` maps FEATURES to int32 [n, max_len]; ``labels`` is [n] (None if
    unlabelled). For ranking tasks the unit is a candidate group: features are
    [groups, size, max_len], labels [groups, size] with -1 for padding, and
    ``group_matrix`` [groups, size] holds the example index of each candidate.
    ``ids`` are always per example, in file order.
    """

    features: dict
    labels: np.ndarray
    ids: list
    skipped: dict = dataclasses.field(default_factory=dict)
    source: str = ""
    group_matrix: np.ndarray = None

    def __len__(self):
        return len(self.features["token_ids"])


def pack_split(packer, examples, description=None, task=None):
    """Tokenises SplitExamples into a PackedSplit (grouped for ranking ``task``)."""
    features = packer.pack(examples.text_a, examples.text_b, description=description)
    if task is None or not task.is_ranking:
        return PackedSplit(features, examples.labels, examples.ids, dict(examples.skipped), examples.source)
    matrix, skipped = group_candidates(examples, task.no_positive)
    labels = examples.labels if examples.labels is not None else np.zeros(len(examples), np.int32)
    grouped, grouped_labels = gather_groups(features, labels, matrix)
    return PackedSplit(
        grouped,
        grouped_labels if examples.labels is not None else None,
        examples.ids,
        {**examples.skipped, **skipped},
        examples.source,
        group_matrix=matrix,
    )


def trim_features(features):
    """Cuts the batch's padding columns beyond its longest sequence (rounded up)."""
    length = tf.reduce_max(tf.reduce_sum(features["padding_mask"], axis=-1))
    length = (length + PAD_MULTIPLE - 1) // PAD_MULTIPLE * PAD_MULTIPLE
    length = tf.minimum(length, tf.shape(features["token_ids"])[-1])
    return {k: v[..., :length] for k, v in features.items()}


def _trim(features, labels):
    return trim_features(features), labels


def epoch_permutation(num_examples, seed, epoch, task_index):
    """The order of one task's training examples in one epoch (deterministic)."""
    rng = np.random.default_rng([seed, epoch, task_index])
    return rng.permutation(num_examples)


def num_batches(num_examples, batch_size):
    return -(-num_examples // batch_size)


def train_dataset(split, batch_size, seed, epoch, task_index, skip_batches=0):
    """One epoch of shuffled, trimmed batches for one task, starting after ``skip_batches``."""
    order = epoch_permutation(len(split), seed, epoch, task_index)[skip_batches * batch_size :]
    features = {k: split.features[k][order] for k in FEATURES}
    dataset = tf.data.Dataset.from_tensor_slices((features, split.labels[order]))
    return dataset.batch(batch_size).map(_trim).prefetch(tf.data.AUTOTUNE)


def eval_dataset(split, batch_size):
    """The split in file order, batched and trimmed; labels are zeros for unlabelled splits."""
    labels = split.labels if split.labels is not None else np.zeros(split.features["token_ids"].shape[:-1], np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((split.features, labels))
    return dataset.batch(batch_size).map(_trim).prefetch(tf.data.AUTOTUNE)
