"""Starting a run from a trained multi-task model (the paper's refinement stage).

The new model gets the source's shared encoder, and the head of every task
the two runs have in common (same name, same head layout). Heads of tasks the
source does not know start fresh; the source's other heads are not loaded.
"""

import keras_hub

from mtdnn_tf.errors import UserInputError

BACKBONE_TYPES = (keras_hub.models.BertBackbone,)


def source_backbone(source_model):
    """The keras-hub backbone layer inside a trained multi-task model."""
    for layer in source_model.layers:
        if isinstance(layer, BACKBONE_TYPES):
            return layer
    raise UserInputError(f"--init_from: model {source_model.name!r} has no BERT backbone layer")


def clone_backbone(source_model, dtype=None):
    """A new backbone of the source's architecture (weights are copied by ``initialize_from``).

    Call it inside ``strategy.scope()`` so the variables are distributed.
    """
    backbone = source_backbone(source_model)
    config = backbone.get_config()
    if dtype is not None:
        config["dtype"] = dtype
    return type(backbone).from_config(config)


def initialize_from(model, source_model, task_names):
    """Copies encoder weights, and the heads of ``task_names`` the source has, into ``model``.

    Returns:
        {"encoder": number of tensors copied, "heads": [tasks whose head was
        loaded], "new_heads": [tasks whose head starts fresh]}.
    """
    target = source_backbone(model)
    source = source_backbone(source_model)
    source_weights = source.get_weights()
    if [w.shape for w in source_weights] != [tuple(v.shape) for v in target.weights]:
        raise UserInputError("--init_from: the source encoder's shapes differ from this run's encoder")
    target.set_weights(source_weights)
    loaded, fresh = [], []
    source_heads = {layer.name: layer for layer in source_model.layers if layer.name.endswith("_head")}
    for name in task_names:
        head = model.get_layer(f"{name}_head")
        other = source_heads.get(head.name)
        same_layout = (other is not None and type(other) is type(head)
                       and [tuple(v.shape) for v in other.weights] == [tuple(v.shape) for v in head.weights])
        if same_layout:
            head.set_weights(other.get_weights())
            loaded.append(name)
        else:
            fresh.append(name)
    return {"encoder": len(source_weights), "heads": loaded, "new_heads": fresh}
