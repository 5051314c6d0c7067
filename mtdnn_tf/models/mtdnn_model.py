"""The MT-DNN functional model: one shared backbone, one named output per task."""

import keras

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.features import FEATURES
from mtdnn_tf.models.encoders import encode, family_name, has_pooler
from mtdnn_tf.models.head_input import HeadInput
from mtdnn_tf.models.head_kinds import get_head_kind


def build_head(task):
    """The head layer a task's YAML asks for (``head.kind``), named ``<task>_head``."""
    return get_head_kind(task.head.kind).build(task, f"{task.name}_head")


def build_mtdnn_model(backbone, tasks, head_input="cls"):
    """Builds the multi-task model.

    Args:
        backbone: a keras-hub text backbone of any family (``BertBackbone``, ``RobertaBackbone``, ...)
            shared by every task; it gets the packed features it takes (``encoders.encode``).
        tasks: TaskConfig values (an ordered mapping or a list).
        head_input: what the linear heads read: 'cls', 'pooled' (families with a pooler) or 'mean'.

    Returns:
        A functional ``keras.Model`` taking a dict ``token_ids``, ``segment_ids``,
        ``padding_mask`` (int32 [batch, length]) and returning a dict with one
        output per task name: logits [batch, classes] for classification, a
        score [batch] for regression and ranking.
    """
    tasks = list(tasks.values()) if isinstance(tasks, dict) else list(tasks)
    if head_input == "pooled" and not has_pooler(backbone):
        raise UserInputError(f"--head_input=pooled: the {family_name(backbone)} encoder has no pooler;"
                             " use --head_input=cls or mean")
    inputs = {
        name: keras.Input(shape=(None,), dtype="int32", name=name)
        for name in FEATURES
    }
    sequence_output, pooled_output = encode(backbone, inputs)
    features = head_features(HeadInput(head_input, name="head_input"), sequence_output, pooled_output, inputs)
    outputs = {task.name: build_head(task)(features) for task in tasks}
    return keras.Model(inputs, outputs, name="mtdnn")


def head_features(head_input_layer, sequence_output, pooled_output, inputs):
    """What every head reads: "head_input" is HeadInput's vector (the [CLS] state, keras-hub's
    pooler output or the masked mean); SAN heads read the token states and segments."""
    return {
        "head_input": head_input_layer(sequence_output, pooled_output, inputs["padding_mask"]),
        "sequence_output": sequence_output,
        "padding_mask": inputs["padding_mask"],
        "segment_ids": inputs["segment_ids"],
    }


def task_model(model, task_name):
    """A view of ``model`` that computes only one task's output (shares all weights)."""
    head = model.get_layer(f"{task_name}_head")
    return keras.Model(model.inputs, head.output, name=f"mtdnn_{task_name}")


def task_variables(model, task_name):
    """The trainable variables one task's loss reaches: the shared layers plus its head."""
    heads = [l for l in model.layers if l.name.endswith("_head")]
    own = model.get_layer(f"{task_name}_head")
    others = {id(v) for head in heads if head is not own for v in head.trainable_variables}
    return [v for v in model.trainable_variables if id(v) not in others]
