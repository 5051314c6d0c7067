"""The ``python -m mtdnn_tf.train`` command that trains a given ``RunSettings``.

A study builds its runs' settings in Python; this writes each as the command a
user would type, so one run can be trained again (or changed) without the study.
"""

import shlex

from mtdnn_tf.experiment import RunSettings

# (flag, where its value lives in RunSettings); every flag of mtdnn_tf.train that sets a field.
FLAG_FIELDS = (
    ("tasks", "tasks"), ("model_dir", "model_dir"), ("data_dir", "data_dir"), ("data_source", "data_source"),
    ("task_dir", "task_dir"), ("preset", "preset"), ("random_backbone", "random_backbone"),
    ("vocab_file", "vocab_file"), ("cache_dir", "cache_dir"), ("generate_demo_data", "generate_demo_data"),
    ("max_seq_length", "max_seq_length"), ("head_input", "head_input"), ("heads", "head_overrides"),
    ("skip_malformed", "skip_malformed"), ("strategy", "strategy"), ("tpu", "tpu"),
    ("mixed_precision", "mixed_precision"), ("init_from", "init_from"), ("train_fraction", "train_fraction"),
    ("fraction_seed", "fraction_seed"), ("teachers", "teachers"),
    ("epochs", "train.epochs"), ("batch_size", "train.batch_size"), ("eval_batch_size", "train.eval_batch_size"),
    ("learning_rate", "train.learning_rate"), ("warmup_proportion", "train.warmup_proportion"),
    ("clip_norm", "train.clip_norm"), ("seed", "train.seed"), ("checkpoint_every", "train.checkpoint_every"),
    ("evaluate_every", "train.evaluate_every"), ("tensorboard_every", "train.tensorboard_every"),
    ("sort_window", "train.sort_window"), ("jit_compile", "train.jit_compile"),
    ("xla_whole_step", "train.xla_whole_step"), ("max_examples_per_task", "train.max_examples_per_task"),
    ("task_max_examples", "train.task_max_examples"), ("skip_nonfinite", "train.skip_nonfinite"),
    ("verbose", "train.verbose"), ("lazy_embedding_update", "train.lazy_embedding_update"),
    ("distill_weight", "train.distill_weight"), ("task_sampling", "train.task_sampling"),
    ("sampling_temperature", "train.sampling_temperature"), ("steps_per_epoch", "train.steps_per_epoch"),
    ("smart", "train.smart.enabled"), ("smart_alpha", "train.smart.alpha"), ("smart_steps", "train.smart.steps"),
    ("smart_step_size", "train.smart.step_size"), ("smart_noise_var", "train.smart.noise_var"),
    ("smart_epsilon", "train.smart.epsilon"), ("pad_last_batch", "train.pad_last_batch"),
    ("steps_per_loop", "train.steps_per_loop"),
)
# Fields no flag sets: what a run keeps on disk, not what it learns.
BOOKKEEPING_FIELDS = ("save_model", "train.keep_checkpoints", "train.save_checkpoints")
ALWAYS = ("tasks", "model_dir")


def _get(settings, path):
    value = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _flag(name, value):
    if isinstance(value, bool):
        return f"--{name}" if value else f"--no{name}"
    if isinstance(value, dict):  # --heads, --task_max_examples: name=value pairs
        value = ",".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    return f"--{name}={value}"


def train_flags(settings):
    """The ``mtdnn_tf.train`` flags giving ``settings``: those that differ from the defaults.

    Args:
        settings: a ``RunSettings``.

    Returns:
        A list of ``--flag=value`` strings (``--tasks`` and ``--model_dir`` always).
        Fields in ``BOOKKEEPING_FIELDS`` have no flag; they change what is kept
        on disk, not the trained model.
    """
    defaults = RunSettings(tasks=["_"], model_dir="_")
    flags = []
    for name, path in FLAG_FIELDS:
        value = _get(settings, path)
        if name in ALWAYS or value != _get(defaults, path):
            if value is None:  # a default the flag cannot spell; only reachable from Python
                raise ValueError(f"{path} is None, which --{name} cannot express")
            flags.append(_flag(name, value))
    return flags


def train_command(settings):
    """``settings`` as one shell command line, e.g. ``python -m mtdnn_tf.train --tasks=rte ...``.

    Example:

    >>> from mtdnn_tf.experiment import RunSettings
    >>> train_command(RunSettings(tasks=["rte"], model_dir="runs/rte", preset="bert_base_en"))
    'python -m mtdnn_tf.train --tasks=rte --model_dir=runs/rte --preset=bert_base_en'
    """
    return "python -m mtdnn_tf.train " + " ".join(shlex.quote(f) for f in train_flags(settings))

