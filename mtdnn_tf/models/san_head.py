"""The stochastic answer network (SAN), MT-DNN's answer module for pairwise classification."""

import keras
from keras import ops

from mtdnn_tf.features import MASKED_SCORE


def _masked_softmax(logits, mask):
    """Softmax over the last axis where ``mask`` is 1; masked positions get exactly 0."""
    mask = ops.cast(mask, logits.dtype)
    logits = logits + (1.0 - mask) * MASKED_SCORE
    weights = ops.softmax(logits, axis=-1) * mask
    return weights / ops.maximum(ops.sum(weights, axis=-1, keepdims=True), 1e-9)


@keras.saving.register_keras_serializable(package="mtdnn_tf")
class SANHead(keras.layers.Layer):
    """Multi-step reasoning over the premise and hypothesis token states (Liu et al. 2019, §3).

    Working memories are the encoder's token states of segment A (premise,
    M^p) and segment B (hypothesis, M^h), each masked to its own real tokens.
    The initial state is s^0 = sum_j alpha_j M^h_j with alpha = softmax(w1 M^h).
    Each step k = 1..K attends over the premise with the previous state,
    beta = softmax(s^{k-1} W2 M^p), x^k = sum_j beta_j M^p_j, updates
    s^k = GRU(s^{k-1}, x^k), and predicts
    P^k = softmax(W3 [s^k; x^k; |s^k - x^k|; s^k * x^k]).
    In training each step's prediction is dropped with rate
    ``prediction_dropout`` per example (at least one is always kept) and the
    kept ones are averaged; at inference all K are averaged.

    Returns log-probabilities [batch, num_classes], so cross-entropy "from
    logits" on them is the negative log of the averaged probability.

    Args:
        num_classes: output classes.
        steps: reasoning steps K (the paper: 5).
        dropout: dropout on the working memories (the paper: 0.1).
        prediction_dropout: stochastic prediction dropout rate (the paper: 0.1).
        seed: seed of the prediction-dropout generator.

    Call arguments:
        features: dict with 'sequence_output' [batch, length, hidden],
            'padding_mask' and 'segment_ids' [batch, length].

    Example:

    ```python
    head = SANHead(num_classes=3, steps=5)
    features = {"sequence_output": keras.random.normal((2, 6, 16)),
                "padding_mask": keras.ops.ones((2, 6), "int32"),
                "segment_ids": keras.ops.array([[0, 0, 0, 1, 1, 1]] * 2)}
    head(features).shape  # (2, 3)
    ```
    """

    def __init__(self, num_classes, steps=5, dropout=0.1, prediction_dropout=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.steps = steps
        self.dropout_rate = dropout
        self.prediction_dropout = prediction_dropout
        self.seed = seed
        self.memory_dropout = keras.layers.Dropout(dropout)
        init = keras.initializers.TruncatedNormal(stddev=0.02)
        self.hypothesis_score = keras.layers.Dense(1, use_bias=False, kernel_initializer=init, name="w1")
        self._init = init
        self.bilinear = None  # W2 and the GRU need the hidden width: made in build().
        self.gru = None
        self.classifier = keras.layers.Dense(num_classes, kernel_initializer=init, name="w3")
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, features_shape):
        hidden = features_shape["sequence_output"][-1]
        self.hypothesis_score.build((None, None, hidden))
        # W2 maps the state into the memory space: beta_j = s W2 . M^p_j.
        self.bilinear = keras.layers.Dense(hidden, use_bias=False, kernel_initializer=self._init, name="w2")
        self.bilinear.build((None, hidden))
        self.gru = keras.layers.GRUCell(hidden, name="gru")
        self.gru.build((None, hidden))
        self.classifier.build((None, 4 * hidden))
        self.built = True

    def _memories(self, features, training):
        memory = self.memory_dropout(features["sequence_output"], training=training)
        real = ops.cast(features["padding_mask"], "int32") > 0
        segments = ops.cast(features["segment_ids"], "int32")
        premise_mask = ops.logical_and(real, segments == 0)
        hypothesis_mask = ops.logical_and(real, segments == 1)
        return memory, premise_mask, hypothesis_mask

    def reason(self, features, training=False):
        """Runs the K steps; returns (step probabilities [batch, K, classes], alpha, [beta_k])."""
        if not self.built:  # reason() may be called directly, e.g. to inspect attention.
            self.build({k: tuple(ops.shape(v)) for k, v in features.items()})
        memory, premise_mask, hypothesis_mask = self._memories(features, training)
        alpha = _masked_softmax(ops.squeeze(self.hypothesis_score(memory), -1), hypothesis_mask)
        state = ops.einsum("bl,blh->bh", alpha, memory)
        probabilities, betas = [], []
        for _ in range(self.steps):
            query = self.bilinear(state)
            beta = _masked_softmax(ops.einsum("bh,blh->bl", query, memory), premise_mask)
            x = ops.einsum("bl,blh->bh", beta, memory)
            state, _ = self.gru(x, [state], training=training)
            joint = ops.concatenate([state, x, ops.abs(state - x), state * x], axis=-1)
            probabilities.append(ops.softmax(self.classifier(joint), axis=-1))
            betas.append(beta)
        return ops.stack(probabilities, axis=1), alpha, betas

    def call(self, features, training=None):
        probabilities, _, _ = self.reason(features, training=training)
        if training and self.prediction_dropout > 0:
            batch = ops.shape(probabilities)[0]
            keep = keras.random.uniform((batch, self.steps), seed=self.seed_generator) >= self.prediction_dropout
            # A row whose every step was dropped keeps one step chosen at random.
            rescue = ops.one_hot(
                keras.random.randint((batch,), 0, self.steps, seed=self.seed_generator), self.steps
            ) > 0
            keep = ops.where(ops.any(keep, axis=1, keepdims=True), keep, rescue)
            weights = ops.cast(keep, probabilities.dtype)
        else:
            weights = ops.ones_like(probabilities[:, :, 0])
        weights = weights / ops.sum(weights, axis=1, keepdims=True)
        average = ops.einsum("bk,bkc->bc", weights, probabilities)
        return ops.log(ops.maximum(average, 1e-12))

    def compute_output_shape(self, features_shape):
        return (features_shape["sequence_output"][0], self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "steps": self.steps,
            "dropout": self.dropout_rate,
            "prediction_dropout": self.prediction_dropout,
            "seed": self.seed,
        }
