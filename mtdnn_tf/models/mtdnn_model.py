"""The MT-DNN functional model: one shared backbone, one named output per task."""

import keras
import tensorflow as tf

from mtdnn_tf.models.head_input import HeadInput
from mtdnn_tf.models.linear_head import LinearHead


def build_head(task):
    """The head layer a task's YAML asks for (``head.kind``)."""
    name = f"{task.name}_head"
    if task.head.kind == "san":
        from mtdnn_tf.models.san_head import SANHead  # noqa: PLC0415 - optional module

        return SANHead(
            num_classes=task.num_outputs,
            steps=task.head.san_steps,
            dropout=task.head.dropout,
            prediction_dropout=task.head.san_dropout,
            name=name,
        )
    return LinearHead(units=task.num_outputs, dropout=task.head.dropout, name=name)


def build_mtdnn_model(backbone, tasks, head_input="cls"):
    """Builds the multi-task model.

    Args:
        backbone: a keras-hub ``BertBackbone`` shared by every task.
        tasks: TaskConfig values (an ordered mapping or a list).
        head_input: what the linear heads read: 'cls', 'pooled' or 'mean'.

    Returns:
        A functional ``keras.Model`` taking a dict ``token_ids``, ``segment_ids``,
        ``padding_mask`` (int32 [batch, length]) and returning a dict with one
        output per task name: logits [batch, classes] for classification, a
        score [batch] for regression and ranking.
    """
    tasks = list(tasks.values()) if isinstance(tasks, dict) else list(tasks)
    inputs = {
        name: keras.Input(shape=(None,), dtype="int32", name=name)
        for name in ("token_ids", "segment_ids", "padding_mask")
    }
    encoded = backbone(inputs)
    pooled = HeadInput(head_input, name="head_input")(
        encoded["sequence_output"], encoded["pooled_output"], inputs["padding_mask"]
    )
    features = {
        "pooled": pooled,
        "sequence_output": encoded["sequence_output"],
        "padding_mask": inputs["padding_mask"],
        "segment_ids": inputs["segment_ids"],
    }
    outputs = {task.name: build_head(task)(features) for task in tasks}
    return keras.Model(inputs, outputs, name="mtdnn")


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


def task_forward(task, head_model, features, training=False):
    """Runs one task's head model; ranking batches [groups, size, length] are
    flattened to pairs and their scores returned as [groups, size]."""
    if not task.is_ranking:
        return head_model(features, training=training)
    shape = tf.shape(features["token_ids"])
    pairs = {k: tf.reshape(v, [-1, shape[-1]]) for k, v in features.items()}
    return tf.reshape(head_model(pairs, training=training), shape[:2])
