"""Per-task tf.data pipelines over tokenised splits.

Every task split is tokenised once into a ``PackedSplit``: its sequences at
their real lengths (``PackedSequences``, memory-mapped from the token cache).
Each epoch, a task's training examples are shuffled with a seed derived from
(seed, epoch, task); within windows of ``sort_window`` batches they are sorted
by length before being cut into batches, and the full batches are shuffled
again, so a batch holds examples of similar length. Only when a batch is made
inside ``tf.data`` are its examples padded, to the smallest of a few fixed
bucket lengths that holds its longest sequence: short GLUE sentences do not pay
for padding to ``max_seq_length``, XLA compiles a handful of shapes instead of
one per batch, and no padded copy of a split is ever held.

Each global batch is cut into one contiguous shard per replica
(``replica_shards``; a shard may be empty when a batch has fewer units than
there are replicas) and each input pipeline (one per worker under
``distribute_datasets_from_function``) makes only its own replicas' shards.
Training targets carry a weight per unit (0 for the rows that
``pad_last_batch`` adds) and the global batch's total weight, by which every
replica divides its summed loss: any split gives the global-batch mean.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from mtdnn_tf.data.packing import truncation_counts

# Padded lengths a batch may take (plus max_seq_length itself).
# Steps of 8 where GLUE inputs cluster, coarser above: 12 shapes up to 128.
BUCKET_STEPS = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512)
DEFAULT_SORT_WINDOW = 32


@dataclasses.dataclass
class PackedSplit:
    """A tokenised split, batched by its units.

    ``sequences`` (``PackedSequences``) holds every example's packed sequence in
    file order; ``labels`` is per unit (None if unlabelled). The unit is the
    example, or for ranking tasks a candidate group: ``group_matrix``
    [groups, size] holds the example index of each candidate (-1 for padding),
    labels are [groups, size] with -1 for padding, and a batch's features are
    [groups, size, length]. ``ids`` are always per example, in file order.
    ``truncation`` counts the examples that lost tokens to the packed length
    (see ``truncation_counts``). With ``soft_targets``, training batches carry
    the teachers' targets per unit too. ``extras``: further per-unit arrays a
    task type keeps (sequence labelling: where each word sits); its
    ``loss_counts``, if any, is how many terms each unit's loss sums (labelled
    tokens), and a batch's loss is divided by their global total instead of
    the unit count.
    """

    sequences: object
    labels: np.ndarray
    ids: list
    skipped: dict = dataclasses.field(default_factory=dict)
    source: str = ""
    group_matrix: np.ndarray = None
    truncation: dict = None
    soft_targets: np.ndarray = None  # knowledge distillation: the teachers' targets per unit (see distillation)
    extras: dict = dataclasses.field(default_factory=dict)

    def __len__(self):
        return len(self.group_matrix) if self.group_matrix is not None else len(self.sequences)

    @property
    def lengths(self):
        """Real (non-padding) length of each unit; of its longest candidate for ranking groups."""
        lengths = self.sequences.lengths
        if self.group_matrix is None:
            return lengths
        return np.where(self.group_matrix >= 0, lengths[np.maximum(self.group_matrix, 0)], 0).max(axis=-1)

    def unit_features(self, units, length=None):
        """Padded int32 features of the units at ``units`` ([k, length], or [k, size, length] for
        groups); ``length`` defaults to the longest of them."""
        units = np.asarray(units, np.int64)
        if length is None:
            length = int(self.lengths[units].max()) if len(units) else 1
        if self.group_matrix is None:
            return self.sequences.padded(units, length)
        rows = self.group_matrix[units]
        return {k: v.reshape(*rows.shape, length) for k, v in self.sequences.padded(rows, length).items()}

    def dense_features(self):
        """Every unit's features, padded to the longest: a copy for small splits (tests, inspection)."""
        return self.unit_features(np.arange(len(self)))


def pack_split(packer, examples, description=None, task=None):
    """Tokenises SplitExamples into a PackedSplit in ``task``'s batching unit (its type's
    ``pack_examples``: candidate groups for ranking, windows of words for sequence labelling), counting
    truncation; examples without a task are packed one sequence each."""
    if task is not None:
        return task.task_type.pack_examples(task, packer, examples, description)
    sequences, lengths = packer.pack_sequences(examples.text_a, examples.text_b, description=description)
    return example_split(examples, sequences, truncation_counts(lengths, packer.max_seq_length))


def example_split(examples, sequences, truncation):
    """The PackedSplit whose batching unit is the example (every type's but ranking's)."""
    return PackedSplit(sequences, examples.labels, examples.ids, dict(examples.skipped), examples.source,
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
    bucket = smallest_bucket(length, tf.constant(buckets, tf.int32))
    return {k: v[..., :bucket] for k, v in features.items()}


def smallest_bucket(length, buckets):
    """The smallest of ``buckets`` (an ascending int32 tensor) that holds ``length``; ``length`` itself
    beyond the largest (a serving client's longer sequence runs at its own length)."""
    index = tf.searchsorted(buckets, tf.reshape(length, [1]))[0]
    return tf.where(index < tf.size(buckets), tf.gather(buckets, tf.minimum(index, tf.size(buckets) - 1)), length)


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


@dataclasses.dataclass(frozen=True)
class InputShard:
    """Which replicas' shards of each global batch one input pipeline makes.

    ``num_replicas`` replicas in all; this pipeline feeds ``first_replica`` and
    the ``local_replicas`` after it, in replica order (as ``tf.distribute``
    places a pipeline's elements: round robin over its devices).
    """

    num_replicas: int = 1
    first_replica: int = 0
    local_replicas: int = 1

    @classmethod
    def of(cls, input_context=None):
        """The shard of a ``tf.distribute.InputContext`` (None: one replica, one pipeline)."""
        if input_context is None:
            return cls()
        local = input_context.num_replicas_in_sync // input_context.num_input_pipelines
        return cls(input_context.num_replicas_in_sync, input_context.input_pipeline_id * local, local)

    @property
    def replicas(self):
        return range(self.first_replica, self.first_replica + self.local_replicas)


def replica_shards(units, num_replicas):
    """A global batch's unit indices cut into ``num_replicas`` contiguous shards whose sizes differ by at
    most one (the first get the extra units; with fewer units than replicas, the last shards are empty)."""
    return np.array_split(np.asarray(units, np.int64), num_replicas)


def train_batches(split, batch_size, seed, epoch, task_index, skip_batches=0, sort_window=DEFAULT_SORT_WINDOW,
                  max_examples=0, num_steps=None):
    """One epoch's training batches of one task as unit-index arrays, starting after ``skip_batches``.

    ``num_steps``: the task's batches this epoch (default: one pass over its
    examples, as Algorithm 1 takes them). A sampler may draw a task more often:
    each further pass is a fresh seeded shuffle (``pass_index``).
    """
    per_pass = num_batches(min(len(split), max_examples) if max_examples else len(split), batch_size)
    num_steps = per_pass if num_steps is None else num_steps
    batches = []
    for pass_index in range(skip_batches // per_pass if per_pass else 0, num_batches(num_steps, per_pass or 1)):
        order = epoch_order(split.lengths, batch_size, seed, epoch, task_index, sort_window, max_examples, pass_index)
        first = max(skip_batches - pass_index * per_pass, 0)
        last = min(per_pass, num_steps - pass_index * per_pass)
        batches += [order[b * batch_size:(b + 1) * batch_size] for b in range(first, last)]
    return batches


class _BatchMaker:
    """Builds a split's batches inside ``tf.data`` from unit indices: gathers the units' real-length
    sequences (``PackedSequences.ragged``), pads them to the batch's bucket and cuts the global batch
    into the shards of ``shard``'s replicas (``replica_shards``, in TensorFlow ops).

    Ranking groups are padded to the largest group of their global batch (``group_width``), not of the
    split: on QNLI v2's dev set (groups of 1 to 3) the encoder runs a third fewer candidates.
    The width is the global batch's, so every replica's shard has the same shape."""

    def __init__(self, split, shard, buckets):
        self.shard = shard
        self.tokens, self.segments = split.sequences.ragged()
        self.pad_id = split.sequences.pad_id
        self.lengths = tf.constant(split.lengths, tf.int32)  # per unit
        self.sequence_lengths = tf.constant(split.sequences.lengths)  # per example, not recomputed per batch
        self.matrix = None if split.group_matrix is None else tf.constant(split.group_matrix, tf.int64)
        self.group_sizes = None if split.group_matrix is None else tf.constant(
            (split.group_matrix >= 0).sum(axis=1), tf.int32)
        self.buckets = tf.constant(buckets, tf.int32)

    def bucket(self, units):
        """The smallest bucket holding the longest of ``units``."""
        return smallest_bucket(tf.reduce_max(tf.gather(self.lengths, units)), self.buckets)

    def group_width(self, units):
        """The largest group among ``units`` (ranking), else 0 (unused)."""
        if self.matrix is None:
            return tf.constant(0, tf.int32)
        return tf.reduce_max(tf.gather(self.group_sizes, units))

    def group_rows(self, units, width):
        """The candidates' example indices of ``units`` [k, width] (-1 padding)."""
        return tf.gather(self.matrix, units)[:, :width]

    def features(self, units, length, width=None):
        """Padded int32 features of ``units`` at ``length`` (groups: [k, width, length]; ``width``
        defaults to the split's largest group)."""
        if self.matrix is not None:
            grouped = self.group_rows(units, tf.shape(self.matrix)[1] if width is None else width)
        rows = units if self.matrix is None else tf.reshape(grouped, [-1])
        real = rows >= 0  # ranking groups' padding candidates are all padding
        safe = tf.maximum(rows, 0)
        mask = tf.sequence_mask(tf.gather(self.sequence_lengths, safe), length) & real[:, None]

        def padded(ragged, fill):
            values = tf.gather(ragged, safe)
            values = values.with_values(tf.cast(values.values, tf.int32))
            dense = values.to_tensor(default_value=fill)  # as wide as the longest row (at most length)
            dense = tf.pad(dense, [[0, 0], [0, length - tf.shape(dense)[1]]], constant_values=fill)
            return tf.where(mask, dense, fill)

        features = {"token_ids": padded(self.tokens, self.pad_id), "segment_ids": padded(self.segments, 0),
                    "padding_mask": tf.cast(mask, tf.int32)}
        if self.matrix is not None:
            shape = tf.concat([tf.shape(grouped), [length]], 0)
            features = {k: tf.reshape(v, shape) for k, v in features.items()}
        return features

    def unit_targets(self, values, rows, width):
        """Per-unit targets (labels, soft targets) of ``rows``; groups' cut to ``width`` candidates."""
        values = tf.gather(values, rows)
        return values if self.matrix is None else values[:, :width]

    def replica_slice(self, size, replica):
        """(start, size) of ``replica``'s shard of a global batch of ``size`` units (as ``replica_shards``)."""
        replicas = self.shard.num_replicas
        base, extra = size // replicas, size % replicas
        return replica * base + tf.minimum(replica, extra), base + tf.cast(replica < extra, size.dtype)

    def per_replica(self, dataset, element):
        """Each global batch of ``dataset`` as this pipeline's replicas' elements, in replica order."""
        first, local = self.shard.first_replica, self.shard.local_replicas
        return dataset.flat_map(lambda *batch: tf.data.Dataset.range(first, first + local).map(
            lambda replica: element(*batch, replica)))


def _unit_matrix(batches, batch_size):
    """Batches of unit indices as ([batches, batch_size] int64 padded with -1, [batches] sizes)."""
    matrix = np.full([len(batches), batch_size], -1, np.int64)
    for row, units in enumerate(batches):
        matrix[row, :len(units)] = units
    return matrix, np.asarray([len(units) for units in batches], np.int64)


def train_dataset(split, batch_size, seed, epoch, task_index, skip_batches=0, sort_window=DEFAULT_SORT_WINDOW,
                  max_examples=0, num_steps=None, pad_last_batch=False, shard=None, buckets=None):
    """One epoch of shuffled, bucketed batches of one task (``train_batches``), made inside ``tf.data``
    from the split's real-length sequences, for the replicas of ``shard`` (an ``InputShard``; default one
    replica, one pipeline).

    Elements are ``(features, targets)``; ``targets`` holds ``labels``, ``weights`` (float32 per unit)
    and ``units`` (the global batch's total weight: what each replica divides its summed loss by), and
    ``soft_targets`` when the split has them. With ``pad_last_batch`` a short batch is filled to
    ``batch_size`` with zero-weight copies of its first unit, so every batch has one shape per bucket.
    ``buckets``: the padded lengths (default ``bucket_lengths`` of the split's packed length).
    """
    shard = shard or InputShard()
    batches = train_batches(split, batch_size, seed, epoch, task_index, skip_batches, sort_window, max_examples,
                            num_steps)
    maker = _BatchMaker(split, shard, buckets or bucket_lengths(_max_length(split)))
    labels = tf.constant(split.labels)
    soft = None if split.soft_targets is None else tf.constant(split.soft_targets)
    counts = split.extras.get("loss_counts")
    counts = None if counts is None else tf.constant(counts, tf.float32)

    def global_batch(row, size):
        units, weights = row[:size], tf.ones([size], tf.float32)
        if pad_last_batch:
            fill = batch_size - size
            units = tf.concat([units, tf.fill([fill], row[0])], 0)
            weights = tf.concat([weights, tf.zeros([fill], tf.float32)], 0)
        terms = weights if counts is None else weights * tf.gather(counts, units)
        return units, weights, maker.bucket(units), maker.group_width(units), tf.reduce_sum(terms)

    def element(units, weights, length, width, total, replica):
        start, size = maker.replica_slice(tf.size(units, out_type=tf.int64), replica)
        rows, shard_weights = units[start:start + size], weights[start:start + size]
        targets = {"labels": maker.unit_targets(labels, rows, width), "weights": shard_weights, "units": total}
        if soft is not None:
            targets["soft_targets"] = maker.unit_targets(soft, rows, width)
        return maker.features(rows, length, width), targets

    dataset = tf.data.Dataset.from_tensor_slices(_unit_matrix(batches, batch_size)).map(global_batch)
    return _finished(maker.per_replica(dataset, element))


def eval_dataset(split, batch_size, bucketed=True, order=None, shard=None):
    """The split's features in batches of ``batch_size`` units, in file order or in ``order`` (indices),
    each padded to its bucket and ranking groups to the batch's largest (or, unbucketed, to the split's
    packed length and largest group), for the replicas of
    ``shard`` (their contiguous shards of each batch: gathered in replica order they give the batch)."""
    shard = shard or InputShard()
    order = np.arange(len(split)) if order is None else np.asarray(order, np.int64)
    maker = _BatchMaker(split, shard, bucket_lengths(_max_length(split)) if bucketed else [_max_length(split)])

    def element(row, size, replica):
        units = row[:size]
        start, shard_size = maker.replica_slice(size, replica)
        width = maker.group_width(units) if bucketed else None
        return maker.features(units[start:start + shard_size], maker.bucket(units), width)

    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    dataset = tf.data.Dataset.from_tensor_slices(_unit_matrix(batches, batch_size))
    return _finished(maker.per_replica(dataset, element))


def _finished(dataset):
    """A prefetch of a few batches, without tf.data's autotuning: its model thread made every iterator's
    deletion wait (for a minute and more on a busy machine, with eight replicas' iterators an epoch)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(2).with_options(options)


def _max_length(split):
    """The packed length the split's sequences were cut to (its truncation record), else its longest."""
    if split.truncation and split.truncation.get("max_seq_length"):
        return int(split.truncation["max_seq_length"])
    return max(int(split.lengths.max()) if len(split) else 1, 1)
