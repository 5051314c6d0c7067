"""Head kinds: the YAML ``head.kind`` field names one of these.

A head kind builds a task's output layer and says which tasks it fits. Add
one by subclassing ``HeadKind`` in a new module and registering it with
``@register_head_kind``.
"""

from mtdnn_tf.models.linear_head import LinearHead
from mtdnn_tf.models.san_head import SANHead
from mtdnn_tf.models.token_linear_head import TokenLinearHead
from mtdnn_tf.registry import HEAD_KINDS

register_head_kind = HEAD_KINDS.register  # class decorator: YAML ``head.kind: <cls.name>``
head_kind_names = HEAD_KINDS.names
get_head_kind = HEAD_KINDS.get


class HeadKind:
    """One kind of task head.

    Class attributes:
        name: the YAML ``head.kind`` value.
    """

    name = None

    def validate(self, task, fail):
        """Checks that the head fits ``task``; ``fail(field, message)`` raises."""

    def build(self, task, name):
        """The Keras layer: features dict -> the task's raw output (see ``build_mtdnn_model``)."""
        raise NotImplementedError


@register_head_kind
class LinearHeadKind(HeadKind):
    """Dropout and one dense layer: over ``HeadInput``'s vector, or over every token's state for a
    per-token task type (sequence labelling); fits every task type."""

    name = "linear"

    def build(self, task, name):
        head = TokenLinearHead if task.task_type.per_token else LinearHead
        return head(units=task.num_outputs, dropout=task.head.dropout, name=name)


@register_head_kind
class SANHeadKind(HeadKind):
    """The stochastic answer network over both segments' token states (pairwise classification)."""

    name = "san"

    def validate(self, task, fail):
        if not (task.is_pair and task.type == "classification"):
            fail("head.kind", "the SAN answer module is for pairwise classification tasks")

    def build(self, task, name):
        return SANHead(num_classes=task.num_outputs, steps=task.head.san_steps, dropout=task.head.dropout,
                       prediction_dropout=task.head.san_dropout, name=name)
