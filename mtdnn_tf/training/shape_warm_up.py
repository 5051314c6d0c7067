"""One forward and backward pass per distinct batch shape, before training starts.

Bucketed batches come in a few dozen shapes per task, and a CPU's oneDNN
library builds (and JIT-compiles) its kernels the first time it meets each
shape: measured on an Intel Xeon with AMX, the first timed round of an epoch ran
at half the speed of the later ones because its shapes were new (issue 26).
Meeting every shape of the epoch once up front was meant to move that cost out
of the epoch; measured, it did not change the first round (the slow first
round falls on whatever runs first in the process, keras-hub's one-shape fit
too: docs/speed.md), so it is off unless ``--warm_up_min_steps`` is set.

The pass changes nothing a run computes: no update is applied, the optimizer's
state is untouched, and it runs with ``training=False``, so no dropout mask is
drawn and no random state moves (a resumed or re-run training stays bit-identical).
"""

import time

import tensorflow as tf

from mtdnn_tf.data.pipeline import train_dataset
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


def warm_up_shapes(model, tasks, train_splits, config, epoch, task_index, shard, verbose=True):
    """Runs every trained task's forward pass, loss and gradients once for each batch shape of ``epoch``.

    Args:
        model: the multi-task model.
        tasks: name -> TaskConfig.
        train_splits: name -> PackedSplit of the trained tasks.
        config: the run's TrainConfig (batch size, caps, sorting and padding decide the shapes).
        epoch: the epoch whose batches are scanned (the first one still to train).
        task_index: name -> the task's index (it seeds the task's shuffle, as in training).
        shard: the ``InputShard`` of one replica: its per-replica batches are the shapes a step sees.

    Returns:
        The number of shapes warmed up.
    """
    started = time.time()
    work = []
    for name, split in train_splits.items():
        dataset = train_dataset(split, config.batch_size, config.seed, epoch, task_index[name], 0,
                                config.sort_window, config.example_cap(name), pad_last_batch=config.pad_last_batch,
                                shard=shard)
        work += [(name, batch) for batch in distinct_shape_batches(dataset)]
    passes = {name: _forward_backward(model, tasks[name], next(b for n, b in work if n == name))
              for name in train_splits if any(n == name for n, _ in work)}
    bar = progress_bar(len(work), verbose=verbose)
    if verbose:
        print(f"Warming up {len(work)} batch shapes over {len(train_splits)} tasks (no update)")
    for done, (name, (features, targets)) in enumerate(work, 1):
        passes[name](features, targets)
        bar.update(done)
    if verbose:
        print(f"Warmed up in {time.time() - started:.0f} s")
    return len(work)


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
            outputs = task.task_type.forward(head_model, features, training=False)
            loss = task_loss(task, targets["labels"], outputs, targets["weights"], targets["units"])
        # The gradients' norm is returned so that the backward pass is not pruned from the graph.
        return tf.linalg.global_norm([g for g in tape.gradient(loss, variables) if g is not None])

    return run
