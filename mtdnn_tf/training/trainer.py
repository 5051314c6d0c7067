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
a timer (``tests/cross_cutting/test_reliability.py``).
"""

import collections
import dataclasses
import math
import os
import pathlib
import signal
import sys
import time

import tensorflow as tf

from mtdnn_tf.data.distributed_input import input_options
from mtdnn_tf.data.pipeline import InputShard, train_dataset
from mtdnn_tf.errors import NonFiniteLossError, UserInputError
from mtdnn_tf.inference.evaluator import Evaluator
from mtdnn_tf.metrics import format_metrics_inline
from mtdnn_tf.progress import progress_bar
from mtdnn_tf.training.checkpoints import CheckpointStore
from mtdnn_tf.training.run_record import RunRecord
from mtdnn_tf.training.shape_warm_up import warm_up_shapes
from mtdnn_tf.training.strategies import compiles_whole_step, is_chief
from mtdnn_tf.training.train_step import TrainStep

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
        self.step = TrainStep(model, optimizer, tasks, self._train_names, config, strategy)
        self._loop = None  # the tf.function running up to steps_per_loop steps (TrainStep.make_loop)

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
        if int(self.epoch.numpy()) < cfg.epochs and self.warms_up_shapes():
            self.warm_up_shapes(int(self.epoch.numpy()))
        if int(self.epoch.numpy()) < cfg.epochs:
            self.build_loop(int(self.epoch.numpy()))
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

    def build_loop(self, epoch):
        """Traces the training loop and runs it for zero steps of ``epoch`` (no batch read, no state changed),
        so that the first epoch's clock does not count this one-time cost; returns its seconds, also recorded
        in metrics.json as ``loop_setup_seconds``.

        Measured on glue_local (three tasks, MiniLM, bfloat16, AMD EPYC with AVX-512 BF16): the loop's first
        call took 22 s of a 250 s first epoch, and the epoch's other steps took as long as the next epoch's
        (212 against 214 s), so timed apart the first epoch is no slower than the later ones.
        """
        started = time.time()
        cfg = self.config
        # Iterators of the epoch's own pipelines (their type decides the trace), one batch each, never read.
        iterators = tuple(iter(self._epoch_dataset(cfg, name, epoch, 0, 1)) for name in self._train_names)
        self._training_loop()(iterators, tf.zeros([cfg.steps_per_loop], tf.int32), tf.constant(0, tf.int32))
        seconds = time.time() - started
        self.record.extra["loop_setup_seconds"] = round(seconds, 1)
        if cfg.verbose:
            print(f"Built the training loop in {seconds:.0f} s")
        return seconds

    def _training_loop(self):
        """The tf.function running up to ``steps_per_loop`` steps (``TrainStep.make_loop``), made at first use."""
        if self._loop is None:
            self._loop = self.step.make_loop()
        return self._loop

    def warms_up_shapes(self):
        """Whether ``train`` meets every batch shape once before its first epoch (``shape_warm_up``): when
        ``warm_up_min_steps`` is set (0, the default: never) and the epoch has at least that many steps,
        and XLA does not compile the step (it compiles per shape for the step's own program, which a
        warm-up pass cannot share)."""
        cfg = self.config
        return (0 < cfg.warm_up_min_steps <= cfg.epoch_steps(self.train_splits)
                and not cfg.jit_compile and not compiles_whole_step(self.strategy))

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
        loop = self._training_loop()
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
            losses, applied, regularizers = (t.numpy() for t in loop(
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

    def _task_dataset(self, cfg, name, epoch, shard, skip_batches=0, num_steps=None):
        """Task ``name``'s training batches of ``epoch`` for the replicas of ``shard`` (an ``InputShard``)."""
        return train_dataset(self.train_splits[name], cfg.batch_size, cfg.seed, epoch, self.task_index[name],
                             skip_batches, cfg.sort_window, cfg.example_cap(name), num_steps=num_steps,
                             pad_last_batch=cfg.pad_last_batch, shard=shard)

    def _epoch_dataset(self, cfg, name, epoch, skip_batches, num_steps):
        """Task ``name``'s batches of ``epoch`` for this strategy: each input pipeline (one per worker) makes
        only its own replicas' shards of each global batch."""
        return self.strategy.distribute_datasets_from_function(
            lambda context: self._task_dataset(cfg, name, epoch, InputShard.of(context), skip_batches, num_steps),
            input_options(self.strategy))

    def epoch_batches(self, epoch):
        """Yields ``(task name, features, targets)`` for every step of ``epoch`` in the order the loop takes
        them, each batch as one replica sees it (for measuring: a share of an epoch's steps is not that
        share of its work, since tasks' batches differ in length)."""
        shard = InputShard(num_replicas=self.strategy.num_replicas_in_sync)
        order = self.config.epoch_order(self.train_splits, epoch)
        batches = {name: iter(self._task_dataset(self.config, name, epoch, shard, num_steps=order.count(name)))
                   for name in self.train_splits}
        for name in order:
            features, targets = next(batches[name])
            yield name, features, targets

    def warm_up_shapes(self, epoch):
        """Meets every batch shape of ``epoch`` once, as one replica sees it (``shape_warm_up``); returns the
        number of shapes."""
        shard = InputShard(num_replicas=self.strategy.num_replicas_in_sync)
        datasets = {name: self._task_dataset(self.config, name, epoch, shard) for name in self.train_splits}
        return warm_up_shapes(self.model, self.tasks, datasets, verbose=self.config.verbose)

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
