"""Starting a run from a trained multi-task model (the paper's refinement stage).

The new model gets the source's shared encoder, and the head of every task
the two runs have in common (same name, same head layout). Heads of tasks the
source does not know start fresh; the source's other heads are not loaded.
"""

import keras_hub

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.models.backbone import check_same_tokenizer

BACKBONE_TYPES = (keras_hub.models.Backbone,)  # every keras-hub encoder family


def source_backbone(source_model):
    """The keras-hub backbone layer inside a trained multi-task model."""
    for layer in source_model.layers:
        if isinstance(layer, BACKBONE_TYPES):
            return layer
    raise UserInputError(f"--init_from: model {source_model.name!r} has no keras-hub backbone layer")


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


def task_meaning(task):
    """What a trained head's outputs mean: the task type, the labels in order and the head kind."""
    return {"type": task.type, "labels": list(task.labels), "head": task.head.kind}


def check_tasks_match(source, tasks, origin="--init_from"):
    """Refuses a task that ``source`` (a TrainedModel) also has under the same name but with another
    meaning (type, label order or head kind): its head, or its soft targets, would mean something else.

    Raises:
        UserInputError: one line naming the flag, the task and what differs.
    """
    for name, task in tasks.items():
        if name not in source.tasks:
            continue
        theirs, ours = task_meaning(source.tasks[name]), task_meaning(task)
        differ = [f"{key} {theirs[key]} there, {ours[key]} here" for key in ours if ours[key] != theirs[key]]
        if differ:
            raise UserInputError(f"{origin}: task {name!r} of {source.model_dir} is defined otherwise: "
                                 + "; ".join(differ) + " (rename the task to give it a new head)")


def check_source_fits(source, head_input, max_seq_length, tokenizer=None, origin="--init_from"):
    """Refuses a source run whose encoder would silently mean something else in this run.

    Args:
        source: the TrainedModel to start from.
        head_input: this run's ``--head_input``; heads read what the source trained them on.
        max_seq_length: this run's packed length; at most the source encoder's positions.
        tokenizer: the tokenizer this run's flags name (``--preset`` / ``--vocab_file``),
            or None; its vocabulary and normalisation must be the source's.

    Raises:
        UserInputError: one line naming the flag and both values.
    """
    trained_with = source.head_input
    if trained_with != head_input:
        raise UserInputError(f"{origin}: {source.model_dir} was trained with --head_input={trained_with}, "
                             f"this run has --head_input={head_input}; give --head_input={trained_with}")
    positions = source_backbone(source.model).max_sequence_length
    if max_seq_length > positions:
        raise UserInputError(f"{origin}: {source.model_dir}'s encoder has {positions} positions, fewer than "
                             f"--max_seq_length={max_seq_length}")
    if tokenizer is None:
        return
    check_same_tokenizer(source.tokenizer, tokenizer, f"{origin}: {source.model_dir}", "--preset/--vocab_file")
