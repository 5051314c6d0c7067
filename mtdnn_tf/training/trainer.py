"""The custom multi-task training loop (the paper's Algorithm 1) under tf.distribute.

Each epoch, every task's training set is shuffled and cut into mini-batches;
all tasks' batches are merged and the merged list is shuffled; each step
updates the shared encoder and one task's head with that task's loss. Other
heads are not part of the step's variable list, so they get no gradient.
(``TrainConfig.task_sampling`` can draw each step's task instead; see
``task_sampling``.)
"""

import collections
import dataclasses
import math
import pathlib
import sys
import time

import keras
import tensorflow as tf

from mtdnn_tf.data.pipeline import train_dataset
from mtdnn_tf.errors import NonFiniteLossError, UserInputError
from mtdnn_tf.losses import soft_task_loss, task_loss
from mtdnn_tf.models.mtdnn_model import task_model, task_variables
from mtdnn_tf.progress import progress_bar
from mtdnn_tf.training.checkpoints import CheckpointStore
from mtdnn_tf.training.evaluator import Evaluator
from mtdnn_tf.training.run_record import RunRecord
from mtdnn_tf.training.smart import EmbeddingPath, outputs_and_regularizer, smart_seed
from mtdnn_tf.training.strategies import is_chief


def _scale(gradient, factor):
    if isinstance(gradient, tf.IndexedSlices):  # sparse embedding gradients
        return tf.IndexedSlices(gradient.values * factor, gradient.indices, gradient.dense_shape)
    return gradient * factor


class MultiTaskTrainer:
    """Trains a multi-task model built under ``strategy.scope()``.

    Args:
        model: the functional model from ``build_mtdnn_model``.
        optimizer: a Keras optimizer, built on ``model.trainable_variables``
            inside ``strategy.scope()``.
        tasks: ordered mapping name -> TaskConfig.
        train_splits: mapping name -> PackedSplit (tasks without one are not trained).
        eval_splits: mapping name -> {split name: PackedSplit}.
        config: TrainConfig.
        model_dir: checkpoints, metrics.json and TensorBoard logs go here.
        strategy: the tf.distribute strategy.
        extra_record: dict merged into metrics.json (e.g. skipped-row counts).
    """

    def __init__(self, model, optimizer, tasks, train_splits, eval_splits, config, model_dir, strategy,
                 extra_record=None):
        self.model, self.optimizer, self.tasks = model, optimizer, tasks
        self.train_splits, self.eval_splits = train_splits, eval_splits
        self.config, self.strategy = config, strategy
        self.model_dir = pathlib.Path(model_dir)
        self.chief = is_chief(strategy)
        if config.xla_whole_step and strategy.num_replicas_in_sync > 1:
            raise UserInputError("--xla_whole_step: one device only (with several replicas the update is merged"
                                 " across them outside XLA); use --jit_compile alone")
        self.task_index = {name: i for i, name in enumerate(tasks)}
        self.evaluator = Evaluator(model, strategy, config.eval_batch_size, jit_compile=config.jit_compile)
        with strategy.scope():
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
            self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        checkpoint_dir = self.model_dir / "checkpoints"
        if not self.chief:  # Other workers must save too (collective ops), but somewhere private.
            checkpoint_dir = self.model_dir / f".worker_{strategy.cluster_resolver.task_id}_checkpoints"
        self.checkpoints = CheckpointStore(checkpoint_dir, model, optimizer, self.epoch, self.step_in_epoch,
                                           keep=config.keep_checkpoints, enabled=config.save_checkpoints)
        self.record = RunRecord(self.model_dir, extra_record, write=self.chief,
                                tensorboard_every=config.tensorboard_every)
        self._steps = {}  # task -> tf.function, traced once with the dataset's element spec

    # -- steps ---------------------------------------------------------------
    def _make_train_step(self, name, element_spec):
        task = self.tasks[name]
        head_model = task_model(self.model, name)
        variables = task_variables(self.model, name)
        replicas = self.strategy.num_replicas_in_sync
        clip_norm = self.config.clip_norm

        scaled = isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer)

        smart = self.config.smart.for_task(task.smart)
        path = EmbeddingPath(self.model) if smart.enabled else None

        distill_weight = self.config.distill_weight if task.distill_weight is None else task.distill_weight

        def loss_and_gradients(features, labels):
            # With knowledge distillation, labels are (gold labels, the teachers' soft targets).
            gold, soft = labels if isinstance(labels, tuple) else (labels, None)
            with tf.GradientTape() as tape:
                regularizer = None
                if smart.enabled:  # SMART: the clean outputs and the adversarial regulariser (see smart.py)
                    outputs, regularizer = outputs_and_regularizer(
                        task, smart, path, features, smart_seed(self.config.seed, self.optimizer.iterations))
                else:
                    outputs = task.task_type.forward(head_model, features, training=True)
                loss = task_loss(task, gold, outputs, replicas)
                if soft is not None:
                    loss = ((1.0 - distill_weight) * loss
                            + distill_weight * soft_task_loss(task, soft, outputs, features, replicas))
                if regularizer is not None:
                    loss += smart.alpha * regularizer * task.loss_weight / replicas
                scaled_loss = self.optimizer.scale_loss(loss) if scaled else loss
            return loss, tape.gradient(scaled_loss, variables)

        whole_step = self.config.xla_whole_step  # one device (checked in __init__)
        if self.config.jit_compile and not whole_step:  # XLA compiles once per padded shape (see bucket_lengths)
            loss_and_gradients = tf.function(loss_and_gradients, jit_compile=True)

        def replica_step(features, labels):
            loss, all_gradients = loss_and_gradients(features, labels)
            # Known at trace time: e.g. the unused pooler has no gradient.
            pairs = [(g, v) for g, v in zip(all_gradients, variables) if g is not None]
            gradients = [g for g, _ in pairs]
            total_loss = loss
            if replicas > 1:  # Clip the global-batch gradient, as one device would.
                context = tf.distribute.get_replica_context()
                gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
                total_loss = context.all_reduce(tf.distribute.ReduceOp.SUM, loss)
            norm = tf.linalg.global_norm(gradients)
            # With loss scaling, overflowing gradients are the LossScaleOptimizer's to skip.
            finite = tf.math.is_finite(total_loss) & (tf.math.is_finite(norm) | scaled)
            if clip_norm > 0:
                # Scaled gradients are clipped at the scaled norm: the same as clipping
                # the true gradient; the LossScaleOptimizer unscales them after.
                limit = clip_norm * tf.cast(self.optimizer.dynamic_scale, tf.float32) if scaled else clip_norm
                gradients, _ = tf.clip_by_global_norm(gradients, limit, use_norm=norm)
            if replicas > 1:  # The optimizer sums the replicas' gradients again.
                gradients = [_scale(g, 1.0 / replicas) for g in gradients]
            applied = self._apply_if_finite(finite, gradients, [v for _, v in pairs])
            return loss, applied

        if whole_step:  # XLA for forward, backward, clipping and the update together (one device)
            replica_step = tf.function(replica_step, jit_compile=True)

        # One trace for all batch shapes: the spec has unknown batch and length dims.
        @tf.function(input_signature=[element_spec])
        def step(batch):
            features, labels = batch
            losses, applied = self.strategy.run(replica_step, args=(features, labels))
            loss = self.strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)
            return loss, self.strategy.experimental_local_results(applied)[0]

        return step

    def _apply_if_finite(self, finite, gradients, variables):
        """Applies the update only when ``finite``; returns whether it did.

        A cond whose branch synchronises replicas is not allowed in a replica
        context, so under strategies that merge, the decision is taken in the
        cross-replica context (as Keras' LossScaleOptimizer does).
        """
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            self.optimizer.apply_gradients(zip(gradients, variables))  # skips non-finite steps itself
            return finite

        def apply():
            self.optimizer.apply_gradients(zip(gradients, variables))
            return tf.constant(True)

        if self.strategy.num_replicas_in_sync == 1 or tf.__internal__.distribute.strategy_supports_no_merge_call():
            return tf.cond(finite, apply, lambda: tf.constant(False))

        def cross_replica(distribution, finite, gradients):
            finite = distribution.experimental_local_results(finite)[0]

            def apply_everywhere():
                distribution.extended.call_for_each_replica(
                    lambda g: self.optimizer.apply_gradients(zip(g, variables)), args=(gradients,))
                return tf.constant(True)

            return tf.cond(finite, apply_everywhere, lambda: tf.constant(False))

        return tf.distribute.get_replica_context().merge_call(cross_replica, args=(finite, gradients))

    # -- loop ----------------------------------------------------------------
    def restore(self):
        """Restores the newest readable checkpoint (see ``CheckpointStore.restore``); returns its path or None."""
        return self.checkpoints.restore()

    def train(self):
        """Runs the remaining epochs; returns the last evaluation {task: {split: {metric: value}}}."""
        cfg = self.config
        self.model_dir.mkdir(parents=True, exist_ok=True)
        restored = self.restore()
        if restored:
            if cfg.verbose:
                print(f"Resuming from {restored} (epoch {int(self.epoch.numpy()) + 1}, "
                      f"step {int(self.step_in_epoch.numpy())} of that epoch)")
            self.record.resume(int(self.epoch.numpy()), int(self.step_in_epoch.numpy()))
        last = self.record.last_metrics()
        while int(self.epoch.numpy()) < cfg.epochs:
            epoch = int(self.epoch.numpy())
            started = time.time()
            order = self.run_epoch(epoch)
            evaluate = epoch + 1 == cfg.epochs or (cfg.evaluate_every and (epoch + 1) % cfg.evaluate_every == 0)
            if evaluate:
                last = self.evaluator.evaluate(self.tasks, self.eval_splits)
            self.epoch.assign_add(1)
            self.step_in_epoch.assign(0)
            self.checkpoints.save()
            steps = collections.Counter(order)  # what each task got from the sampler
            self.record.add_epoch(epoch + 1, time.time() - started, last if evaluate else None, last,
                                  steps={name: steps[name] for name in self.train_splits})
            if cfg.verbose and evaluate:
                print(f"epoch {epoch + 1}/{cfg.epochs} ({time.time() - started:.0f} s): "
                      + format_metrics_inline(last))
        return last

    def run_epoch(self, epoch, stop=None, max_examples=None):
        """Trains one epoch from ``step_in_epoch`` on, up to step ``stop`` (default: its end), in the
        order of the configured task sampler (Algorithm 1 by default); no evaluation or epoch
        checkpoint. A later call goes on where this one stopped. ``max_examples`` caps every task's
        examples of this epoch instead of the config's caps (e.g. a short warm-up).
        Returns the epoch's whole order: the task of each of its steps."""
        cfg = self.config
        if max_examples is not None:
            cfg = dataclasses.replace(cfg, max_examples_per_task=max_examples, task_max_examples={})
        epoch_examples = {name: cfg.epoch_examples(name, len(split)) for name, split in self.train_splits.items()}
        per_pass = cfg.epoch_batches(self.train_splits)
        order = cfg.epoch_order(self.train_splits, epoch)
        start = int(self.step_in_epoch.numpy())
        done = {name: order[:start].count(name) for name in self.train_splits}
        iterators = {}
        for name, split in self.train_splits.items():
            dataset = self.strategy.experimental_distribute_dataset(
                train_dataset(split, cfg.batch_size, cfg.seed, epoch, self.task_index[name], done[name],
                              cfg.sort_window, cfg.example_cap(name), num_steps=order.count(name)))
            if name not in self._steps:
                self._steps[name] = self._make_train_step(name, dataset.element_spec)
            iterators[name] = iter(dataset)
        bar = progress_bar(len(order), verbose=cfg.verbose, stateful_metrics=["loss", "ex/s"])
        if cfg.verbose:
            print(f"Epoch {epoch + 1}/{cfg.epochs}: {len(order)} steps over {len(self.train_splits)} tasks"
                  + (f" ({cfg.task_sampling} sampling)" if cfg.task_sampling != "algorithm1" else ""))
        bar.update(start)
        seen, tick, loss_sum = 0, time.time(), 0.0
        for position in range(start, len(order) if stop is None else min(stop, len(order))):
            name = order[position]
            batch = next(iterators[name])
            loss, applied = self._steps[name](batch)
            loss = float(loss)
            if not bool(applied):
                what = f"loss {loss}" if not math.isfinite(loss) else "gradient"
                where_ = (f"epoch {epoch + 1}, step {position + 1} (task {name!r}, its batch {done[name] + 1},"
                          f" examples {done[name] * cfg.batch_size + 1}-{(done[name] + 1) * cfg.batch_size} of the"
                          " epoch's shuffle)")
                if not cfg.skip_nonfinite:
                    raise NonFiniteLossError(
                        f"non-finite {what} at {where_}; the update was not applied and the last good"
                        " checkpoint is kept (--skip_nonfinite skips such batches instead)")
                self.record.skip({"epoch": epoch + 1, "step": position + 1, "task": name,
                                     "batch": done[name] + 1, "what": what})
                print(f"warning: skipped the batch: non-finite {what} at {where_}", file=sys.stderr)
            self.step_in_epoch.assign(position + 1)
            remaining = epoch_examples[name] - (done[name] % per_pass[name]) * cfg.batch_size
            seen += min(cfg.batch_size, remaining)
            done[name] += 1
            loss_sum += loss if math.isfinite(loss) else 0.0
            rate = seen / max(time.time() - tick, 1e-9)
            bar.update(position + 1, values=[("loss", loss_sum / (position + 1 - start)), ("ex/s", rate)])
            step = int(self.optimizer.iterations.numpy())
            self.record.training_loss(step, name, loss)
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and position + 1 < len(order):
                self.checkpoints.save()
        return order


def format_metrics_inline(results):
    parts = []
    for task, by_split in results.items():
        for split, values in by_split.items():
            label = task if split == "dev" else f"{task}/{split}"
            parts.append(label + " " + " ".join(f"{k}={v:.4f}" for k, v in values.items()))
    return "; ".join(parts)
