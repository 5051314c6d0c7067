"""The custom multi-task training loop (the paper's Algorithm 1) under tf.distribute.

Each epoch, every task's training set is shuffled and cut into mini-batches;
all tasks' batches are merged and the merged list is shuffled; each step
updates the shared encoder and one task's head with that task's loss. Other
heads are not part of the step's variable list, so they get no gradient.
(``TrainConfig.task_sampling`` can draw each step's task instead; see
``task_sampling``.)

Test hook: with the environment variable ``MTDNN_TF_TEST_KILL_AT_STEP=N``, the
process SIGKILLs itself once optimizer step N is done (after that loop's
checkpoint, if any), so a resume test kills at an exact point instead of racing
a timer (``tests/test_reliability.py``).
"""

import collections
import dataclasses
import math
import os
import pathlib
import signal
import sys
import time

import keras
import tensorflow as tf

from mtdnn_tf.data.pipeline import InputShard, train_dataset
from mtdnn_tf.errors import NonFiniteLossError, UserInputError
from mtdnn_tf.losses import soft_task_loss, task_loss
from mtdnn_tf.models.mtdnn_model import task_model, task_variables
from mtdnn_tf.progress import progress_bar
from mtdnn_tf.training.checkpoints import CheckpointStore
from mtdnn_tf.training.evaluator import Evaluator
from mtdnn_tf.training.run_record import RunRecord
from mtdnn_tf.training.smart import EmbeddingPath, outputs_and_regularizer, smart_seed
from mtdnn_tf.training.strategies import compiles_whole_step, input_options, is_chief


def all_reduce_once(optimizer):
    """Makes a Keras optimizer apply the gradients it is given without summing them over replicas.

    The step sums the gradients itself, once, to clip the global-batch gradient; the TensorFlow
    backend's optimizer would sum them again inside ``apply_gradients`` (its
    ``_all_reduce_sum_gradients``, which has no public switch): twice the step's largest traffic.
    """
    for inner in (optimizer, getattr(optimizer, "inner_optimizer", None)):
        if inner is not None:
            inner._all_reduce_sum_gradients = list  # noqa: SLF001 - see the docstring


_KILL_AT_STEP = os.environ.get("MTDNN_TF_TEST_KILL_AT_STEP")


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
        if config.lazy_embedding_update and compiles_whole_step(strategy):
            raise UserInputError("--lazy_embedding_update: not on TPU (XLA compiles the whole step there, and"
                                 " the sparse update has data-dependent shapes); leave it off")
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
        self._train_names = list(train_splits)
        self._loop = None  # the tf.function running up to steps_per_loop steps (see _make_loop)
        if strategy.num_replicas_in_sync > 1:
            all_reduce_once(optimizer)

    # -- steps ---------------------------------------------------------------
    def _make_replica_step(self, name):
        """The step of task ``name`` on one replica: (the global-batch loss, whether the update was applied)."""
        task = self.tasks[name]
        head_model = task_model(self.model, name)
        variables = task_variables(self.model, name)
        replicas = self.strategy.num_replicas_in_sync
        clip_norm = self.config.clip_norm

        scaled = isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer)

        smart = self.config.smart.for_task(task.smart)
        path = EmbeddingPath(self.model) if smart.enabled else None

        distill_weight = self.config.distill_weight if task.distill_weight is None else task.distill_weight

        def loss_and_gradients(features, targets):
            # Each replica's share of the global-batch mean: its weighted sum over the global batch's weight.
            weights, units = targets["weights"], targets["units"]
            with tf.GradientTape() as tape:
                regularizer = tf.constant(0.0)
                if smart.enabled:  # SMART: the clean outputs and the adversarial regulariser (see smart.py)
                    outputs, regularizer = outputs_and_regularizer(
                        task, smart, path, features, smart_seed(self.config.seed, self.optimizer.iterations),
                        weights=weights, units=units)
                else:
                    outputs = task.task_type.forward(head_model, features, training=True)
                loss = task_loss(task, targets["labels"], outputs, weights, units)
                if "soft_targets" in targets:  # knowledge distillation
                    loss = ((1.0 - distill_weight) * loss + distill_weight
                            * soft_task_loss(task, targets["soft_targets"], outputs, features, weights, units))
                if smart.enabled:
                    loss += smart.alpha * regularizer * task.loss_weight
                scaled_loss = self.optimizer.scale_loss(loss) if scaled else loss
            return loss, tape.gradient(scaled_loss, variables), regularizer

        whole_step = self.config.xla_whole_step  # one device (checked in __init__)
        if self.config.jit_compile and not whole_step:  # XLA compiles once per padded shape (see bucket_lengths)
            loss_and_gradients = tf.function(loss_and_gradients, jit_compile=True)

        def replica_step(features, targets):
            loss, all_gradients, regularizer = loss_and_gradients(features, targets)
            # Known at trace time: e.g. the unused pooler has no gradient.
            pairs = [(g, v) for g, v in zip(all_gradients, variables) if g is not None]
            gradients = [g for g, _ in pairs]
            total_loss, total_regularizer = loss, regularizer
            if replicas > 1:  # The one all-reduce of the step (the losses ride along): clip the global gradient.
                *gradients, total_loss, total_regularizer = tf.distribute.get_replica_context().all_reduce(
                    tf.distribute.ReduceOp.SUM, gradients + [loss, regularizer])
            norm = tf.linalg.global_norm(gradients)
            # With loss scaling, overflowing gradients are the LossScaleOptimizer's to skip.
            finite = tf.math.is_finite(total_loss) & (tf.math.is_finite(norm) | scaled)
            if clip_norm > 0:
                # Scaled gradients are clipped at the scaled norm: the same as clipping
                # the true gradient; the LossScaleOptimizer unscales them after.
                limit = clip_norm * tf.cast(self.optimizer.dynamic_scale, tf.float32) if scaled else clip_norm
                gradients, _ = tf.clip_by_global_norm(gradients, limit, use_norm=norm)
            applied = self._apply_if_finite(finite, gradients, [v for _, v in pairs])
            return total_loss, applied, total_regularizer

        if whole_step:  # XLA for forward, backward, clipping and the update together (one device)
            replica_step = tf.function(replica_step, jit_compile=True)
        return replica_step

    def _make_loop(self):
        """One tf.function that runs up to ``steps_per_loop`` steps: ``loop(iterators, task_ids, count)``
        takes the first ``count`` of ``task_ids`` (indices into the trained tasks), each step's batch from
        that task's iterator, and returns every step's loss, whether its update was applied and its SMART
        regulariser (0 for a task without SMART)."""
        steps = [self._make_replica_step(name) for name in self._train_names]
        strategy = self.strategy

        def branch(index, iterators):
            def run():
                features, targets = next(iterators[index])
                results = strategy.run(steps[index], args=(features, targets))
                # The same on every replica (all-reduced; one decision).
                return tuple(strategy.experimental_local_results(r)[0] for r in results)
            return run

        @tf.function
        def loop(iterators, task_ids, count):
            losses = tf.TensorArray(tf.float32, size=count)
            applied = tf.TensorArray(tf.bool, size=count)
            regularizers = tf.TensorArray(tf.float32, size=count)
            for i in tf.range(count):
                loss, ok, regularizer = tf.switch_case(task_ids[i],
                                                       [branch(j, iterators) for j in range(len(steps))])
                losses, applied = losses.write(i, loss), applied.write(i, ok)
                regularizers = regularizers.write(i, regularizer)
            return losses.stack(), applied.stack(), regularizers.stack()

        return loop

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
            # The record first, then the checkpoint: killed between the two, the rerun resumes before this
            # epoch's end, drops its record (RunRecord.resume) and trains it again, the same way. The other
            # order lost the epoch's metrics for good (resumed after it, never recorded).
            steps = collections.Counter(order)  # what each task got from the sampler
            self.record.add_epoch(epoch + 1, time.time() - started, last if evaluate else None, last,
                                  steps={name: steps[name] for name in self.train_splits})
            self.epoch.assign_add(1)
            self.step_in_epoch.assign(0)
            self.checkpoints.save()
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
        end = len(order) if stop is None else min(stop, len(order))
        done = {name: order[:start].count(name) for name in self.train_splits}
        iterators = tuple(iter(self._epoch_dataset(cfg, name, epoch, done[name], order.count(name)))
                          for name in self._train_names)
        if self._loop is None:
            self._loop = self._make_loop()
        branch = {name: i for i, name in enumerate(self._train_names)}
        smart_tasks = {name for name in self._train_names if cfg.smart.for_task(self.tasks[name].smart).enabled}
        bar = progress_bar(len(order), verbose=cfg.verbose, stateful_metrics=["loss", "ex/s"])
        if cfg.verbose:
            print(f"Epoch {epoch + 1}/{cfg.epochs}: {len(order)} steps over {len(self.train_splits)} tasks"
                  + (f" ({cfg.task_sampling} sampling)" if cfg.task_sampling != "algorithm1" else ""))
        bar.update(start)
        seen, tick, loss_sum = 0, time.time(), 0.0
        position = start
        while position < end:
            # One call runs up to steps_per_loop steps without the host; the ids are padded to a fixed
            # length so that the loop is traced once.
            count = min(cfg.steps_per_loop, end - position)
            names = order[position:position + count]
            task_ids = [branch[name] for name in names] + [0] * (cfg.steps_per_loop - count)
            first_step = int(self.optimizer.iterations.numpy())
            losses, applied, regularizers = (t.numpy() for t in self._loop(
                iterators, tf.constant(task_ids, tf.int32), tf.constant(count, tf.int32)))
            for offset, name in enumerate(names):
                loss = float(losses[offset])
                if not applied[offset]:
                    self._non_finite(cfg, epoch, position + offset, name, done[name], loss)
                remaining = epoch_examples[name] - (done[name] % per_pass[name]) * cfg.batch_size
                seen += min(cfg.batch_size, remaining)
                done[name] += 1
                loss_sum += loss if math.isfinite(loss) else 0.0
                step = first_step + int(applied[: offset + 1].sum())
                self.record.training_loss(step, name, loss,
                                          float(regularizers[offset]) if name in smart_tasks else None)
            position += count
            self.step_in_epoch.assign(position)
            rate = seen / max(time.time() - tick, 1e-9)
            bar.update(position, values=[("loss", loss_sum / (position - start)), ("ex/s", rate)])
            step = int(self.optimizer.iterations.numpy())
            # Checkpoints fall on loop boundaries: here, when the loop passed a multiple of checkpoint_every.
            if (cfg.checkpoint_every and step // cfg.checkpoint_every > first_step // cfg.checkpoint_every
                    and position < len(order)):
                self.checkpoints.save()
            if _KILL_AT_STEP and step >= int(_KILL_AT_STEP):
                os.kill(os.getpid(), signal.SIGKILL)  # the test hook (see the module's docstring)
        return order

    def _epoch_dataset(self, cfg, name, epoch, skip_batches, num_steps):
        """Task ``name``'s batches of ``epoch`` for this strategy: each input pipeline (one per worker) makes
        only its own replicas' shards of each global batch."""
        split = self.train_splits[name]

        def dataset(input_context):
            return train_dataset(split, cfg.batch_size, cfg.seed, epoch, self.task_index[name], skip_batches,
                                 cfg.sort_window, cfg.example_cap(name), num_steps=num_steps,
                                 pad_last_batch=cfg.pad_last_batch, shard=InputShard.of(input_context))

        return self.strategy.distribute_datasets_from_function(dataset, input_options(self.strategy))

    def _non_finite(self, cfg, epoch, position, name, batch_index, loss):
        """Stops the run (or, with skip_nonfinite, records and skips) at a step whose update was not applied."""
        what = f"loss {loss}" if not math.isfinite(loss) else "gradient"
        where_ = (f"epoch {epoch + 1}, step {position + 1} (task {name!r}, its batch {batch_index + 1},"
                  f" examples {batch_index * cfg.batch_size + 1}-{(batch_index + 1) * cfg.batch_size} of the"
                  " epoch's shuffle)")
        if not cfg.skip_nonfinite:
            raise NonFiniteLossError(
                f"non-finite {what} at {where_}; the update was not applied and the last good"
                " checkpoint is kept (--skip_nonfinite skips such batches instead)")
        self.record.skip({"epoch": epoch + 1, "step": position + 1, "task": name,
                          "batch": batch_index + 1, "what": what})
        print(f"warning: skipped the batch: non-finite {what} at {where_}", file=sys.stderr)


def format_metrics_inline(results):
    parts = []
    for task, by_split in results.items():
        for split, values in by_split.items():
            label = task if split == "dev" else f"{task}/{split}"
            parts.append(label + " " + " ".join(f"{k}={v:.4f}" for k, v in values.items()))
    return "; ".join(parts)
