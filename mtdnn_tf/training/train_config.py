"""Optimisation settings of a run and the step counts derived from them."""

import dataclasses
import math

from mtdnn_tf.data.pipeline import DEFAULT_SORT_WINDOW, num_batches
from mtdnn_tf.errors import UNIT_INTERVAL, check_settings
from mtdnn_tf.settings.fields import setting
from mtdnn_tf.settings.smart_config import SmartConfig
from mtdnn_tf.training.task_sampling import SAMPLERS


@dataclasses.dataclass
class TrainConfig:
    """Optimisation settings; the defaults are the paper's. Checked on construction
    (a ``SettingError`` names the field)."""

    epochs: int = setting(5, "Training epochs.")
    batch_size: int = setting(32, "Global training batch size.")
    eval_batch_size: int = setting(64, "Global evaluation batch size.")
    learning_rate: float = setting(5e-5, "Peak learning rate (Adamax).")
    warmup_proportion: float = setting(0.1, "Fraction of steps of linear warm-up.")
    clip_norm: float = setting(1.0, "Global gradient-norm clipping (0 disables).")
    seed: int = setting(13, "Random seed (batch order, shuffling, initialisation).")
    checkpoint_every: int = setting(0, "Also checkpoint every N steps (0: epoch ends only).")
    keep_checkpoints: int = setting(3, "Checkpoints kept (the newest).")
    sort_window: int = setting(
        DEFAULT_SORT_WINDOW, "Sort each window of this many batches of a task by length, so batches pad "
                             "little (1: no sorting; batch order stays Algorithm 1's).")
    jit_compile: bool = setting(False, "Compile the train and eval steps with XLA (one compile per bucket shape).")
    xla_whole_step: bool = setting(
        False, "With --jit_compile on one device: compile clipping and the optimizer update into the same XLA "
               "program as the forward and backward pass.")
    max_examples_per_task: int = setting(
        0, "Budget: at most this many training examples of each task per epoch, a new seeded draw each epoch"
           " (0: all).")
    task_max_examples: dict = setting(
        help="Per-task budget overriding --max_examples_per_task, e.g. 'sst2=10000': at most that many of the "
             "task's examples per epoch, a new draw each epoch.", factory=dict, pairs=int)
    skip_nonfinite: bool = setting(
        False, "Skip a batch whose loss or gradient is NaN or infinite (counted, reported on stderr and in "
               "metrics.json) instead of stopping with exit status 3.")
    evaluate_every: int = setting(1, "Evaluate the dev splits every N epochs and after the last (0: the last only).")
    save_checkpoints: bool = setting(True, "Write checkpoints (off: short throw-away runs).")
    tensorboard_every: int = setting(10, "Write each task's training loss to TensorBoard every N steps (0: never).")
    verbose: int = setting(1, "0: quiet; 1: progress bars.")
    lazy_embedding_update: bool = setting(
        False, "Adamax updates only the embedding rows each batch uses (a row-sparse update; faster, and unused "
               "rows keep their value; see docs/speed.md).")
    task_sampling: str = setting(
        "algorithm1", "Which task each step uses: algorithm1 (the paper: every batch of every task once per epoch, "
                      "shuffled), uniform, proportional (to task size), temperature (size^(1/T)) or annealed "
                      "(proportional towards uniform over the epochs).")
    sampling_temperature: float = setting(2.0, "T of --task_sampling=temperature.")
    steps_per_epoch: int = setting(0, "Steps per epoch of a drawing sampler (0: as many as Algorithm 1 takes).")
    smart: SmartConfig = setting(
        help="SMART adversarial regularisation (Jiang et al. 2020) of every task, unless its YAML says "
             "otherwise (smart: {enabled: false}); see docs/training.md.", factory=SmartConfig)
    distill_weight: float = setting(
        0.5, "With --teachers: weight of the soft-target loss (the gold-label loss gets 1 minus it); a task "
             "YAML's distill_weight overrides it.")
    pad_last_batch: bool = setting(
        False, "Fill each task's short last batch up to --batch_size with zero-weight rows (every example still "
               "trained once an epoch): batches take one shape per bucket, as TPUs and XLA want.")
    # Off by default: on an Intel Xeon with AMX it did not change the first round's speed (docs/speed.md).
    warm_up_min_steps: int = setting(
        0, "Before the first epoch, if it has at least this many steps, run each batch shape's forward and "
           "backward pass once, with no update, so the CPU's kernels for every shape exist before the epoch "
           "(0: never; not with --jit_compile).")
    steps_per_loop: int = setting(
        1, "Optimizer steps per call of the training loop's tf.function (the task of each step chosen inside"
           " it); more saves a host round trip per step on a GPU or TPU. Checkpoints and the non-finite "
           "check's report fall on loop boundaries.")

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
            ("warm_up_min_steps", lambda v: v >= 0, "0 (never) or positive"),
            ("evaluate_every", lambda v: v >= 0, "0 (after the last epoch only) or positive"),
            ("tensorboard_every", lambda v: v >= 0, "0 (never) or positive"),
            ("verbose", lambda v: v in (0, 1), "0 or 1"),
            ("task_sampling", lambda v: v in SAMPLERS.names(), f"one of {', '.join(SAMPLERS.names())}"),
            ("sampling_temperature", lambda v: math.isfinite(v) and v > 0, "a positive number"),
            ("distill_weight", *UNIT_INTERVAL),
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
