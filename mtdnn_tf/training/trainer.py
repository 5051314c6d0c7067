"""The custom multi-task training loop (the paper's Algorithm 1) under tf.distribute.

Each epoch, every task's training set is shuffled and cut into mini-batches;
all tasks' batches are merged and the merged list is shuffled; each step
updates the shared encoder and one task's head with that task's loss. Other
heads are not part of the step's variable list, so they get no gradient.
"""

import dataclasses
import json
import math
import pathlib
import sys
import time

import keras
import tensorflow as tf

from mtdnn_tf.atomic_files import write_text_atomically
from mtdnn_tf.data.pipeline import DEFAULT_SORT_WINDOW, num_batches, train_dataset
from mtdnn_tf.errors import NonFiniteLossError, UserInputError, check_settings  # noqa: F401 - re-exported
from mtdnn_tf.losses import task_loss
from mtdnn_tf.models.mtdnn_model import task_forward, task_model, task_variables
from mtdnn_tf.training.evaluator import Evaluator
from mtdnn_tf.training.lazy_adamax import LazyAdamax
from mtdnn_tf.training.sampler import algorithm1_order
from mtdnn_tf.training.schedules import WarmupLinearDecay
from mtdnn_tf.training.strategies import is_chief


class _RandomState(tf.Module):
    """Holds the model's random-generator state variables for the checkpoint."""

    def __init__(self, variables):
        super().__init__(name="random_state")
        self.states = list(variables)


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
    task_max_examples: dict = dataclasses.field(default_factory=dict)  # task -> its own cap (overrides the above)
    skip_nonfinite: bool = False  # skip (and count) batches with a non-finite loss or gradient instead of stopping
    evaluate_every: int = 1  # evaluate every N epochs (and always after the last); 0: after the last only
    save_checkpoints: bool = True  # False: nothing is written to checkpoints/ (short throw-away runs)
    verbose: int = 1
    lazy_embedding_update: bool = False  # Adamax updates only the embedding rows a batch used (see LazyAdamax)

    def __post_init__(self):
        positive = (lambda v: v >= 1, "at least 1")
        check_settings(self, [
            ("epochs", *positive), ("batch_size", *positive), ("eval_batch_size", *positive),
            ("learning_rate", lambda v: math.isfinite(v) and v > 0, "a positive number"),
            ("warmup_proportion", lambda v: 0 <= v <= 1, "in [0, 1]"),
            ("clip_norm", lambda v: math.isfinite(v) and v >= 0, "0 (off) or positive"),
            ("checkpoint_every", lambda v: v >= 0, "0 (epoch ends only) or positive"),
            ("keep_checkpoints", *positive), ("sort_window", *positive),
            ("max_examples_per_task", lambda v: v >= 0, "0 (all) or positive"),
            ("task_max_examples", lambda v: all(isinstance(n, int) and n >= 1 for n in v.values()),
             "task=N pairs with N at least 1"),
            ("evaluate_every", lambda v: v >= 0, "0 (after the last epoch only) or positive"),
            ("verbose", lambda v: v in (0, 1), "0 or 1"),
        ])


def example_cap(config, task_name):
    """The per-epoch cap on ``task_name``'s training examples under ``config`` (0: none)."""
    return config.task_max_examples.get(task_name, config.max_examples_per_task)


def make_optimizer(config, total_steps, loss_scaling=False):
    """Adamax with linear warm-up and decay (the paper's optimiser; the trainer clips).

    With ``config.lazy_embedding_update``, ``LazyAdamax``: sparse (embedding)
    gradients update only the rows the batch used.

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
    adamax = LazyAdamax if config.lazy_embedding_update else keras.optimizers.Adamax
    optimizer = adamax(learning_rate=schedule)
    return keras.optimizers.LossScaleOptimizer(optimizer) if loss_scaling else optimizer


def _scale(gradient, factor):
    if isinstance(gradient, tf.IndexedSlices):  # sparse embedding gradients
        return tf.IndexedSlices(gradient.values * factor, gradient.indices, gradient.dense_shape)
    return gradient * factor


def epoch_examples(num_examples, cap=0):
    """Examples of one task trained per epoch, under a per-task cap (0: no cap)."""
    return min(num_examples, cap) if cap else num_examples


def total_train_steps(train_splits, batch_size, epochs, max_examples_per_task=0, task_max_examples=None):
    """Optimizer steps of the whole run (for the learning-rate schedule)."""
    caps = task_max_examples or {}
    return epochs * sum(num_batches(epoch_examples(len(s), caps.get(name, max_examples_per_task)), batch_size)
                        for name, s in train_splits.items())


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
        # Dropout's random generators are Keras variables that tf.train.Checkpoint does
        # not reach through the model; saved too, so a resumed run draws the same masks.
        self.random_state = _RandomState(
            [v for v in model.non_trainable_variables if "seed_generator_state" in v.path])
        self.checkpoint = tf.train.Checkpoint(
            model=model, optimizer=optimizer, epoch=self.epoch, step_in_epoch=self.step_in_epoch,
            random_state=self.random_state,
        )
        checkpoint_dir = self.model_dir / "checkpoints"
        if not self.chief:  # Other workers must save too (collective ops), but somewhere private.
            checkpoint_dir = self.model_dir / f".worker_{strategy.cluster_resolver.task_id}_checkpoints"
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(checkpoint_dir), max_to_keep=config.keep_checkpoints
        )
        self._steps = {}  # task -> tf.function, traced once with the dataset's element spec
        self.history = []
        self.skipped = []  # batches skipped for a non-finite loss or gradient (this process)

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

    # -- state ---------------------------------------------------------------
    def _candidates(self):
        """Checkpoint prefixes on disk, newest first (read from the files, so a lost or
        damaged state file does not hide them)."""
        directory = pathlib.Path(self.manager.directory)
        numbered = []
        for index in directory.glob("ckpt-*.index"):
            number = index.name[len("ckpt-"):-len(".index")]
            if number.isdigit():
                numbered.append((int(number), str(index.with_suffix(""))))
        return [prefix for _, prefix in sorted(numbered, reverse=True)]

    def restore(self):
        """Restores the newest readable checkpoint, if any; returns its path or None.

        A damaged newest checkpoint (e.g. cut short by a kill) falls back to the
        one before, with a warning; if none can be read, a UserInputError says so.
        """
        candidates = self._candidates()
        failures = []
        for prefix in candidates:
            try:
                self.checkpoint.restore(prefix).assert_existing_objects_matched()
            except (tf.errors.OpError, AssertionError, ValueError) as e:
                failures.append((prefix, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"))
                continue
            for bad, reason in failures:
                print(f"warning: {bad}: cannot restore ({reason}); using the previous checkpoint {prefix}",
                      file=sys.stderr)
            return prefix
        if failures:
            tried = ", ".join(pathlib.Path(p).name for p, _ in failures)
            raise UserInputError(
                f"{candidates[0]}: no readable checkpoint (tried {tried}); it is damaged or was written by"
                " a different model: use a new --model_dir"
            )
        return None

    def _save(self):
        if not self.config.save_checkpoints:
            return
        self.manager.save(checkpoint_number=int(self.optimizer.iterations.numpy()))

    def _record(self, epoch_metrics, elapsed, latest):
        """Appends an epoch (metrics None if it was not evaluated) and rewrites metrics.json."""
        self.history.append({"epoch": int(self.epoch.numpy()), "seconds": round(elapsed, 1),
                             "metrics": epoch_metrics})
        if self.chief:
            record = {**self.extra_record, "epochs": self.history, "final": latest,
                      "skipped_nonfinite_batches": len(self.skipped),
                      "skipped_nonfinite": self.skipped}
            write_text_atomically(self.model_dir / "metrics.json", json.dumps(record, indent=2) + "\n")

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
            record = json.loads(existing.read_text())
            done_epochs, done_steps = int(self.epoch.numpy()), int(self.step_in_epoch.numpy())
            # metrics.json may be ahead of the checkpoint it is resumed from; keep what the checkpoint covers.
            self.history = [e for e in record.get("epochs", []) if e["epoch"] <= done_epochs]
            self.skipped = [s for s in record.get("skipped_nonfinite", [])
                            if s["epoch"] - 1 < done_epochs or (s["epoch"] - 1 == done_epochs and s["step"] <= done_steps)]
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

    def run_epoch(self, epoch, writer=None, stop=None):
        """Trains one epoch of Algorithm 1 from ``step_in_epoch`` on, up to step ``stop`` (default: its
        end); no evaluation or epoch checkpoint. A later call goes on where this one stopped."""
        cfg = self.config
        caps = {name: example_cap(cfg, name) for name in self.train_splits}
        batches = {name: num_batches(epoch_examples(len(split), caps[name]), cfg.batch_size)
                   for name, split in self.train_splits.items()}
        order = algorithm1_order(batches, cfg.seed, epoch)
        start = int(self.step_in_epoch.numpy())
        done = {name: order[:start].count(name) for name in batches}
        iterators = {}
        for name, split in self.train_splits.items():
            dataset = self.strategy.experimental_distribute_dataset(
                train_dataset(split, cfg.batch_size, cfg.seed, epoch, self.task_index[name], done[name],
                              cfg.sort_window, caps[name]))
            if name not in self._steps:
                self._steps[name] = self._make_train_step(name, dataset.element_spec)
            iterators[name] = iter(dataset)
        bar = keras.utils.Progbar(len(order), verbose=cfg.verbose, stateful_metrics=["loss", "ex/s"])
        if cfg.verbose:
            print(f"Epoch {epoch + 1}/{cfg.epochs}: {len(order)} steps over {len(batches)} tasks")
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
                self.skipped.append({"epoch": epoch + 1, "step": position + 1, "task": name,
                                     "batch": done[name] + 1, "what": what})
                print(f"warning: skipped the batch: non-finite {what} at {where_}", file=sys.stderr)
            self.step_in_epoch.assign(position + 1)
            remaining = epoch_examples(len(self.train_splits[name]), caps[name]) - done[name] * cfg.batch_size
            seen += min(cfg.batch_size, remaining)
            done[name] += 1
            loss_sum += loss if math.isfinite(loss) else 0.0
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
