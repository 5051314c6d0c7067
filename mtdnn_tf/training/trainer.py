"""The custom multi-task training loop (the paper's Algorithm 1) under tf.distribute.

Each epoch, every task's training set is shuffled and cut into mini-batches;
all tasks' batches are merged and the merged list is shuffled; each step
updates the shared encoder and one task's head with that task's loss. Other
heads are not part of the step's variable list, so they get no gradient.
"""

import dataclasses
import json
import math
import os
import pathlib
import time

import keras
import tensorflow as tf

from mtdnn_tf.data.pipeline import DEFAULT_SORT_WINDOW, num_batches, train_dataset
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.losses import task_loss
from mtdnn_tf.models.mtdnn_model import task_forward, task_model, task_variables
from mtdnn_tf.training.evaluator import Evaluator
from mtdnn_tf.training.sampler import algorithm1_order
from mtdnn_tf.training.schedules import WarmupLinearDecay
from mtdnn_tf.training.strategies import is_chief


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


@dataclasses.dataclass
class TrainConfig:
    """Optimisation settings; the defaults are the paper's."""

    epochs: int = 5
    batch_size: int = 32
    eval_batch_size: int = 64
    learning_rate: float = 5e-5
    warmup_proportion: float = 0.1
    clip_norm: float = 1.0
    seed: int = 13
    checkpoint_every: int = 0  # also every N steps; 0: at epoch ends only
    keep_checkpoints: int = 3
    sort_window: int = DEFAULT_SORT_WINDOW  # batches sorted by length together; 1: no sorting
    jit_compile: bool = False  # XLA for the forward/backward pass and evaluation
    max_examples_per_task: int = 0  # per epoch, a fresh seeded draw; 0: all of them
    evaluate_every: int = 1  # evaluate every N epochs (and always after the last); 0: after the last only
    save_checkpoints: bool = True  # False: nothing is written to checkpoints/ (short throw-away runs)
    verbose: int = 1


def make_optimizer(config, total_steps, loss_scaling=False):
    """Adamax with linear warm-up and decay (the paper's optimiser; the trainer clips).

    With ``loss_scaling`` (for the mixed_float16 policy) it is wrapped in a
    dynamic ``keras.optimizers.LossScaleOptimizer``.
    """
    schedule = WarmupLinearDecay(
        peak=config.learning_rate,
        total_steps=total_steps,
        warmup_steps=int(round(total_steps * config.warmup_proportion)),
    )
    # Gradient clipping is done by the trainer on the all-reduced gradients: Keras'
    # own global_clipnorm would clip each replica's part separately.
    optimizer = keras.optimizers.Adamax(learning_rate=schedule)
    return keras.optimizers.LossScaleOptimizer(optimizer) if loss_scaling else optimizer


def _scale(gradient, factor):
    if isinstance(gradient, tf.IndexedSlices):  # sparse embedding gradients
        return tf.IndexedSlices(gradient.values * factor, gradient.indices, gradient.dense_shape)
    return gradient * factor


def epoch_examples(num_examples, cap=0):
    """Examples of one task trained per epoch, under a per-task cap (0: no cap)."""
    return min(num_examples, cap) if cap else num_examples


def total_train_steps(train_splits, batch_size, epochs, max_examples_per_task=0):
    return epochs * sum(num_batches(epoch_examples(len(s), max_examples_per_task), batch_size)
                        for s in train_splits.values())


def _write_json_atomically(path, data):
    tmp = pathlib.Path(f"{path}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


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
        self.extra_record = extra_record or {}
        self.task_index = {name: i for i, name in enumerate(tasks)}
        self.evaluator = Evaluator(model, strategy, config.eval_batch_size, jit_compile=config.jit_compile)
        with strategy.scope():
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
            self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        self.checkpoint = tf.train.Checkpoint(
            model=model, optimizer=optimizer, epoch=self.epoch, step_in_epoch=self.step_in_epoch
        )
        checkpoint_dir = self.model_dir / "checkpoints"
        if not self.chief:  # Other workers must save too (collective ops), but somewhere private.
            checkpoint_dir = self.model_dir / f".worker_{strategy.cluster_resolver.task_id}_checkpoints"
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(checkpoint_dir), max_to_keep=config.keep_checkpoints
        )
        self._steps = {}  # task -> tf.function, traced once with the dataset's element spec
        self.history = []

    # -- steps ---------------------------------------------------------------
    def _make_train_step(self, name, element_spec):
        task = self.tasks[name]
        head_model = task_model(self.model, name)
        variables = task_variables(self.model, name)
        replicas = self.strategy.num_replicas_in_sync
        clip_norm = self.config.clip_norm

        scaled = isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer)

        def loss_and_gradients(features, labels):
            with tf.GradientTape() as tape:
                outputs = task_forward(task, head_model, features, training=True)
                loss = task_loss(task, labels, outputs, replicas)
                scaled_loss = self.optimizer.scale_loss(loss) if scaled else loss
            return loss, tape.gradient(scaled_loss, variables)

        if self.config.jit_compile:  # XLA compiles once per padded shape (see bucket_lengths)
            loss_and_gradients = tf.function(loss_and_gradients, jit_compile=True)

        def replica_step(features, labels):
            loss, all_gradients = loss_and_gradients(features, labels)
            # Known at trace time: e.g. the unused pooler has no gradient.
            pairs = [(g, v) for g, v in zip(all_gradients, variables) if g is not None]
            gradients = [g for g, _ in pairs]
            if replicas > 1:  # Clip the global-batch gradient, as one device would.
                gradients = tf.distribute.get_replica_context().all_reduce(
                    tf.distribute.ReduceOp.SUM, gradients)
            if clip_norm > 0:
                # Scaled gradients are clipped at the scaled norm: the same as clipping
                # the true gradient; the LossScaleOptimizer unscales them after.
                limit = clip_norm * tf.cast(self.optimizer.dynamic_scale, tf.float32) if scaled else clip_norm
                gradients, _ = tf.clip_by_global_norm(gradients, limit)
            if replicas > 1:  # The optimizer sums the replicas' gradients again.
                gradients = [_scale(g, 1.0 / replicas) for g in gradients]
            self.optimizer.apply_gradients(zip(gradients, [v for _, v in pairs]))
            return loss

        # One trace for all batch shapes: the spec has unknown batch and length dims.
        @tf.function(input_signature=[element_spec])
        def step(batch):
            features, labels = batch
            losses = self.strategy.run(replica_step, args=(features, labels))
            return self.strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

        return step

    # -- state ---------------------------------------------------------------
    def restore(self):
        """Restores the latest checkpoint, if any; returns its path or None."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            return None
        try:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        except (tf.errors.OpError, AssertionError, ValueError) as e:
            raise UserInputError(
                f"{latest}: cannot restore checkpoint ({type(e).__name__}: {str(e).splitlines()[0]});"
                " it was written by a different model or is damaged: use a new --model_dir"
            ) from None
        return latest

    def _save(self):
        if not self.config.save_checkpoints:
            return
        self.manager.save(checkpoint_number=int(self.optimizer.iterations.numpy()))

    def _record(self, epoch_metrics, elapsed, latest):
        """Appends an epoch (metrics None if it was not evaluated) and rewrites metrics.json."""
        self.history.append({"epoch": int(self.epoch.numpy()), "seconds": round(elapsed, 1),
                             "metrics": epoch_metrics})
        if self.chief:
            record = {**self.extra_record, "epochs": self.history, "final": latest}
            _write_json_atomically(self.model_dir / "metrics.json", record)

    # -- loop ----------------------------------------------------------------
    def train(self):
        """Runs the remaining epochs; returns the last evaluation {task: {split: {metric: value}}}."""
        cfg = self.config
        self.model_dir.mkdir(parents=True, exist_ok=True)
        restored = self.restore()
        if restored and cfg.verbose:
            print(f"Resuming from {restored} (epoch {int(self.epoch.numpy()) + 1}, "
                  f"step {int(self.step_in_epoch.numpy())} of that epoch)")
        existing = self.model_dir / "metrics.json"
        if restored and existing.is_file():
            self.history = json.loads(existing.read_text()).get("epochs", [])
        writer = tf.summary.create_file_writer(str(self.model_dir / "tensorboard")) if self.chief else None
        evaluated = [e["metrics"] for e in self.history if e["metrics"] is not None]
        last = evaluated[-1] if evaluated else {}
        while int(self.epoch.numpy()) < cfg.epochs:
            epoch = int(self.epoch.numpy())
            started = time.time()
            self.run_epoch(epoch, writer)
            evaluate = epoch + 1 == cfg.epochs or (cfg.evaluate_every and (epoch + 1) % cfg.evaluate_every == 0)
            if evaluate:
                last = self.evaluator.evaluate(self.tasks, self.eval_splits)
            self.epoch.assign_add(1)
            self.step_in_epoch.assign(0)
            self._save()
            self._record(last if evaluate else None, time.time() - started, last)
            if writer is not None and evaluate:
                with writer.as_default(step=epoch + 1):
                    for task, by_split in last.items():
                        for split, values in by_split.items():
                            for metric, value in values.items():
                                tf.summary.scalar(f"{task}/{split}/{metric}", value)
                writer.flush()
            if cfg.verbose and evaluate:
                print(f"epoch {epoch + 1}/{cfg.epochs} ({time.time() - started:.0f} s): "
                      + format_metrics_inline(last))
        return last

    def run_epoch(self, epoch, writer=None):
        """Trains one epoch of Algorithm 1 from ``step_in_epoch`` on; no evaluation or epoch checkpoint."""
        cfg = self.config
        cap = cfg.max_examples_per_task
        batches = {name: num_batches(epoch_examples(len(split), cap), cfg.batch_size)
                   for name, split in self.train_splits.items()}
        order = algorithm1_order(batches, cfg.seed, epoch)
        start = int(self.step_in_epoch.numpy())
        done = {name: order[:start].count(name) for name in batches}
        iterators = {}
        for name, split in self.train_splits.items():
            dataset = self.strategy.experimental_distribute_dataset(
                train_dataset(split, cfg.batch_size, cfg.seed, epoch, self.task_index[name], done[name],
                              cfg.sort_window, cap))
            if name not in self._steps:
                self._steps[name] = self._make_train_step(name, dataset.element_spec)
            iterators[name] = iter(dataset)
        bar = keras.utils.Progbar(len(order), verbose=cfg.verbose, stateful_metrics=["loss", "ex/s"])
        if cfg.verbose:
            print(f"Epoch {epoch + 1}/{cfg.epochs}: {len(order)} steps over {len(batches)} tasks")
        bar.update(start)
        seen, tick, loss_sum = 0, time.time(), 0.0
        for position in range(start, len(order)):
            name = order[position]
            batch = next(iterators[name])
            loss = float(self._steps[name](batch))
            if not math.isfinite(loss):
                raise NonFiniteLossError(
                    f"non-finite loss {loss} at epoch {epoch + 1}, step {position + 1} (task {name!r},"
                    f" its batch {order[:position + 1].count(name)}); the last good checkpoint is kept"
                )
            self.step_in_epoch.assign(position + 1)
            remaining = epoch_examples(len(self.train_splits[name]), cap) - done[name] * cfg.batch_size
            seen += min(cfg.batch_size, remaining)
            done[name] += 1
            loss_sum += loss
            rate = seen / max(time.time() - tick, 1e-9)
            bar.update(position + 1, values=[("loss", loss_sum / (position + 1 - start)), ("ex/s", rate)])
            step = int(self.optimizer.iterations.numpy())
            if writer is not None and step % 10 == 0:
                with writer.as_default(step=step):
                    tf.summary.scalar(f"{name}/loss", loss)
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and position + 1 < len(order):
                self._save()


def format_metrics_inline(results):
    parts = []
    for task, by_split in results.items():
        for split, values in by_split.items():
            label = task if split == "dev" else f"{task}/{split}"
            parts.append(label + " " + " ".join(f"{k}={v:.4f}" for k, v in values.items()))
    return "; ".join(parts)
