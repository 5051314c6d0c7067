"""The ``python -m mtdnn_tf.train`` command that trains a given ``RunSettings``.

A study builds its runs' settings in Python; this writes each as the command a
user would type, so one run can be trained again (or changed) without the study.
"""

import shlex

from mtdnn_tf.experiment import RunSettings
from mtdnn_tf.settings.fields import fields_by_name, flag_items, flag_name
from mtdnn_tf.settings.smart_config import SmartConfig
from mtdnn_tf.training.train_config import TrainConfig

# The settings fields `mtdnn_tf.train` has a flag for (each flag made from its field: mtdnn_tf.settings.fields).
RUN_FLAGS = ("tasks", "model_dir", "data_dir", "data_source", "task_dir", "preset", "random_backbone", "vocab_file",
             "cache_dir", "generate_demo_data", "max_seq_length", "head_input", "head_overrides", "skip_malformed",
             "strategy", "tpu", "mixed_precision", "init_from", "train_fraction", "fraction_seed", "teachers")
TRAIN_FLAGS = ("epochs", "batch_size", "eval_batch_size", "learning_rate", "warmup_proportion", "clip_norm", "seed",
               "checkpoint_every", "evaluate_every", "tensorboard_every", "sort_window", "jit_compile",
               "xla_whole_step", "max_examples_per_task", "task_max_examples", "task_sampling",
               "sampling_temperature", "steps_per_epoch", "distill_weight", "skip_nonfinite",
               "lazy_embedding_update", "pad_last_batch", "steps_per_loop", "warm_up_min_steps", "verbose")
SMART_FLAGS = ("enabled", "alpha", "steps", "step_size", "noise_var", "epsilon")  # --smart, --smart_<name>
SMART_PREFIX = "smart_"


def _flag_fields():
    run, train, smart = fields_by_name(RunSettings), fields_by_name(TrainConfig), fields_by_name(SmartConfig)
    return (tuple((flag_name(run[n]), n) for n in RUN_FLAGS)
            + tuple((flag_name(train[n]), f"train.{n}") for n in TRAIN_FLAGS)
            + tuple((flag_name(smart[n], SMART_PREFIX), f"train.smart.{n}") for n in SMART_FLAGS))


# (flag, where its value lives in RunSettings); every flag of mtdnn_tf.train that sets a field.
FLAG_FIELDS = _flag_fields()
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
    if isinstance(value, (dict, list, tuple)):
        value = ",".join(flag_items(value))
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

