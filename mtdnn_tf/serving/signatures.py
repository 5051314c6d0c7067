"""Serving functions, one per task, with named, documented outputs.

Two kinds of inputs. On raw text (tokenised in the graph with TensorFlow
Text's ops), 1-D string tensors, one entry per example:
- single-sentence tasks: ``sentence``;
- pair tasks: ``sentence1``, ``sentence2``;
- ranking tasks: ``query`` [batch] and ``candidates`` [batch, candidates]
  (pad rows with empty strings; padded candidates score ``MASKED_SCORE``, -1e9).

On token ids (core TensorFlow ops only: any TF Serving build, no
``tensorflow_text``): int32 ``token_ids``, ``segment_ids``, ``padding_mask``
[batch, length] as ``TextPacker`` packs them ([batch, candidates, length] for
ranking; a candidate whose mask is all 0 is padding and scores ``MASKED_SCORE``).

Inputs and outputs are the task type's (``mtdnn_tf.task_types``); the built-in ones:
- classification: ``probabilities`` float32 [batch, classes] (in the task's
  label order), ``label`` string [batch], ``label_id`` int64 [batch];
- regression: ``score`` float32 [batch];
- ranking: ``scores`` float32 [batch, candidates] (higher is more relevant).
"""

import tensorflow as tf

from mtdnn_tf.data.pipeline import BUCKET_STEPS, smallest_bucket, trim_features
from mtdnn_tf.features import FEATURES
from mtdnn_tf.models.mtdnn_model import task_model


def input_names(task):
    """Names of the task's raw-text serving inputs."""
    return tuple(spec.name for spec in input_signature(task))


def input_signature(task):
    """The raw-text serving inputs (its task type's ``text_input_signature``)."""
    return task.task_type.text_input_signature(task)


def outputs_from_model(task, raw):
    """Named serving outputs from a head's raw output (logits, SAN log-probabilities, score)."""
    return task.task_type.serving_outputs(task, raw)


def _forward(task, model, jit_compile):
    """The task's head on packed features ([..., length]), compiled with XLA if asked.

    With XLA the encoder's many small ops are fused; XLA compiles once per input
    shape (the bucket lengths keep those few), so a server should be warmed up.
    """
    head_model = task_model(model, task.name)

    def forward(features):
        return task.task_type.forward(head_model, features, training=False)

    return tf.function(forward, jit_compile=True, autograph=False) if jit_compile else forward


def make_serving_function(task, model, packer, jit_compile=False):
    """A function of the task's raw-text inputs (see module doc) returning its named outputs."""
    forward = _forward(task, model, jit_compile)

    def features_of(text_a, text_b):
        return trim_features(packer.pack_tensors(text_a, text_b))

    return task.task_type.serve_text(task, forward, features_of, packer)


def _to_bucket_length(features):
    """Pads, or cuts padding columns, to the smallest bucket length holding the longest real sequence
    (the sequence itself beyond the last bucket): a client's any length compiles to few shapes."""
    length = tf.shape(features["token_ids"])[-1]
    real = tf.reduce_max(tf.reduce_sum(tf.cast(features["padding_mask"], tf.int32), axis=-1))
    target = smallest_bucket(real, tf.constant(BUCKET_STEPS, tf.int32))
    rank = len(features["token_ids"].shape)
    padding = tf.concat([tf.zeros([rank - 1, 2], tf.int32), [[0, tf.maximum(target - length, 0)]]], axis=0)
    return {name: tf.pad(value, padding)[..., :target] for name, value in features.items()}


def token_id_signature(task):
    """int32 ``token_ids``, ``segment_ids``, ``padding_mask``: [batch, length], or [batch, candidates, length]."""
    return [tf.TensorSpec([None] * task.task_type.token_id_rank, tf.int32, name=name) for name in FEATURES]


def make_token_id_serving_function(task, model, jit_compile=False):
    """A function of packed token ids (see module doc) returning the task's named outputs."""
    forward = _forward(task, model, jit_compile)
    rank = task.task_type.token_id_rank

    def serve(token_ids, segment_ids, padding_mask):
        features = {name: tf.ensure_shape(tensor, [None] * rank)
                    for name, tensor in zip(FEATURES, (token_ids, segment_ids, padding_mask))}
        shape = tf.shape(features["token_ids"])
        for name in FEATURES[1:]:
            tf.debugging.assert_equal(tf.shape(features[name]), shape, message=(
                f"{task.name}: {name} must have the shape of token_ids"))
        raw = task.task_type.mask_padding(forward(_to_bucket_length(features)), features)
        return outputs_from_model(task, raw)

    return serve
