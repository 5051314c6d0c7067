"""A copy of a trained multi-task model whose shared encoder computes in another dtype (for serving).

A run trained with ``--mixed_precision=mixed_bfloat16`` (``auto``'s choice on CPUs with bfloat16 units)
keeps float32 variables but computes its encoder in bfloat16, and its saved model says so; a float32
export rebuilds the encoder in float32 with the same weights (TFLite and ONNX cannot convert bfloat16
operations, and a float32 export must compute in float32).
"""

import dataclasses

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.models.init_from import clone_backbone, initialize_from, source_backbone
from mtdnn_tf.models.mtdnn_model import build_mtdnn_model

# Serving precisions, each also the encoder's Keras dtype policy. bfloat16 stores the encoder's
# weights in bfloat16 too (half the size, and no cast of every weight at every request, which
# 'mixed_bfloat16' would pay); Keras' normalisation layers still compute in float32. The heads stay float32.
SERVING_PRECISIONS = ("float32", "bfloat16")


def with_encoder_dtype(model, tasks, head_input, precision):
    """``model`` rebuilt with its encoder in ``precision`` (one of ``SERVING_PRECISIONS``), weights copied.

    Args:
        model: a trained model from ``build_mtdnn_model``.
        tasks: its tasks (name -> TaskConfig), as trained.
        head_input: the run's ``head_input`` setting.
        precision: 'float32' or 'bfloat16': a new model whose backbone's variables and products are in
            that dtype and whose heads are float32 (their inputs cast back); ``model`` itself where its
            encoder is in that dtype already.

    Raises:
        UserInputError: ``precision`` is not one of ``SERVING_PRECISIONS``.

    Example:
        >>> served = with_encoder_dtype(trained.model, trained.tasks, "mean", "bfloat16")
    """
    if precision not in SERVING_PRECISIONS:
        raise UserInputError(f"--precision: {precision!r} is not one of {', '.join(SERVING_PRECISIONS)}")
    if source_backbone(model).dtype_policy.name == precision:
        return model
    copy = build_mtdnn_model(clone_backbone(model, dtype=precision), tasks, head_input)
    initialize_from(copy, model, list(tasks))
    return copy


def trained_with_encoder_dtype(trained, precision):
    """A ``TrainedModel`` (``run_directory``) like ``trained`` whose model's encoder is in ``precision``
    (``with_encoder_dtype``)."""
    return dataclasses.replace(
        trained, model=with_encoder_dtype(trained.model, trained.tasks, trained.head_input, precision))
