"""Per-task tf.data pipelines over tokenised splits.

Every task split is tokenised once into numpy arrays (``PackedSplit``). Each
epoch, a task's training examples are shuffled with a seed derived from
(seed, epoch, task); within windows of ``sort_window`` batches they are sorted
by length before being cut into batches, and the full batches are shuffled
again, so a batch holds examples of similar length. Each batch is then cut to
the smallest of a few fixed bucket lengths that holds its longest sequence:
short GLUE sentences do not pay for padding to ``max_seq_length``, and XLA
compiles a handful of shapes instead of one per batch.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from mtdnn_tf.data.packing import FEATURES, truncation_counts

# Padded lengths a batch may take (plus max_seq_length itself).
# Steps of 8 where GLUE inputs cluster, coarser above: 12 shapes up to 128.
BUCKET_STEPS = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512)
DEFAULT_SORT_WINDOW = 32


@dataclasses.dataclass
class PackedSplit:
    """A tokenised split, batched by its first axis.

    ``features`` maps FEATURES to int32 [n, max_len]; ``labels`` is [n] (None if
    unlabelled). For ranking tasks the unit is a candidate group: features are
    [groups, size, max_len], labels [groups, size] with -1 for padding, and
    ``group_matrix`` [groups, size] holds the example index of each candidate.
    ``ids`` are always per example, in file order. ``truncation`` counts the
    examples that lost tokens to the packed length (see ``truncation_counts``).
    With ``soft_targets``, training batches carry (labels, soft targets) as labels.
    """

    features: dict
    labels: np.ndarray
    ids: list
    skipped: dict = dataclasses.field(default_factory=dict)
    source: str = ""
    group_matrix: np.ndarray = None
    truncation: dict = None
    soft_targets: np.ndarray = None  # knowledge distillation: the teachers' targets per unit (see distillation)

    def __len__(self):
        return len(self.features["token_ids"])

    @property
    def lengths(self):
        """Real (non-padding) length of each unit; of its longest candidate for ranking groups."""
        lengths = self.features["padding_mask"].sum(axis=-1)
        return lengths.max(axis=-1) if lengths.ndim > 1 else lengths


def pack_split(packer, examples, description=None, task=None):
    """Tokenises SplitExamples into a PackedSplit in ``task``'s batching unit (its type's
    ``packed_split``: candidate groups for ranking), counting truncation."""
    features, lengths = packer.pack(examples.text_a, examples.text_b, description=description, with_lengths=True)
    truncation = truncation_counts(lengths, packer.max_seq_length)
    if task is not None:
        return task.task_type.packed_split(task, examples, features, truncation)
    return example_split(examples, features, truncation)


def example_split(examples, features, truncation):
    """The PackedSplit whose batching unit is the example (every type's but ranking's)."""
    return PackedSplit(features, examples.labels, examples.ids, dict(examples.skipped), examples.source,
                       truncation=truncation)


def bucket_lengths(max_seq_length):
    """The fixed set of padded lengths used for ``max_seq_length``."""
    return [b for b in BUCKET_STEPS if b < max_seq_length] + [max_seq_length]


def trim_features(features, buckets=None):
    """Cuts the batch's padding columns to the smallest bucket that holds its longest sequence.

    Args:
        features: dict of [..., max_len] tensors with a ``padding_mask``.
        buckets: ascending padded lengths; default ``bucket_lengths(max_len)``
            (needs a static max_len).
    """
    max_len = features["token_ids"].shape[-1]
    if buckets is None:
        buckets = bucket_lengths(max_len)
    length = tf.reduce_max(tf.reduce_sum(tf.cast(features["padding_mask"], tf.int32), axis=-1))
    boundaries = tf.constant(buckets, tf.int32)
    index = tf.minimum(tf.searchsorted(boundaries, tf.reshape(length, [1]))[0], len(buckets) - 1)
    return {k: v[..., : boundaries[index]] for k, v in features.items()}


def _trim(features, labels):
    return trim_features(features), labels


def epoch_permutation(num_examples, seed, epoch, task_index, pass_index=0):
    """The order of one task's training examples in one epoch (deterministic); ``pass_index`` > 0
    for further passes within the epoch (a sampler drew the task more often than it has batches)."""
    return np.random.default_rng(_pass_seed([seed, epoch, task_index], pass_index)).permutation(num_examples)


def _pass_seed(parts, pass_index):
    """Seed parts for one pass: the first pass (0) keeps Algorithm 1's seeds, so its stream is unchanged."""
    return parts + [pass_index] if pass_index else parts


def num_batches(num_examples, batch_size):
    return -(-num_examples // batch_size)


def epoch_order(lengths, batch_size, seed, epoch, task_index, sort_window=DEFAULT_SORT_WINDOW, max_examples=0,
                pass_index=0):
    """One task's example order for one epoch: consecutive ``batch_size`` runs are its batches.

    Deterministic in (seed, epoch, task_index). With ``max_examples``, only the
    first that many of the epoch's shuffle are used (a new draw each epoch).
    With ``sort_window`` > 1, each window of that many batches is sorted by
    length before cutting, and the full batches are then shuffled; the partial
    batch, if any, stays last.
    """
    order = epoch_permutation(len(lengths), seed, epoch, task_index, pass_index)
    if max_examples:
        order = order[:max_examples]
    if sort_window <= 1:
        return order
    window = batch_size * sort_window
    order = np.concatenate([
        chunk[np.argsort(lengths[chunk], kind="stable")]
        for chunk in np.split(order, range(window, len(order), window))
    ]) if len(order) else order
    full = len(order) // batch_size
    batches = order[: full * batch_size].reshape(full, batch_size)
    shuffled = batches[np.random.default_rng(_pass_seed([seed, epoch, task_index, 1], pass_index)).permutation(full)]
    return np.concatenate([shuffled.reshape(-1), order[full * batch_size :]])


def _batched(split, order, batch_size):
    features = {k: split.features[k][order] for k in FEATURES}
    labels = split.labels[order]
    if split.soft_targets is not None:
        labels = (labels, split.soft_targets[order])
    return tf.data.Dataset.from_tensor_slices((features, labels)).batch(batch_size)


def train_dataset(split, batch_size, seed, epoch, task_index, skip_batches=0, sort_window=DEFAULT_SORT_WINDOW,
                  max_examples=0, num_steps=None):
    """One epoch of shuffled, bucketed batches for one task, starting after ``skip_batches``.

    ``num_steps``: the task's batches this epoch (default: one pass over its
    examples, as Algorithm 1 takes them). A sampler may draw a task more often:
    each further pass is a fresh seeded shuffle (``pass_index``).
    """
    per_pass = num_batches(min(len(split), max_examples) if max_examples else len(split), batch_size)
    num_steps = per_pass if num_steps is None else num_steps
    passes = []
    for pass_index in range(skip_batches // per_pass, num_batches(num_steps, per_pass)):
        order = epoch_order(split.lengths, batch_size, seed, epoch, task_index, sort_window, max_examples, pass_index)
        first = max(skip_batches - pass_index * per_pass, 0)
        last = min(per_pass, num_steps - pass_index * per_pass)
        passes.append(_batched(split, order[first * batch_size: last * batch_size], batch_size))
    dataset = passes[0] if passes else _batched(split, np.zeros([0], np.int64), batch_size)
    for later in passes[1:]:
        dataset = dataset.concatenate(later)
    return dataset.map(_trim).prefetch(tf.data.AUTOTUNE)


def eval_dataset(split, batch_size, bucketed=True, order=None):
    """The split batched (and bucketed), in file order or in ``order`` (indices); labels are
    zeros for unlabelled splits."""
    labels = split.labels if split.labels is not None else np.zeros(split.features["token_ids"].shape[:-1], np.float32)
    features = split.features
    if order is not None:
        features, labels = {k: v[order] for k, v in features.items()}, labels[order]
    dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(batch_size)
    if bucketed:
        dataset = dataset.map(_trim)
    return dataset.prefetch(tf.data.AUTOTUNE)
