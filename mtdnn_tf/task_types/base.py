"""What every task type provides; the built-in types override what differs.

The methods, by the module that asks:
- tasks (YAML checks): ``validate``, ``num_outputs``, ``unsupported``;
- data (readers, packing, sampling): ``check_row``, ``parse_label``, ``labels_array``, ``tfds_label``,
  ``label_dtype``, ``pack_examples`` (``packed_split``), ``sample_fraction``;
- model and training: ``forward`` (``flatten_features``, ``unflatten_outputs``), ``per_example_loss``,
  ``divergence`` (SMART);
- knowledge distillation: ``teacher_targets``, ``soft_loss``;
- evaluation: ``join_outputs``, ``evaluate`` (``compute_metrics``), ``chance_level``;
- serving: ``text_input_signature``, ``serve_text``, ``token_id_rank``, ``mask_padding``,
  ``serving_outputs``, ``tflite_outputs``, ``prediction_strings``, ``write_predictions``.
"""

import pathlib

import numpy as np
import tensorflow as tf

from mtdnn_tf.data.packing import truncation_counts
from mtdnn_tf.data.pipeline import example_split
from mtdnn_tf.data.sampling import fraction_size, sample_indices


class TaskType:
    """One kind of task (classification, regression, ranking, ...).

    Stateless: every method takes the ``TaskConfig`` it works for. Register a
    subclass with ``@register_task_type``; task YAMLs name it in ``type``.

    Class attributes:
        name: the YAML ``type`` value.
        metrics: metric name -> fn(outputs, labels) -> float; a task's YAML
            ``metrics`` lists some of these names.
        label_dtype: numpy dtype of the parsed labels.
        token_id_rank: rank of one serving input tensor on token ids
            (2: [batch, length]; 3 for ranking: [batch, candidates, length]).
        has_candidate_groups, has_label_range: whether the YAML's ``no_positive``
            and ``label_range`` apply to the type.
        per_token: the head gives one output per token (``sequence_output``), not one per example.
        unsupported: training features the type refuses ('smart', 'distillation'), one line each.
        prediction_file_extension: of ``mtdnn_tf.predict``'s files when the YAML names none.
    """

    name = None
    metrics = {}
    label_dtype = np.int32
    token_id_rank = 2
    has_candidate_groups = False  # ranking: ``no_positive`` and a group column apply
    has_label_range = False  # regression: ``label_range`` applies
    per_token = False
    unsupported = ()
    prediction_file_extension = "tsv"

    # -- the task file -------------------------------------------------------
    def validate(self, task, fail):
        """Checks the fields this type constrains; ``fail(field, message)`` raises."""
        if task.no_positive != "error" and not self.has_candidate_groups:
            fail("no_positive", "only ranking tasks have candidate groups")
        if task.label_range is not None and not self.has_label_range:
            fail("label_range", "only regression tasks have a label range")

    def num_outputs(self, task):
        """Width of the task head's output (1: a scalar score per example)."""
        return 1

    # -- data ----------------------------------------------------------------
    def check_row(self, task, text_a, text_b, label):
        """Checks one read row's values (after ``parse_label``); ValueError(message) if they do not fit:
        by default, texts must be strings."""
        for value, which in ((text_a, "first"), (text_b, "second")):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"the {which} text is not text: {value!r}")

    def labels_array(self, task, labels):
        """The split's parsed labels as one numpy array (``label_dtype``)."""
        return np.asarray(labels, dtype=self.label_dtype)

    def parse_label(self, task, raw):
        """The label value of one raw label string: its index in the task's ``labels``;
        ValueError(message) if it is not one."""
        raw = str(raw)
        if raw not in task.labels:
            raise ValueError(f"label {raw!r} is not one of {list(task.labels)}")
        return task.labels.index(raw)

    def tfds_label(self, task, value, names):
        """The raw label string of one tensorflow-datasets label value, for ``parse_label``; None where
        TFDS marks the row unlabelled. Class ids: -1 is no label, others index ``names`` (the task's
        ``tfds.labels``, or the dataset's class names)."""
        index = int(value)
        return None if index < 0 else names[index]

    def pack_examples(self, task, packer, examples, description=None):
        """Tokenises SplitExamples into a PackedSplit (a ``TextPacker``; ``description``: a progress bar's
        title): texts packed by ``packer``, truncation counted, then ``packed_split``."""
        sequences, lengths = packer.pack_sequences(examples.text_a, examples.text_b, description=description)
        return self.packed_split(task, examples, sequences, truncation_counts(lengths, packer.max_seq_length))

    def packed_split(self, task, examples, sequences, truncation):
        """A PackedSplit of tokenised ``examples`` (SplitExamples; their ``PackedSequences``) in this
        type's batching unit."""
        return example_split(examples, sequences, truncation)

    def sample_fraction(self, task, examples, fraction, seed):
        """A seeded subset of ``examples`` holding ``fraction`` of them (uniform draw)."""
        size = fraction_size(len(examples), fraction)
        return examples.subset(sample_indices(examples.labels, size, seed, stratify=False))

    # -- model and training ----------------------------------------------------
    def forward(self, head_model, features, training=False):
        """The head model's raw output on a batch of packed features (batch units)."""
        return self.unflatten_outputs(head_model(self.flatten_features(features), training=training), features)

    def flatten_features(self, features):
        """The batch's features as packed sequences [n, length] for the encoder."""
        return features

    def unflatten_outputs(self, raw, features):
        """Per-sequence outputs back in the batch's units."""
        return raw

    def divergence(self, clean, perturbed, features):
        """Per-unit divergence between two outputs for the same inputs (SMART's regulariser):
        squared error of scores by default."""
        return tf.square(tf.cast(clean, tf.float32) - tf.cast(perturbed, tf.float32))

    def per_example_loss(self, task, labels, outputs):
        """Unweighted float32 loss per batch unit."""
        raise NotImplementedError

    # -- knowledge distillation ----------------------------------------------
    def teacher_targets(self, task, teacher_outputs, split):
        """Soft targets from several teachers' outputs on ``split`` (a PackedSplit): their mean score."""
        return np.mean([np.asarray(o, np.float32) for o in teacher_outputs], axis=0)

    def soft_loss(self, task, soft_targets, outputs, features):
        """Per-unit loss against soft targets: squared error of scores by default."""
        return tf.square(tf.cast(outputs, tf.float32) - tf.cast(soft_targets, tf.float32))

    # -- evaluation ----------------------------------------------------------
    def join_outputs(self, task, parts, split):
        """One array of outputs for all of ``split``'s units from the batches' outputs, in batch order."""
        return np.concatenate(parts)

    def evaluate(self, task, outputs, split):
        """Metric name -> value on a labelled PackedSplit from ``outputs`` (``join_outputs``'s, in unit
        order): ``compute_metrics`` of its labels by default."""
        return self.compute_metrics(task, outputs, split.labels)

    def compute_metrics(self, task, outputs, labels):
        """Metric name -> value for the metrics the task lists."""
        outputs, labels = np.asarray(outputs), np.asarray(labels)
        return {name: self.metrics[name](outputs, labels) for name in task.metrics}

    def chance_level(self, task, labels):
        """The task's metrics for the best constant prediction (0 for correlations)."""
        return {name: 0.0 for name in task.metrics}

    # -- serving ----------------------------------------------------------------
    def text_input_signature(self, task):
        """The raw-text serving inputs: ``sentence``, or ``sentence1`` and ``sentence2``, [batch] strings."""
        names = ("sentence1", "sentence2") if task.is_pair else ("sentence",)
        return [tf.TensorSpec([None], tf.string, name=name) for name in names]

    def serve_text(self, task, forward, features_of, packer):
        """The raw-text serving function: its arguments are ``text_input_signature``'s tensors.

        Args:
            forward: packed features -> the head's raw output.
            features_of: (text_a, text_b or None) -> packed features.
            packer: the run's ``TextPacker`` (for types that pack otherwise).
        """
        if task.is_pair:
            def serve(sentence1, sentence2):
                check_same_batch(task, sentence1, sentence2, ("sentence1", "sentence2"))
                return self.serving_outputs(task, forward(features_of(sentence1, sentence2)))
        else:
            def serve(sentence):
                sentence = tf.ensure_shape(sentence, [None])
                return self.serving_outputs(task, forward(features_of(sentence, None)))
        return serve

    def mask_padding(self, raw, features):
        """The raw output with padding units (ranking's empty candidates) masked."""
        return raw

    def serving_outputs(self, task, raw):
        """Named serving outputs from the head's raw output."""
        return {"score": tf.cast(raw, tf.float32)}

    def tflite_outputs(self, task, raw):
        """Named outputs of the task's TFLite model (one prediction per packed pair)."""
        return {"score": tf.cast(raw, tf.float32)}

    def prediction_strings(self, task, outputs, split):
        """One prediction string per example of ``split`` (a PackedSplit), in file order: by default the
        head's raw output (a score; several outputs space-separated)."""
        values = np.asarray(outputs, np.float64).reshape(len(split.ids), -1)
        return [" ".join(f"{value:.6g}" for value in row) for row in values]

    def write_predictions(self, task, path, examples, outputs, split):
        """Writes ``mtdnn_tf.predict``'s file for ``examples`` (SplitExamples, packed as ``split``):
        GLUE's submission layout, ``index<TAB>prediction`` (``prediction_strings``)."""
        write_submission(path, examples.ids, self.prediction_strings(task, outputs, split))


def write_submission(path, ids, predictions):
    """A GLUE submission file: header ``index<TAB>prediction``, one row per example."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["index\tprediction"] + [f"{i}\t{p}" for i, p in zip(ids, predictions)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def softmax(scores):
    """Softmax over the last axis of a numpy array (-inf entries get probability 0)."""
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def check_same_batch(task, first, second, names):
    """A loaded signature checks dtypes but not shapes: check ranks and batch sizes in the graph."""
    first, second = tf.ensure_shape(first, [None]), tf.ensure_shape(second, [None] * len(second.shape))
    tf.debugging.assert_equal(tf.shape(first)[0], tf.shape(second)[0], message=(
        f"{task.name}: {names[0]} and {names[1]} must have the same batch size"))
