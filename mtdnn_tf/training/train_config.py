"""Optimisation settings of a run and the step counts derived from them."""

import dataclasses
import math

from mtdnn_tf.data.pipeline import DEFAULT_SORT_WINDOW, num_batches
from mtdnn_tf.errors import check_settings
from mtdnn_tf.training.smart import SmartConfig
from mtdnn_tf.training.task_sampling import SAMPLERS


@dataclasses.dataclass
class TrainConfig:
    """Optimisation settings; the defaults are the paper's. Checked on construction
    (a ``SettingError`` names the field)."""

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
    xla_whole_step: bool = False  # with jit_compile on one device: XLA also for clipping and the update
    max_examples_per_task: int = 0  # per epoch, a fresh seeded draw; 0: all of them
    task_max_examples: dict = dataclasses.field(default_factory=dict)  # task -> its own cap (overrides the above)
    skip_nonfinite: bool = False  # skip (and count) batches with a non-finite loss or gradient instead of stopping
    evaluate_every: int = 1  # evaluate every N epochs (and always after the last); 0: after the last only
    save_checkpoints: bool = True  # False: nothing is written to checkpoints/ (short throw-away runs)
    tensorboard_every: int = 10  # write each task's training loss to TensorBoard every N steps; 0: never
    verbose: int = 1
    lazy_embedding_update: bool = False  # Adamax updates only the embedding rows a batch used (see LazyAdamax)
    task_sampling: str = "algorithm1"  # which task each step uses (see task_sampling.py)
    sampling_temperature: float = 2.0  # the 'temperature' sampler's T
    steps_per_epoch: int = 0  # drawing samplers: steps per epoch (0: as many as Algorithm 1 takes)
    smart: SmartConfig = dataclasses.field(default_factory=SmartConfig)  # adversarial regularisation (off)
    distill_weight: float = 0.5  # with teachers: weight of the soft-target loss (the gold loss gets 1 - it)
    pad_last_batch: bool = False  # fill a task's short last batch with zero-weight rows: one shape per bucket
    steps_per_loop: int = 1  # optimizer steps per call of the training loop's tf.function (host round trips)

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
            ("steps_per_loop", *positive),
            ("evaluate_every", lambda v: v >= 0, "0 (after the last epoch only) or positive"),
            ("tensorboard_every", lambda v: v >= 0, "0 (never) or positive"),
            ("verbose", lambda v: v in (0, 1), "0 or 1"),
            ("task_sampling", lambda v: v in SAMPLERS.names(), f"one of {', '.join(SAMPLERS.names())}"),
            ("sampling_temperature", lambda v: math.isfinite(v) and v > 0, "a positive number"),
            ("distill_weight", lambda v: 0 <= v <= 1, "in [0, 1]"),
            ("xla_whole_step", lambda v: not v or self.jit_compile, "used with jit_compile (--jit_compile)"),
            # XLA needs static shapes; LazyAdamax's update has data-dependent ones (tf.unique, a segment sum).
            ("lazy_embedding_update", lambda v: not v or not self.xla_whole_step,
             "off with xla_whole_step (its sparse update has data-dependent shapes, which XLA cannot compile;"
             " --jit_compile alone compiles the forward and backward passes and leaves the update out)"),
            ("steps_per_epoch", lambda v: v >= 0 and (v == 0 or self.task_sampling != "algorithm1"),
             "0 with --task_sampling=algorithm1 (it takes every batch once), else 0 or positive"),
        ])

    def example_cap(self, task_name):
        """The per-epoch cap on ``task_name``'s training examples (0: none)."""
        return self.task_max_examples.get(task_name, self.max_examples_per_task)

    def epoch_examples(self, task_name, num_examples):
        """Examples of one task trained per epoch, under its cap."""
        cap = self.example_cap(task_name)
        return min(num_examples, cap) if cap else num_examples

    def epoch_batches(self, train_splits):
        """Task -> its mini-batches in one pass over its epoch's examples."""
        return {name: num_batches(self.epoch_examples(name, len(split)), self.batch_size)
                for name, split in train_splits.items()}

    def epoch_steps(self, train_splits):
        """Optimizer steps per epoch: ``steps_per_epoch``, else every batch once (Algorithm 1)."""
        return self.steps_per_epoch or sum(self.epoch_batches(train_splits).values())

    def total_steps(self, train_splits):
        """Optimizer steps of the whole run over ``train_splits`` (name -> split), for the schedule."""
        return self.epochs * self.epoch_steps(train_splits)

    def epoch_order(self, train_splits, epoch):
        """The task of each step of ``epoch`` (see ``task_sampling``)."""
        sizes = {name: self.epoch_examples(name, len(split)) for name, split in train_splits.items()}
        return SAMPLERS.get(self.task_sampling).epoch_order(
            sizes, self.epoch_batches(train_splits), self.seed, epoch, self.epochs, self.steps_per_epoch,
            self.sampling_temperature)
