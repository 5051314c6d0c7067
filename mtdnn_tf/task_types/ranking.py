"""Relevance ranking: candidates grouped by query, scored and ranked (QNLI as in the paper)."""

import numpy as np
import tensorflow as tf

from mtdnn_tf import losses, metrics
from mtdnn_tf.data.pipeline import PackedSplit
from mtdnn_tf.data.ranking import group_candidates, group_labels
from mtdnn_tf.data.sampling import fraction_size, sample_indices
from mtdnn_tf.features import MASKED_SCORE
from mtdnn_tf.task_types.base import TaskType, check_same_batch, softmax
from mtdnn_tf.task_types.registry import register_task_type


@register_task_type
class RankingType(TaskType):
    """The batching unit is a candidate group: features [groups, size, length],
    labels [groups, size] (1 positive, 0 negative, -1 padding). Scores come
    from the head per (query, candidate) pair; the loss is listwise (the paper's
    equations 8-9). Serving takes ``query`` [batch] and ``candidates``
    [batch, candidates] and returns ``scores``; padded candidates score
    ``MASKED_SCORE``. Predictions: each group's top candidate gets the positive
    label, the others the negative one.
    """

    name = "ranking"
    metrics = {"ranking_accuracy": metrics.ranking_accuracy, "accuracy": metrics.ranking_pair_accuracy}
    token_id_rank = 3
    has_candidate_groups = True

    def validate(self, task, fail):
        super().validate(task, fail)
        if len(task.labels) != 2:
            fail("labels", "a ranking task needs two labels: [negative, positive]")
        if task.files is not None:
            for split_name, split in task.files.splits.items():
                if split.group is None:
                    fail(f"files.splits.{split_name}.group", "a ranking task needs a group column")

    def packed_split(self, task, examples, sequences, truncation):
        matrix, skipped = group_candidates(examples, task.no_positive)
        labels = group_labels(examples.labels, matrix) if examples.labels is not None else None
        return PackedSplit(sequences, labels, examples.ids,
                           {**examples.skipped, **skipped}, examples.source, group_matrix=matrix,
                           truncation=truncation)

    def sample_fraction(self, task, examples, fraction, seed):
        """``fraction`` of the candidate groups, every candidate of a drawn group kept."""
        keys = list(dict.fromkeys(examples.groups))  # in file order
        drawn = sample_indices(np.zeros(len(keys)), fraction_size(len(keys), fraction), seed, stratify=False)
        chosen = {keys[i] for i in drawn}
        return examples.subset([i for i, key in enumerate(examples.groups) if key in chosen])

    def flatten_features(self, features):
        """[groups, size, length] -> pairs [groups * size, length] for the head."""
        length = tf.shape(features["token_ids"])[-1]
        return {k: tf.reshape(v, [-1, length]) for k, v in features.items()}

    def unflatten_outputs(self, raw, features):
        """Pair scores back to [groups, size]."""
        return tf.reshape(raw, tf.shape(features["token_ids"])[:2])

    def divergence(self, clean, perturbed, features):
        """Symmetric KL between the two softmax distributions over each group's real candidates."""
        return losses.symmetric_kl(self.mask_padding(clean, features), self.mask_padding(perturbed, features))

    def per_example_loss(self, task, labels, outputs):
        return losses.listwise_ranking_loss(labels, outputs, task.head.gamma)

    def teacher_targets(self, task, teacher_outputs, split):
        """The teachers' distributions over each group's real candidates, averaged (0 on padding)."""
        real = split.group_matrix >= 0
        distributions = [softmax(np.where(real, np.asarray(o, np.float64), -np.inf)) for o in teacher_outputs]
        return np.mean(distributions, axis=0).astype(np.float32)

    def soft_loss(self, task, soft_targets, outputs, features):
        return losses.soft_cross_entropy(soft_targets, self.mask_padding(outputs, features))

    def join_outputs(self, task, parts, split):
        """Each batch's groups are as wide as its largest group (``pipeline._BatchMaker``): pad every
        batch's scores to the split's widest group (masked) before joining them."""
        width = split.group_matrix.shape[1]
        return np.concatenate([np.pad(np.asarray(part, np.float32), [(0, 0), (0, width - part.shape[1])],
                                      constant_values=MASKED_SCORE) for part in parts])

    def chance_level(self, task, labels):
        """The expected metrics of random candidate scores (50 seeded draws)."""
        rng = np.random.default_rng(0)
        draws = [self.compute_metrics(task, rng.random(labels.shape), labels) for _ in range(50)]
        return {name: float(np.mean([d[name] for d in draws])) for name in task.metrics}

    def text_input_signature(self, task):
        return [tf.TensorSpec([None], tf.string, name="query"),
                tf.TensorSpec([None, None], tf.string, name="candidates")]

    def serve_text(self, task, forward, features_of, packer):
        def serve(query, candidates):
            check_same_batch(task, query, candidates, ("query", "candidates"))
            shape = tf.shape(candidates)
            scores = tf.reshape(forward(features_of(tf.repeat(query, shape[1]), tf.reshape(candidates, [-1]))),
                                shape)
            scores = tf.where(candidates == "", MASKED_SCORE, tf.cast(scores, tf.float32))
            return self.serving_outputs(task, scores)

        return serve

    def mask_padding(self, raw, features):
        real = tf.reduce_any(features["padding_mask"] > 0, axis=-1)
        return tf.where(real, tf.cast(raw, tf.float32), MASKED_SCORE)

    def serving_outputs(self, task, raw):
        return {"scores": tf.cast(raw, tf.float32)}

    def prediction_strings(self, task, outputs, split):
        predicted = [task.labels[0]] * len(split.ids)
        matrix = split.group_matrix
        masked = np.where(matrix >= 0, np.asarray(outputs), -np.inf)
        for row, top in enumerate(masked.argmax(-1)):
            predicted[matrix[row, top]] = task.labels[1]
        return predicted
