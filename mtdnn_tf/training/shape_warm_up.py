"""One forward and backward pass per distinct batch shape, before training starts.

Bucketed batches come in a few dozen shapes per task, and a CPU's oneDNN
library builds (and JIT-compiles) its kernels the first time it meets each
shape: measured on an Intel Xeon with AMX, the first timed round of an epoch ran
at half the speed of the later ones because its shapes were new (issue 26).
Meeting every shape of the epoch once up front was meant to move that cost out
of the epoch. Measured with ``training=False`` (no dropout), it did not change
the first round: without dropout the graph fuses differently, so oneDNN met
other kernels than training's (docs/speed.md). It now runs as training does,
with dropout; it is off unless ``--warm_up_min_steps`` is set: measured so on an
AVX2-only AMD EPYC, the trainer's first round ran at its later rounds' speed with
the warm-up and without it (1.04 and 1.01), and the warm-up cost 76 s.

The pass changes nothing a run computes: no update is applied, the optimizer's
state is untouched, and the dropout seed states it moves (the model's
non-trainable variables) are put back, so a resumed or re-run training stays
bit-identical.
"""

import time

import tensorflow as tf

from mtdnn_tf.losses import task_loss
from mtdnn_tf.models.mtdnn_model import task_model, task_variables
from mtdnn_tf.progress import progress_bar


def batch_shape(features):
    """The shapes of a batch's feature tensors, as one hashable key."""
    return tuple(tuple(features[k].shape) for k in sorted(features))


def distinct_shape_batches(dataset):
    """The first batch of each distinct feature shape in ``dataset``, in order of first appearance."""
    first = {}
    for features, targets in dataset:
        first.setdefault(batch_shape(features), (features, targets))
    return list(first.values())


def warm_up_shapes(model, tasks, datasets, verbose=True):
    """Runs each task's forward pass, loss and gradients once for each distinct batch shape of its dataset.

    Args:
        model: the multi-task model.
        tasks: name -> TaskConfig.
        datasets: name -> the task's training batches of the epoch to come, as one replica gets them
            (``MultiTaskTrainer.warm_up_shapes`` makes them as training does).

    Returns:
        The number of shapes warmed up.
    """
    started = time.time()
    batches = {name: distinct_shape_batches(dataset) for name, dataset in datasets.items()}
    total = sum(len(b) for b in batches.values())
    bar = progress_bar(total, verbose=verbose)
    if verbose:
        print(f"Warming up {total} batch shapes over {len(batches)} tasks (no update)")
    done = 0
    # Dropout draws from seed states that are model variables: they are put back after the warm-up.
    seed_states = [(v, v.numpy()) for v in model.non_trainable_variables]
    for name, task_batches in batches.items():
        if not task_batches:
            continue
        run = _forward_backward(model, tasks[name], task_batches[0])
        for features, targets in task_batches:
            run(features, targets)
            done += 1
            bar.update(done)
    for variable, value in seed_states:
        variable.assign(value)
    if verbose:
        print(f"Warmed up in {time.time() - started:.0f} s")
    return total


def _unknown_dimensions(batch):
    """The batch's signature with every dimension unknown: one graph serves every shape."""
    return tf.nest.map_structure(lambda t: tf.TensorSpec([None] * t.shape.rank, t.dtype), batch)


def _forward_backward(model, task, example_batch):
    head_model = task_model(model, task.name)
    variables = task_variables(model, task.name)

    # Traced once, with unknown dimensions, as the training loop is: the kernels then meet each real shape.
    @tf.function(input_signature=list(_unknown_dimensions(example_batch)))
    def run(features, targets):
        with tf.GradientTape() as tape:
            outputs = task.task_type.forward(head_model, features, training=True)  # training's graph
            loss = task_loss(task, targets["labels"], outputs, targets["weights"], targets["units"])
        # The gradients' norm is returned so that the backward pass is not pruned from the graph.
        return tf.linalg.global_norm([g for g in tape.gradient(loss, variables) if g is not None])

    return run
