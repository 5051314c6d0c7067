"""One training run from settings: read tasks and data, build the model, train, report.

The library entry behind ``python -m mtdnn_tf.train``; callable from Python
without absl flags:

```python
from mtdnn_tf.experiment import RunSettings, run
results = run(RunSettings(tasks=["demo_sentiment", "demo_pair", "demo_similarity"],
                          data_dir="/tmp/demo", generate_demo_data=True,
                          random_backbone="tiny", model_dir="/tmp/demo_model"))
```
"""

import dataclasses

import keras

from mtdnn_tf.data.loading import DATA_SOURCES, DataSource, load_packed_data
from mtdnn_tf.data.packing import TextPacker
from mtdnn_tf.data.synthetic import write_demo_suite
from mtdnn_tf.errors import UserInputError, check_settings
from mtdnn_tf.metrics import chance_level
from mtdnn_tf.models.backbone import load_backbone, load_tokenizer
from mtdnn_tf.models.head_input import HEAD_INPUTS
from mtdnn_tf.models.init_from import (
    check_source_fits,
    check_tasks_match,
    clone_backbone,
    initialize_from,
)
from mtdnn_tf.run_directory import load_trained_model, save_run
from mtdnn_tf.settings.fields import setting
from mtdnn_tf.tasks import load_tasks, with_head_kind
from mtdnn_tf.training.assembly import make_trainer
from mtdnn_tf.training.distillation import attach_soft_targets
from mtdnn_tf.training.precision import AUTO as AUTO_PRECISION
from mtdnn_tf.training.precision import resolve_policy
from mtdnn_tf.training.strategies import STRATEGIES, make_strategy
from mtdnn_tf.training.train_config import TrainConfig

MIXED_PRECISION_POLICIES = (AUTO_PRECISION, "float32", "mixed_bfloat16", "mixed_float16")


@dataclasses.dataclass
class RunSettings:
    """Everything one run needs. See ``python -m mtdnn_tf.train --helpfull`` for each field."""

    tasks: list = setting(help="Tasks to train jointly, by YAML name (<task_dir>/<name>.yaml or a built-in task).")
    model_dir: str = setting(help="Where checkpoints, metrics.json and the final model go.")
    data_dir: str = setting(None, "Root of the task files (<data_dir>/<TASK>/train.tsv ...), or the tfds data_dir.")
    data_source: str = setting("files", "Read task files, or tensorflow-datasets.", choices=DATA_SOURCES)
    task_dir: str = setting(None, "A directory of your own task YAML files, searched before the built-in tasks.")
    preset: str = setting(None, "keras-hub preset name, Keras preset directory or Hugging Face BERT directory.")
    random_backbone: str = setting(
        None, "Without --preset: size of a randomly initialised BERT ('tiny', 'small' or "
              "num_layers=..,hidden_dim=..,num_heads=..,intermediate_dim=..[,max_sequence_length=..]).")
    vocab_file: str = setting(None, "WordPiece vocabulary for a random backbone.")
    generate_demo_data: bool = setting(False, "Write the synthetic demo suite into --data_dir first.")
    max_seq_length: int = setting(128, "Packed sequence length, [CLS] and [SEP] included.")
    head_input: str = setting(
        "cls", "What linear heads read: final [CLS] state, pooler output, or masked mean.", choices=HEAD_INPUTS)
    head_overrides: dict = setting(
        help="Override task head kinds, e.g. 'rte=linear,mrpc=linear' for a linear baseline.", factory=dict,
        flag="heads", pairs=str)
    skip_malformed: bool = setting(False, "Skip malformed rows (counted and reported) instead of stopping.")
    strategy: str = setting("default", "tf.distribute strategy.", choices=STRATEGIES)
    tpu: str = setting(None, "TPU address for --strategy=tpu.")
    mixed_precision: str = setting(
        AUTO_PRECISION,
        "The encoder's dtype policy (heads, losses and variables stay float32; float16 uses dynamic loss scaling). "
        "auto: mixed_bfloat16 on TPUs and on a CPU with bfloat16 units (AMX or AVX-512 BF16), float32 elsewhere "
        "(GPUs included); float32 opts out.",
        choices=MIXED_PRECISION_POLICIES)
    init_from: str = setting(
        None, "A finished run's --model_dir: start from its encoder (and the heads of tasks it shares with "
              "--tasks); the paper's per-task refinement stage. Overrides --preset.")
    train_fraction: float = setting(
        1.0, "Train on this seeded fraction of each training split (class-stratified; for domain-adaptation "
             "curves).")
    fraction_seed: int = setting(0, "Seed of the --train_fraction draw.")
    save_model: bool = setting(True, "Write model.keras and the run's files at the end (off: throw-away runs).")
    cache_dir: str = setting(
        None, "Cache tokenised splits of task files here; reused while the file, task, vocabulary and length "
              "are unchanged (default: no cache).")
    teachers: list = setting(
        help="Knowledge distillation: finished runs' --model_dir values (e.g. an ensemble of seeds) whose "
             "averaged predictions become soft targets for the tasks they share with this run.", factory=list)
    train: TrainConfig = setting(help="The optimisation settings.", factory=TrainConfig)

    @property
    def data_source_spec(self):
        """Where the task splits come from, as the data layer takes it."""
        return DataSource(self.data_dir, self.data_source, self.skip_malformed)

    def __post_init__(self):
        check_settings(self, [
            ("tasks", lambda v: bool(v), "at least one task name"),
            ("data_source", lambda v: v in DATA_SOURCES, f"one of {', '.join(DATA_SOURCES)}"),
            ("max_seq_length", lambda v: v >= 3, "at least 3 ([CLS], a token, [SEP])"),
            ("head_input", lambda v: v in HEAD_INPUTS, f"one of {', '.join(HEAD_INPUTS)}"),
            ("strategy", lambda v: v in STRATEGIES, f"one of {', '.join(STRATEGIES)}"),
            ("mixed_precision", lambda v: v in MIXED_PRECISION_POLICIES,
             f"one of {', '.join(MIXED_PRECISION_POLICIES)}"),
            ("train_fraction", lambda v: 0 < v <= 1, "in (0, 1]"),
        ])


def load_run_tasks(settings):
    """The run's tasks, with ``head_overrides`` applied; checks the per-task settings name known tasks."""
    tasks = load_tasks(settings.tasks, settings.task_dir)
    unknown = [name for name in settings.train.task_max_examples if name not in tasks]
    if unknown:
        raise UserInputError(f"--task_max_examples: {', '.join(unknown)} not among the --tasks ({', '.join(tasks)})")
    for name, kind in settings.head_overrides.items():
        if name not in tasks:
            raise UserInputError(f"--heads: {name!r} is not one of the --tasks ({', '.join(tasks)})")
        tasks[name] = with_head_kind(tasks[name], kind)
    return tasks


def resolve_settings(settings, verbose=True):
    """``settings`` with 'auto' choices made for this machine (``--mixed_precision=auto``)."""
    if settings.mixed_precision != AUTO_PRECISION:
        return settings
    settings = dataclasses.replace(
        settings, mixed_precision=resolve_policy(AUTO_PRECISION, on_tpu=settings.strategy == "tpu"))
    if verbose:
        print(f"--mixed_precision=auto: {settings.mixed_precision}")
    return settings


def prepare_demo_data(settings):
    """Writes the synthetic demo suite if asked; returns the vocabulary file to use (or None)."""
    if not settings.generate_demo_data:
        return settings.vocab_file
    if not settings.data_dir:
        raise UserInputError("--generate_demo_data needs --data_dir")
    demo_vocab = write_demo_suite(settings.data_dir)
    return settings.vocab_file or str(demo_vocab)


def load_encoder_source(settings, vocab_file):
    """(source run or None, tokenizer): with ``init_from``, the finished run whose encoder
    (and vocabulary) the new run starts from; else the preset's or vocabulary file's tokenizer."""
    if not settings.init_from:
        return None, load_tokenizer(settings.preset, vocab_file)
    source = load_trained_model(settings.init_from, flag="--init_from")
    named = load_tokenizer(settings.preset, vocab_file) if settings.preset or vocab_file else None
    check_source_fits(source, settings.head_input, settings.max_seq_length, named)
    return source, source.tokenizer


def build_backbone(settings, tokenizer, source, strategy):
    """The encoder, inside ``strategy.scope()``: a copy of ``source``'s, or the preset / random one."""
    with strategy.scope():
        if source is not None:
            backbone = clone_backbone(source.model, dtype=settings.mixed_precision)
        else:
            backbone = load_backbone(settings.preset, settings.random_backbone,
                                     vocabulary_size=tokenizer.vocabulary_size(), dtype=settings.mixed_precision)
    limit = backbone.max_sequence_length
    if not 3 <= settings.max_seq_length <= limit:
        raise UserInputError(
            f"--max_seq_length: {settings.max_seq_length} is outside [3, {limit}] (the encoder's limit)"
        )
    return backbone


def results_table(tasks, results, eval_splits):
    """A plain-text table of every metric next to its chance level."""
    rows = [("task", "split", "metric", "value", "chance")]
    for name, by_split in results.items():
        for split, values in by_split.items():
            chance = chance_level(tasks[name], eval_splits[name][split].labels)
            for metric, value in values.items():
                rows.append((name, split, metric, f"{value:.4f}", f"{chance[metric]:.4f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(settings, verbose=True):
    """Trains a multi-task model as ``settings`` says; returns the final dev metrics."""
    settings = resolve_settings(settings, verbose)
    tasks = load_run_tasks(settings)
    vocab_file = prepare_demo_data(settings)
    strategy = make_strategy(settings.strategy, settings.tpu)
    source, tokenizer = load_encoder_source(settings, vocab_file)
    # Seeds head initialisation and dropout generators: the same command gives the same run.
    keras.utils.set_random_seed(settings.train.seed)
    backbone = build_backbone(settings, tokenizer, source, strategy)
    data = load_packed_data(tasks, TextPacker(tokenizer, settings.max_seq_length), settings.data_source_spec,
                            settings.train_fraction, settings.fraction_seed, settings.cache_dir, verbose)

    distillation = {}
    if settings.teachers:
        train, distillation = attach_soft_targets(data.train, tasks, settings.teachers, tokenizer,
                                                  settings.max_seq_length, settings.cache_dir or settings.model_dir,
                                                  verbose, eval_splits=data.eval)
        data = data._replace(train=train)

    if source is not None:
        check_tasks_match(source, tasks)

    def initialize(model):
        loaded = initialize_from(model, source.model, list(tasks))
        if verbose:
            print(f"Initialised from {settings.init_from}: encoder ({loaded['encoder']} tensors)"
                  + (f", heads of {', '.join(loaded['heads'])}" if loaded["heads"] else "")
                  + (f"; new heads for {', '.join(loaded['new_heads'])}" if loaded["new_heads"] else ""))

    trainer = make_trainer(
        backbone, tasks, data.train, data.eval, settings.train, settings.model_dir, strategy,
        head_input=settings.head_input, loss_scaling=settings.mixed_precision == "mixed_float16",
        initialize=initialize if source is not None else None,
        extra_record={"skipped_rows": data.skipped, "truncated": data.truncated,
                      "settings": dataclasses.asdict(settings),
                      "train_examples": {name: len(split) for name, split in data.train.items()},
                      **({"distillation": distillation} if distillation else {})},
    )
    results = trainer.train()
    if trainer.chief and settings.save_model:
        save_run(trainer.model, tokenizer, tasks, dataclasses.asdict(settings), settings.model_dir)
    if verbose:
        print("\nFinal dev metrics (chance = best constant prediction):")
        print(results_table(tasks, results, data.eval))
    return results
