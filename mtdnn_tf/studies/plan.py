"""What a study trains: a pure list of runs, each a name and its RunSettings."""

import dataclasses
import math

from mtdnn_tf.errors import check_settings
from mtdnn_tf.experiment import RunSettings
from mtdnn_tf.models.head_input import HEAD_INPUTS
from mtdnn_tf.settings.fields import setting
from mtdnn_tf.settings.smart_config import SmartConfig
from mtdnn_tf.training.task_sampling import SAMPLERS
from mtdnn_tf.training.train_config import TrainConfig


@dataclasses.dataclass
class StudyConfig:
    """One study's design and budget.

    Args:
        tasks: tasks trained jointly (the per-task table covers each of them).
        target: the domain-adaptation task, held out of multi-task training.
        data_dir, preset: task files and the pretrained encoder.
        study_dir: every run's model_dir lives under it, with study.json.
        seeds: one multi-task, single-task and refinement run per seed.
        fractions: training-data fractions of ``target`` for the adaptation curve.
        samples_per_fraction: random draws of each fraction below 1 (1.0 gets one).
        epochs: multi-task and single-task epochs (the same budget for both).
        refine_epochs: per-task refinement epochs after multi-task training.
        adapt_epochs, adapt_min_steps: fine-tuning on a fraction runs at least
            ``adapt_epochs`` epochs and enough epochs for ``adapt_min_steps`` steps.
        max_examples_per_task: per-epoch cap on each task's training examples.
        checkpoint_every: each run checkpoints every this many steps.
        baseline_tasks: the tasks with single-task and refinement runs (default: all).
        ablate: a task left out of one extra multi-task run (first seed).
        task_max_examples: per-task caps overriding ``max_examples_per_task``.
        compare_sampling: a task sampler (e.g. 'temperature') for one extra multi-task
            run (first seed) with the same number of steps as Algorithm 1.
        sampling_temperature: that run's T for 'temperature' sampling.
        smart_tasks: tasks with extra single-task runs trained with SMART (first ``smart_seeds`` seeds).
        distill: one extra multi-task run (first seed) distilled from every seed's multi-task model.
    """

    tasks: list = setting(help="Tasks trained jointly; the per-task table covers each.")
    target: str = setting(help="Domain-adaptation task, held out of multi-task training.")
    data_dir: str = setting(help="Root of the task files.")
    preset: str = setting(help="Pretrained encoder (keras-hub preset or local directory).")
    study_dir: str = setting(help="Where every run's model_dir and study.json go.")
    seeds: list = setting(
        help="Seeds of the multi-task, single-task and refinement runs.", factory=lambda: [1, 2], item=int)
    fractions: list = setting(
        help="Fractions of --target's training data.", factory=lambda: [0.001, 0.01, 0.1, 1.0], item=float)
    samples_per_fraction: int = setting(3, "Random draws per fraction below 1.")
    epochs: int = setting(3, "Multi-task and single-task epochs.")
    refine_epochs: int = setting(1, "Refinement epochs.")
    adapt_epochs: int = setting(2, "Minimum epochs of a fraction run.")
    adapt_min_steps: int = setting(20, "Minimum steps of a fraction run (tiny fractions get more epochs).")
    max_examples_per_task: int = setting(192, "Budget: training examples per task per epoch (0: all).")
    max_seq_length: int = setting(128, "Packed sequence length.")
    batch_size: int = setting(32, "Training batch size.")
    learning_rate: float = setting(2e-4, "Peak learning rate.")
    head_input: str = setting("mean", "What linear heads read (see mtdnn_tf.train).", choices=HEAD_INPUTS)
    task_dir: str = setting(None, "A directory of your own task YAML files, searched before the built-in tasks.")
    random_backbone: str = setting(None, "Instead of a preset (tests): a random encoder of this size.")
    vocab_file: str = setting(None, "The WordPiece vocabulary of a random encoder.")
    checkpoint_every: int = setting(
        200, "Checkpoint each run every N steps (and at epoch ends), so a killed study resumes inside the run "
             "it was in.")
    baseline_tasks: list = setting(
        None, "Tasks with single-task and refinement runs (default: all --tasks; leave out pure source tasks "
              "such as mnli_dev_split).")
    ablate: str = setting(
        None, "A task left out of one extra multi-task run (first seed), to show what it brings, e.g. "
              "mnli_dev_split.")
    task_max_examples: dict = setting(
        help="Per-task caps on training examples per epoch, e.g. sst2=10000.", factory=dict, pairs=int)
    compare_sampling: str = setting(
        None, "A task sampler (uniform, proportional, temperature, annealed) for one extra multi-task run "
              "(first seed) with Algorithm 1's number of steps.")
    sampling_temperature: float = setting(2.0, "T of --compare_sampling=temperature.")
    smart_tasks: list = setting(
        None, "Tasks with extra single-task runs trained with SMART (first --smart_seeds seeds).")
    smart_seeds: int = setting(2, "Seeds of the SMART runs.")
    distill: bool = setting(
        False, "One extra multi-task run (first seed) distilled from every seed's multi-task model.")

    def __post_init__(self):
        positive = (lambda v: v >= 1, "at least 1")
        check_settings(self, [
            ("tasks", lambda v: bool(v), "at least one task name"),
            ("target", lambda v: v not in self.tasks, "a task not among the multi-task tasks (it is held out)"),
            ("seeds", lambda v: bool(v), "at least one seed"),
            ("fractions", lambda v: bool(v) and all(0 < f <= 1 for f in v), "fractions in (0, 1]"),
            ("samples_per_fraction", *positive), ("epochs", *positive), ("refine_epochs", *positive),
            ("adapt_epochs", *positive), ("adapt_min_steps", *positive),
            ("max_examples_per_task", lambda v: v >= 0, "0 (all) or positive"),
            ("checkpoint_every", lambda v: v >= 0, "0 (epoch ends only) or positive"),
            ("max_seq_length", lambda v: v >= 3, "at least 3"), ("batch_size", *positive),
            ("learning_rate", lambda v: v > 0, "positive"),
            ("head_input", lambda v: v in HEAD_INPUTS, f"one of {', '.join(HEAD_INPUTS)}"),
            ("baseline_tasks", lambda v: v is None or set(v) <= set(self.tasks), "tasks among the multi-task tasks"),
            ("ablate", lambda v: v is None or (v in self.tasks and len(self.tasks) > 1),
             "one of the multi-task tasks (not the only one)"),
            ("task_max_examples", lambda v: set(v) <= set(self.tasks) and all(n >= 1 for n in v.values()),
             "task=N pairs for multi-task tasks, N at least 1"),
            ("compare_sampling", lambda v: v is None or (v in SAMPLERS.names() and v != "algorithm1"),
             f"a sampler other than algorithm1 ({', '.join(SAMPLERS.names()[1:])})"),
            ("smart_tasks", lambda v: v is None or set(v) <= set(self.tasks), "tasks among the multi-task tasks"),
            ("smart_seeds", lambda v: not self.smart_tasks or 1 <= v <= len(self.seeds),
             "between 1 and the number of seeds"),
        ])


@dataclasses.dataclass
class PlannedRun:
    """One training run of a study; ``needs`` names the run whose model it starts from."""

    name: str
    kind: str  # 'multi_task', 'single_task', 'refined', 'adapt'
    settings: RunSettings
    task: str = None
    seed: int = None
    fraction: float = None
    init: str = None  # for 'adapt': 'mtdnn' or 'pretrained'
    needs: str = None


def _settings(config, name, tasks, seed, epochs, **extra):
    train = TrainConfig(
        epochs=epochs, batch_size=config.batch_size, learning_rate=config.learning_rate, seed=seed,
        max_examples_per_task=config.max_examples_per_task, evaluate_every=0, verbose=0,
        checkpoint_every=config.checkpoint_every, keep_checkpoints=2,
        task_max_examples={t: n for t, n in config.task_max_examples.items() if t in tasks},
    )
    # float32 on every CPU: the study's figures (docs/RESULTS.md) are float32 ones, and a run resumed or
    # repeated on a CPU with bfloat16 units must train the same model.
    return RunSettings(
        tasks=list(tasks), model_dir=f"{config.study_dir}/{name}", data_dir=config.data_dir,
        mixed_precision="float32",
        task_dir=config.task_dir, preset=config.preset, random_backbone=config.random_backbone,
        vocab_file=config.vocab_file, max_seq_length=config.max_seq_length,
        head_input=config.head_input, train=train, save_model=False,
        cache_dir=f"{config.study_dir}/token_cache", **extra)


def adapt_epochs(config, train_size, fraction):
    """Epochs for fine-tuning on ``fraction`` of ``train_size`` examples (see StudyConfig)."""
    from mtdnn_tf.data.pipeline import num_batches  # noqa: PLC0415

    examples = max(1, int(round(fraction * train_size)))
    return max(config.adapt_epochs, math.ceil(config.adapt_min_steps / num_batches(examples, config.batch_size)))


def plan_study(config, target_train_size):
    """The study's runs, in an order where every run comes after the one it needs.

    Args:
        config: StudyConfig.
        target_train_size: examples in the target task's training split (sets
            the epochs of the fraction runs).
    """
    runs = []
    for seed in config.seeds:
        mt = f"multi_task/seed{seed}"
        settings = _settings(config, mt, config.tasks, seed, config.epochs)
        settings.save_model = True  # refinement and adaptation start from it
        runs.append(PlannedRun(mt, "multi_task", settings, seed=seed))
        if config.ablate and seed == config.seeds[0]:
            name = f"multi_task_without_{config.ablate}/seed{seed}"
            others = [t for t in config.tasks if t != config.ablate]
            runs.append(PlannedRun(name, "ablation", _settings(config, name, others, seed, config.epochs), seed=seed))
        for task in config.baseline_tasks or config.tasks:
            name = f"single_task/{task}/seed{seed}"
            runs.append(PlannedRun(name, "single_task", _settings(config, name, [task], seed, config.epochs),
                                   task=task, seed=seed))
            name = f"refined/{task}/seed{seed}"
            settings = _settings(config, name, [task], seed, config.refine_epochs,
                                 init_from=f"{config.study_dir}/{mt}")
            runs.append(PlannedRun(name, "refined", settings, task=task, seed=seed, needs=mt))
    source = f"multi_task/seed{config.seeds[0]}"
    for fraction in config.fractions:
        draws = 1 if fraction >= 1 else config.samples_per_fraction
        epochs = adapt_epochs(config, target_train_size, fraction)
        for sample in range(draws):
            for init in ("mtdnn", "pretrained"):
                name = f"adapt/{config.target}/{fraction:g}/sample{sample}/{init}"
                extra = dict(train_fraction=fraction, fraction_seed=sample)
                if init == "mtdnn":
                    extra["init_from"] = f"{config.study_dir}/{source}"
                settings = _settings(config, name, [config.target], sample, epochs, **extra)
                settings.train.max_examples_per_task = 0  # a fraction means all of that fraction
                runs.append(PlannedRun(name, "adapt", settings, task=config.target, seed=sample,
                                       fraction=fraction, init=init, needs=source if init == "mtdnn" else None))
    if config.compare_sampling:  # last, so adding it to a running study leaves the earlier runs' order alone
        seed = config.seeds[0]
        name = f"multi_task_{config.compare_sampling}_sampling/seed{seed}"
        settings = _settings(config, name, config.tasks, seed, config.epochs)
        # The same number of steps per epoch as Algorithm 1 (steps_per_epoch 0), drawn by the sampler.
        settings.train = dataclasses.replace(settings.train, task_sampling=config.compare_sampling,
                                             sampling_temperature=config.sampling_temperature)
        runs.append(PlannedRun(name, "sampling", settings, seed=seed))
    for seed in config.seeds[:config.smart_seeds] if config.smart_tasks else ():
        for task in config.smart_tasks:
            name = f"single_task_smart/{task}/seed{seed}"
            settings = _settings(config, name, [task], seed, config.epochs)
            settings.train = dataclasses.replace(settings.train, smart=SmartConfig(enabled=True))
            runs.append(PlannedRun(name, "smart", settings, task=task, seed=seed))
    if config.distill:  # the student: the first seed's multi-task run again, with every seed's model as teacher
        seed = config.seeds[0]
        name = f"multi_task_distilled/seed{seed}"
        teachers = [f"{config.study_dir}/multi_task/seed{s}" for s in config.seeds]
        settings = _settings(config, name, config.tasks, seed, config.epochs, teachers=teachers)
        runs.append(PlannedRun(name, "distilled", settings, seed=seed, needs=f"multi_task/seed{config.seeds[-1]}"))
    return runs
