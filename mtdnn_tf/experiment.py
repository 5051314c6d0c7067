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
import json
import os
import pathlib
import shutil
import tempfile

import keras

from mtdnn_tf.data.packing import TextPacker, describe_truncation
from mtdnn_tf.data.pipeline import pack_split
from mtdnn_tf.atomic_files import write_text_atomically
from mtdnn_tf.data import cache as token_cache
from mtdnn_tf.data.readers import read_split, split_file
from mtdnn_tf.data.sampling import sample_fraction
from mtdnn_tf.data.synthetic import write_demo_suite
from mtdnn_tf.errors import UserInputError, check_settings
from mtdnn_tf.metrics import chance_level
from mtdnn_tf.models.backbone import load_backbone, load_tokenizer, tokenizer_options
from mtdnn_tf.models.head_input import HEAD_INPUTS
from mtdnn_tf.models.init_from import check_source_fits, clone_backbone, initialize_from
from mtdnn_tf.models.mtdnn_model import build_mtdnn_model
from mtdnn_tf.tasks import load_tasks, with_head_kind
from mtdnn_tf.training.precision import AUTO as AUTO_PRECISION
from mtdnn_tf.training.precision import resolve_policy
from mtdnn_tf.training.strategies import STRATEGIES, make_strategy
from mtdnn_tf.training.trainer import MultiTaskTrainer, TrainConfig, make_optimizer, total_train_steps


MIXED_PRECISION_POLICIES = (None, "mixed_float16", "mixed_bfloat16", "auto")
DATA_SOURCES = ("files", "tfds")


@dataclasses.dataclass
class RunSettings:
    """Everything one run needs. See ``python -m mtdnn_tf.train --helpfull`` for each field."""

    tasks: list
    model_dir: str
    data_dir: str = None
    data_source: str = "files"  # 'files' (TSV/JSONL under data_dir) or 'tfds'
    task_dir: str = None
    preset: str = None
    random_backbone: str = None
    vocab_file: str = None
    generate_demo_data: bool = False
    max_seq_length: int = 128
    head_input: str = "cls"
    head_overrides: dict = dataclasses.field(default_factory=dict)  # task -> head kind
    skip_malformed: bool = False
    strategy: str = "default"
    tpu: str = None
    mixed_precision: str = None  # None, 'mixed_float16', 'mixed_bfloat16' (encoder only) or 'auto' (by hardware)
    init_from: str = None  # a finished run's model_dir: start from its encoder and shared task heads
    train_fraction: float = 1.0  # train on this seeded fraction of each training split
    fraction_seed: int = 0
    save_model: bool = True  # write model.keras etc. at the end (the study skips it for throw-away runs)
    cache_dir: str = None  # cache tokenised splits of files here (reused while inputs are unchanged)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def __post_init__(self):
        check_settings(self, [
            ("tasks", lambda v: bool(v), "at least one task name"),
            ("data_source", lambda v: v in DATA_SOURCES, f"one of {', '.join(DATA_SOURCES)}"),
            ("max_seq_length", lambda v: v >= 3, "at least 3 ([CLS], a token, [SEP])"),
            ("head_input", lambda v: v in HEAD_INPUTS, f"one of {', '.join(HEAD_INPUTS)}"),
            ("strategy", lambda v: v in STRATEGIES, f"one of {', '.join(STRATEGIES)}"),
            ("mixed_precision", lambda v: v in MIXED_PRECISION_POLICIES,
             "none, mixed_float16, mixed_bfloat16 or auto"),
            ("train_fraction", lambda v: 0 < v <= 1, "in (0, 1]"),
        ])


def read_task_data(task, split, settings):
    """Reads one split from the configured source."""
    if settings.data_source == "tfds":
        from mtdnn_tf.data.tfds_source import read_tfds_split  # noqa: PLC0415 - tfds is slow to import

        return read_tfds_split(task, split, settings.data_dir)
    if not settings.data_dir:
        raise UserInputError("--data_dir is required with --data_source=files")
    return read_split(task, split, settings.data_dir, skip_malformed=settings.skip_malformed)


def load_packed_data(tasks, settings, packer, verbose=True):
    """Reads and tokenises every task's train and evaluation splits.

    With ``settings.cache_dir``, tokenised splits of files are cached there and
    reused while the file, task, vocabulary and options are unchanged.

    Returns:
        (train_splits, eval_splits, skipped, truncated) where ``skipped`` maps
        'task/split' to the per-reason counts of skipped rows and ``truncated``
        maps 'task/split' to ``truncation_counts`` (printed when any was cut).
    """
    train_splits, eval_splits, skipped, truncated = {}, {}, {}, {}
    for name, task in tasks.items():
        for split in ("train", *task.eval_splits):
            packed = _load_packed_split(task, split, settings, packer)
            if packed.skipped:
                skipped[f"{name}/{split}"] = dict(packed.skipped)
                if verbose:
                    counts = ", ".join(f"{n} {reason}" for reason, n in packed.skipped.items())
                    print(f"Skipped in {packed.source}: {counts}")
            truncated[f"{name}/{split}"] = packed.truncation
            if verbose and packed.truncation["truncated"]:
                print(describe_truncation(packed.truncation, packed.source or f"{name}/{split}"))
            if split == "train":
                train_splits[name] = packed
            else:
                eval_splits.setdefault(name, {})[split] = packed
        if verbose:
            sizes = ", ".join(f"{s} {len(p)}" for s, p in [("train", train_splits[name]), *eval_splits.get(name, {}).items()])
            print(f"Task {name}: {sizes} examples")
    return train_splits, eval_splits, skipped, truncated


def _load_packed_split(task, split, settings, packer):
    fraction = settings.train_fraction if split == "train" else 1.0
    key = None
    if settings.cache_dir and settings.data_source == "files" and settings.data_dir:
        path = split_file(task, split, settings.data_dir)
        if path.is_file():
            key = token_cache.cache_key(
                path, task, packer.tokenizer.get_vocabulary(), packer.max_seq_length,
                tokenizer_options(packer.tokenizer), split=split,
                fraction=fraction, fraction_seed=settings.fraction_seed if fraction < 1 else None,
                skip_malformed=settings.skip_malformed)
            cached = token_cache.load(settings.cache_dir, key)
            if cached is not None:
                return cached
    examples = read_task_data(task, split, settings)
    if fraction < 1:
        examples = sample_fraction(examples, fraction, settings.fraction_seed, task)
    packed = pack_split(packer, examples, description=f"Tokenising {task.name}/{split}", task=task)
    if key is not None:
        token_cache.save(settings.cache_dir, key, packed)
    return packed


def _check_settings(settings, backbone):
    limit = backbone.max_sequence_length
    if not 3 <= settings.max_seq_length <= limit:
        raise UserInputError(
            f"--max_seq_length: {settings.max_seq_length} is outside [3, {limit}] (the encoder's limit)"
        )


def save_run(model, tokenizer, tasks, settings, model_dir):
    """Writes the trained model, its vocabulary and the run settings for predict and export.

    ``model.keras`` is written last, to a temporary name renamed into place, so
    its presence means the run's artefacts are complete.
    """
    model_dir = pathlib.Path(model_dir)
    tokenizer.save_assets(str(model_dir))  # vocabulary.txt
    tokenizer_config = keras.saving.serialize_keras_object(tokenizer)
    write_text_atomically(model_dir / "tokenizer.json", json.dumps(tokenizer_config, indent=2) + "\n")
    for name, task in tasks.items():
        target = model_dir / "tasks" / f"{name}.yaml"
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(task.path, target)
    write_text_atomically(model_dir / "run_settings.json", json.dumps(dataclasses.asdict(settings), indent=2) + "\n")
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".saving-", dir=model_dir))
    try:
        model.save(staging / "model.keras")
        os.replace(staging / "model.keras", model_dir / "model.keras")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
    tasks = load_tasks(settings.tasks, settings.task_dir)
    unknown = [name for name in settings.train.task_max_examples if name not in tasks]
    if unknown:
        raise UserInputError(f"--task_max_examples: {', '.join(unknown)} not among the --tasks ({', '.join(tasks)})")
    for name, kind in settings.head_overrides.items():
        if name not in tasks:
            raise UserInputError(f"--heads: {name!r} is not one of the --tasks ({', '.join(tasks)})")
        tasks[name] = with_head_kind(tasks[name], kind)
    vocab_file = settings.vocab_file
    if settings.generate_demo_data:
        if not settings.data_dir:
            raise UserInputError("--generate_demo_data needs --data_dir")
        demo_vocab = write_demo_suite(settings.data_dir)
        vocab_file = vocab_file or str(demo_vocab)
    strategy = make_strategy(settings.strategy, settings.tpu)
    if settings.mixed_precision == AUTO_PRECISION:
        settings = dataclasses.replace(settings, mixed_precision=resolve_policy(AUTO_PRECISION))
        if verbose:
            print(f"--mixed_precision=auto: {settings.mixed_precision or 'float32'}")
    source = None
    if settings.init_from:
        from mtdnn_tf.serving.trained_model import load_trained_model  # noqa: PLC0415 - a layer above (issue 14)

        source = load_trained_model(settings.init_from, flag="--init_from")
        named = load_tokenizer(settings.preset, vocab_file) if settings.preset or vocab_file else None
        check_source_fits(source, settings.head_input, settings.max_seq_length, named)
        tokenizer = source.tokenizer  # the encoder's vocabulary comes with it
    else:
        tokenizer = load_tokenizer(settings.preset, vocab_file)
    packer = TextPacker(tokenizer, settings.max_seq_length)
    # Seeds head initialisation and dropout generators: the same command gives the same run.
    keras.utils.set_random_seed(settings.train.seed)
    with strategy.scope():
        if source is not None:
            backbone = clone_backbone(source.model, dtype=settings.mixed_precision)
        else:
            backbone = load_backbone(
                settings.preset, settings.random_backbone, vocabulary_size=tokenizer.vocabulary_size(),
                dtype=settings.mixed_precision,
            )
    _check_settings(settings, backbone)
    train_splits, eval_splits, skipped, truncated = load_packed_data(tasks, settings, packer, verbose)
    cfg = settings.train
    with strategy.scope():
        model = build_mtdnn_model(backbone, tasks, settings.head_input)
        if source is not None:
            loaded = initialize_from(model, source.model, list(tasks))
            if verbose:
                print(f"Initialised from {settings.init_from}: encoder ({loaded['encoder']} tensors)"
                      + (f", heads of {', '.join(loaded['heads'])}" if loaded["heads"] else "")
                      + (f"; new heads for {', '.join(loaded['new_heads'])}" if loaded["new_heads"] else ""))
        optimizer = make_optimizer(cfg, total_train_steps(train_splits, cfg.batch_size, cfg.epochs,
                                                          cfg.max_examples_per_task, cfg.task_max_examples),
                                   loss_scaling=settings.mixed_precision == "mixed_float16")
        # Build slots now, inside the scope: the first step then only updates them.
        optimizer.build(model.trainable_variables)
    trainer = MultiTaskTrainer(
        model, optimizer, tasks, train_splits, eval_splits, cfg, settings.model_dir, strategy,
        extra_record={"skipped_rows": skipped, "truncated": truncated, "settings": dataclasses.asdict(settings),
                      "train_examples": {name: len(split) for name, split in train_splits.items()}},
    )
    results = trainer.train()
    if trainer.chief and settings.save_model:
        save_run(model, tokenizer, tasks, settings, settings.model_dir)
    if verbose:
        print("\nFinal dev metrics (chance = best constant prediction):")
        print(results_table(tasks, results, eval_splits))
    return results
