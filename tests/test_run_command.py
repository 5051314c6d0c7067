import dataclasses
import shlex

from absl import flags

from mtdnn_tf.experiment import RunSettings
from mtdnn_tf.run_command import (
    BOOKKEEPING_FIELDS,
    FLAG_FIELDS,
    train_command,
    train_flags,
)
from mtdnn_tf.settings.smart_config import SmartConfig
from mtdnn_tf.training.train_config import TrainConfig


def _parsed(command):
    """The RunSettings that `mtdnn_tf.train` builds from ``command``'s flags."""
    import mtdnn_tf.train as train_module

    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "mtdnn_tf.train"]
    FLAGS = flags.FLAGS
    FLAGS.unparse_flags()
    try:
        FLAGS(["mtdnn_tf.train", *argv[3:]])
        return train_module.settings_from_flags()
    finally:
        FLAGS.unparse_flags()


def _leaf_paths(value, prefix=""):
    for field in dataclasses.fields(value):
        inner = getattr(value, field.name)
        if dataclasses.is_dataclass(inner):
            yield from _leaf_paths(inner, f"{prefix}{field.name}.")
        else:
            yield prefix + field.name


def _without_bookkeeping(settings):
    record = dataclasses.asdict(settings)
    for path in BOOKKEEPING_FIELDS:
        *parents, leaf = path.split(".")
        inner = record
        for part in parents:
            inner = inner[part]
        del inner[leaf]
    return record


def test_every_field_has_a_flag_or_is_bookkeeping_and_every_flag_a_field():
    import mtdnn_tf.train  # noqa: F401 - defines the flags

    paths = set(_leaf_paths(RunSettings(tasks=["a"], model_dir="m")))
    mapped = {path for _, path in FLAG_FIELDS}
    assert paths == mapped | set(BOOKKEEPING_FIELDS), paths ^ (mapped | set(BOOKKEEPING_FIELDS))
    train_flags_defined = {f.name for f in flags.FLAGS.get_flags_for_module("mtdnn_tf.train")}
    assert train_flags_defined == {name for name, _ in FLAG_FIELDS}, train_flags_defined ^ {n for n, _ in FLAG_FIELDS}


def test_a_plain_run_needs_only_its_tasks_and_directory():
    settings = RunSettings(tasks=["rte", "mrpc"], model_dir="runs/x")
    assert train_flags(settings) == ["--tasks=rte,mrpc", "--model_dir=runs/x"]
    assert _parsed(train_command(settings)) == settings


def test_the_command_gives_back_the_settings_it_was_written_from():
    settings = RunSettings(
        tasks=["mnli_dev_split", "rte"], model_dir="runs/my study/run", data_dir="../shared/glue",
        preset="../shared/pretrained/all-MiniLM-L6-v2", max_seq_length=256, head_input="mean",
        head_overrides={"rte": "linear"}, init_from="runs/mt", train_fraction=0.01, fraction_seed=2,
        teachers=["runs/a", "runs/b"], cache_dir="runs/cache", skip_malformed=True, save_model=False,
        train=TrainConfig(epochs=3, learning_rate=2e-4, seed=7, checkpoint_every=200, evaluate_every=0,
                          task_max_examples={"sst2": 10000}, verbose=0, task_sampling="temperature",
                          sampling_temperature=3.0, distill_weight=0.25, keep_checkpoints=2,
                          smart=SmartConfig(enabled=True, alpha=0.5, step_size=1e-4)),
    )
    command = train_command(settings)
    assert "'--model_dir=runs/my study/run'" in command and "--noverbose" not in command
    assert "--smart " in command and "--skip_malformed " in command and "--heads=rte=linear " in command
    assert _without_bookkeeping(_parsed(command)) == _without_bookkeeping(settings)

