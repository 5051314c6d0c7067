"""SMART adversarial regularisation (Jiang et al., ACL 2020), as the official MT-DNN trains with it.

For a batch of one task: perturb the encoder's embedding output with small
Gaussian noise (variance ``noise_var``), take ``steps`` ascent steps on the
divergence between the clean and the perturbed outputs (each step: noise +=
``step_size`` x gradient, then each token's noise vector divided by its
largest absolute entry plus ``epsilon``: the infinity-norm projection), and
add ``alpha`` x the divergence at the final noise to the task loss. The
divergence is the task type's (``TaskType.divergence``): symmetric KL of the
class (or ranking) distributions, squared error of regression scores. A
non-finite ascent gradient drops the regulariser for that batch (as the
official code does); the trainer's non-finite guard still checks the total.

The noise is drawn from a stateless generator seeded by (run seed, optimizer
step): a resumed run perturbs exactly as an uninterrupted one.
"""

import tensorflow as tf

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.losses import weighted_mean
from mtdnn_tf.models.encoders import family_name
from mtdnn_tf.models.init_from import source_backbone
from mtdnn_tf.models.mtdnn_model import head_features


class EmbeddingPath:
    """The multi-task model split at the encoder's embedding output, so the embeddings can be perturbed.

    ``outputs(task, embed(features), features)`` computes what the model's
    task output computes (tested), from embeddings that may carry noise.
    """

    def __init__(self, model):
        self.model = model
        self.backbone = source_backbone(model)
        if family_name(self.backbone) != "bert":
            # Each family embeds differently (RoBERTa offsets positions, DeBERTa has relative positions,
            # ALBERT projects its embeddings): only BERT's split is written and tested.
            raise UserInputError(f"--smart: SMART perturbs the encoder's embedding output, split here for"
                                 f" BERT encoders only; this run's encoder is {family_name(self.backbone)}")
        self.head_input = model.get_layer("head_input")

    def embed(self, features, training=False):
        """Token + position + segment embeddings, normalised (and dropped out in training): [n, length, hidden]."""
        b = self.backbone
        tokens = b.token_embedding(features["token_ids"])
        x = b.embeddings_add((tokens, b.position_embedding(tokens), b.segment_embedding(features["segment_ids"])))
        return b.embeddings_dropout(b.embeddings_layer_norm(x), training=training)

    def outputs(self, task, embeddings, features, training=False):
        """The task head's raw output from (flattened) packed ``features`` whose embeddings are ``embeddings``."""
        b, mask = self.backbone, features["padding_mask"]
        x = embeddings
        for layer in b.transformer_layers:
            x = layer(x, padding_mask=mask, training=training)
        pooled = b.pooled_dense(x[:, b.cls_token_index, :])
        return self.model.get_layer(f"{task.name}_head")(head_features(self.head_input, x, pooled, features),
                                                         training=training)


def _project(noise, epsilon):
    """Each token's noise vector divided by its largest absolute entry (infinity norm) plus ``epsilon``."""
    return noise / (tf.reduce_max(tf.abs(noise), axis=-1, keepdims=True) + epsilon)


def outputs_and_regularizer(task, config, path, features, seed, training=True, weights=None, units=None):
    """(the task's clean outputs, SMART's regulariser: the mean divergence at the adversarial noise,
    weighted and normalised as ``losses.weighted_mean``: by ``units``, the global batch's weight).

    Args:
        task: TaskConfig; config: its SmartConfig (``SmartConfig.for_task``).
        path: the model's EmbeddingPath.
        features: the batch (in the task's units; ranking groups are flattened here).
        seed: int32 [2] seed of the noise (e.g. run seed and optimizer step).
    """
    kind = task.task_type
    flat = kind.flatten_features(features)
    embeddings = path.embed(flat, training=training)

    def outputs(noise):
        return kind.unflatten_outputs(path.outputs(task, embeddings + noise, flat, training=training), features)

    clean = outputs(tf.zeros_like(embeddings))
    target = tf.stop_gradient(clean)
    noise = tf.random.stateless_normal(tf.shape(embeddings), seed, dtype=embeddings.dtype) * config.noise_var
    usable = tf.constant(True)
    for _ in range(config.steps):
        with tf.GradientTape() as tape:
            tape.watch(noise)
            # The projection below normalises the step, so the local weighted sum (units=1) will do.
            ascent = weighted_mean(kind.divergence(target, outputs(noise), features), weights, units=1.0)
        gradient = tape.gradient(ascent, noise)
        usable &= tf.math.is_finite(tf.norm(tf.cast(gradient, tf.float32)))
        noise = tf.stop_gradient(_project(noise + config.step_size * gradient, config.epsilon))
    regularizer = weighted_mean(kind.divergence(clean, outputs(noise), features), weights, units)
    return clean, tf.where(usable, regularizer, 0.0)


def smart_seed(run_seed, step):
    """The noise seed of one optimizer step."""
    return tf.stack([tf.constant(run_seed, tf.int32), tf.cast(step, tf.int32)])

