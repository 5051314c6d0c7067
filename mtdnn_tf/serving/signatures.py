"""Serving functions, one per task, with named, documented outputs.

Two kinds of inputs. On raw text (tokenised in the graph with TensorFlow
Text's ops), 1-D string tensors, one entry per example:
- single-sentence tasks: ``sentence``;
- pair tasks: ``sentence1``, ``sentence2``;
- ranking tasks: ``query`` [batch] and ``candidates`` [batch, candidates]
  (pad rows with empty strings; padded candidates score -1e9).

On token ids (core TensorFlow ops only: any TF Serving build, no
``tensorflow_text``): int32 ``token_ids``, ``segment_ids``, ``padding_mask``
[batch, length] as ``TextPacker`` packs them ([batch, candidates, length] for
ranking; a candidate whose mask is all 0 is padding and scores -1e9).

Outputs:
- classification: ``probabilities`` float32 [batch, classes] (in the task's
  label order), ``label`` string [batch], ``label_id`` int64 [batch];
- regression: ``score`` float32 [batch];
- ranking: ``scores`` float32 [batch, candidates] (higher is more relevant).
"""

import tensorflow as tf

from mtdnn_tf.data.packing import FEATURES
from mtdnn_tf.data.pipeline import BUCKET_STEPS, trim_features
from mtdnn_tf.models.mtdnn_model import task_forward, task_model

PADDED_CANDIDATE_SCORE = -1e9


def input_names(task):
    if task.is_ranking:
        return ("query", "candidates")
    return ("sentence1", "sentence2") if task.is_pair else ("sentence",)


def input_signature(task):
    if task.is_ranking:
        return [tf.TensorSpec([None], tf.string, name="query"),
                tf.TensorSpec([None, None], tf.string, name="candidates")]
    return [tf.TensorSpec([None], tf.string, name=name) for name in input_names(task)]


def outputs_from_model(task, raw):
    """Named serving outputs from a head's raw output (logits, SAN log-probabilities, score)."""
    if task.type == "classification":
        probabilities = tf.nn.softmax(tf.cast(raw, tf.float32), axis=-1)
        label_id = tf.argmax(probabilities, axis=-1)
        return {
            "probabilities": probabilities,
            "label": tf.gather(tf.constant(list(task.labels)), label_id),
            "label_id": label_id,
        }
    if task.type == "regression":
        return {"score": tf.cast(raw, tf.float32)}
    return {"scores": tf.cast(raw, tf.float32)}


def _forward(task, model, jit_compile):
    """The task's head on packed features ([..., length]), compiled with XLA if asked.

    With XLA the encoder's many small ops are fused; XLA compiles once per input
    shape (the bucket lengths keep those few), so a server should be warmed up.
    """
    head_model = task_model(model, task.name)

    def forward(features):
        return task_forward(task, head_model, features, training=False)

    return tf.function(forward, jit_compile=True, autograph=False) if jit_compile else forward


def make_serving_function(task, model, packer, jit_compile=False):
    """A function of the task's raw-text inputs (see module doc) returning its named outputs."""
    head_model = _forward(task, model, jit_compile)

    def features_of(text_a, text_b):
        return trim_features(packer.pack_tensors(text_a, text_b))

    def same_batch(first, second, names):
        # A loaded signature checks dtypes but not shapes: check ranks and batch sizes here.
        first, second = tf.ensure_shape(first, [None]), tf.ensure_shape(second, [None] * len(second.shape))
        tf.debugging.assert_equal(tf.shape(first)[0], tf.shape(second)[0], message=(
            f"{task.name}: {names[0]} and {names[1]} must have the same batch size"))

    if task.is_ranking:
        def serve(query, candidates):
            same_batch(query, candidates, ("query", "candidates"))
            shape = tf.shape(candidates)
            queries = tf.repeat(query, shape[1])
            flat = tf.reshape(candidates, [-1])
            scores = tf.reshape(head_model(features_of(queries, flat)), shape)
            scores = tf.where(candidates == "", PADDED_CANDIDATE_SCORE, tf.cast(scores, tf.float32))
            return outputs_from_model(task, scores)
    elif task.is_pair:
        def serve(sentence1, sentence2):
            same_batch(sentence1, sentence2, ("sentence1", "sentence2"))
            return outputs_from_model(task, head_model(features_of(sentence1, sentence2)))
    else:
        def serve(sentence):
            sentence = tf.ensure_shape(sentence, [None])
            return outputs_from_model(task, head_model(features_of(sentence, None)))
    return serve


def _to_bucket_length(features):
    """Pads (with padding) or cuts (padding columns only) to a bucket length: few shapes, little waste."""
    length = tf.shape(features["token_ids"])[-1]
    buckets = tf.constant(BUCKET_STEPS, tf.int32)
    target = tf.maximum(buckets[tf.minimum(tf.searchsorted(buckets, [length])[0], len(BUCKET_STEPS) - 1)], length)
    rank = len(features["token_ids"].shape)
    padding = tf.concat([tf.zeros([rank - 1, 2], tf.int32), [[0, target - length]]], axis=0)
    padded = {name: tf.pad(value, padding) for name, value in features.items()}
    return trim_features(padded, BUCKET_STEPS + (tf.int32.max,))


def token_id_signature(task):
    """int32 ``token_ids``, ``segment_ids``, ``padding_mask``: [batch, length], or [batch, candidates, length]."""
    shape = [None, None, None] if task.is_ranking else [None, None]
    return [tf.TensorSpec(shape, tf.int32, name=name) for name in FEATURES]


def make_token_id_serving_function(task, model, jit_compile=False):
    """A function of packed token ids (see module doc) returning the task's named outputs."""
    forward = _forward(task, model, jit_compile)
    rank = 3 if task.is_ranking else 2

    def serve(token_ids, segment_ids, padding_mask):
        features = {name: tf.ensure_shape(tensor, [None] * rank)
                    for name, tensor in zip(FEATURES, (token_ids, segment_ids, padding_mask))}
        shape = tf.shape(features["token_ids"])
        for name in FEATURES[1:]:
            tf.debugging.assert_equal(tf.shape(features[name]), shape, message=(
                f"{task.name}: {name} must have the shape of token_ids"))
        raw = forward(_to_bucket_length(features))
        if task.is_ranking:
            real = tf.reduce_any(features["padding_mask"] > 0, axis=-1)
            raw = tf.where(real, tf.cast(raw, tf.float32), PADDED_CANDIDATE_SCORE)
        return outputs_from_model(task, raw)

    return serve
