"""Command-line flags are made from the settings dataclasses: a flag's type, default and help are its field's."""

import dataclasses
import subprocess
import sys

import pytest
from absl import flags
from conftest import REPO

from mtdnn_tf.cli import define_setting_flags, setting_flag_names, setting_values
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.settings.fields import default_of, setting


@dataclasses.dataclass
class Toy:
    name: str = setting(help="Required: no default.")
    epochs: int = setting(3, "Epochs.")
    rate: float = setting(0.5, "A rate.")
    quiet: bool = setting(False, "Quiet.", flag="shh")
    mode: str = setting("a", "A mode.", choices=("a", "b"))
    seeds: list = setting(help="Seeds.", factory=lambda: [1, 2], item=int)
    caps: dict = setting(help="Caps.", factory=dict, pairs=int)
    kinds: dict = setting(help="Kinds.", factory=dict, pairs=str)


def _parsed(*argv):
    values = flags.FlagValues()
    define_setting_flags(Toy, [f.name for f in dataclasses.fields(Toy)], __name__, prefix="toy_", flag_values=values)
    values(["prog", *argv])
    return values


def test_each_field_becomes_a_flag_of_its_type_default_and_help():
    values = _parsed("--toy_name=x")
    assert values["toy_epochs"].default == 3 and values["toy_epochs"].help == "Epochs."
    assert values["toy_rate"].default == 0.5
    assert values["shh"].default is False  # the field's own flag name, no prefix
    assert values["toy_seeds"].default == ["1", "2"]
    parsed = setting_values(Toy, ["name", "seeds", "caps", "kinds", "quiet"], values, prefix="toy_")
    assert parsed == {"name": "x", "seeds": [1, 2], "caps": {}, "kinds": {}, "quiet": False}
    assert Toy(**setting_values(Toy, [f.name for f in dataclasses.fields(Toy)], values, prefix="toy_")) == Toy(name="x")
    assert setting_flag_names(Toy, ["quiet", "epochs"], prefix="toy_") == {"quiet": "shh", "epochs": "toy_epochs"}


def test_parsed_values_take_the_fields_types():
    values = _parsed("--toy_name=x", "--toy_seeds=4,5", "--toy_caps=sst2=10,rte=2", "--toy_kinds=rte=linear",
                     "--shh", "--toy_mode=b")
    parsed = setting_values(Toy, ["seeds", "caps", "kinds", "quiet", "mode"], values, prefix="toy_")
    assert parsed == {"seeds": [4, 5], "caps": {"sst2": 10, "rte": 2}, "kinds": {"rte": "linear"}, "quiet": True,
                      "mode": "b"}


@pytest.mark.parametrize("argv", [[], ["--toy_name=x", "--toy_mode=c"], ["--toy_name=x", "--toy_caps=sst2=many"],
                                  ["--toy_name=x", "--toy_kinds=rte"]])
def test_bad_flags_are_refused_by_absl(argv):
    with pytest.raises(flags.Error):
        _parsed(*argv)


def test_a_list_item_of_the_wrong_type_names_the_flag():
    values = _parsed("--toy_name=x", "--toy_seeds=1,two")
    with pytest.raises(UserInputError, match=r"^--toy_seeds: expected a list of int numbers, got 1,two$"):
        setting_values(Toy, ["seeds"], values, prefix="toy_")


def test_a_field_without_help_cannot_become_a_flag():
    @dataclasses.dataclass
    class Bare:
        epochs: int = 3

    with pytest.raises(ValueError, match="Bare.epochs has no help"):
        define_setting_flags(Bare, ["epochs"], __name__, flag_values=flags.FlagValues())


def _check_defaults(module_name, groups):
    """Source of a check that the entry module's flags have their fields' defaults and help."""
    return f"""
import dataclasses, importlib
from absl import flags
from mtdnn_tf.settings.fields import flag_name
from mtdnn_tf.settings.fields import default_of
module = importlib.import_module({module_name!r})
checked = 0
for cls_path, names, prefix in {groups!r}:
    owner, _, cls_name = cls_path.rpartition(".")
    cls = getattr(importlib.import_module(owner), cls_name)
    for field in dataclasses.fields(cls):
        if field.name not in getattr(module, names):
            continue
        flag = flags.FLAGS[flag_name(field, prefix)]
        default = default_of(field)
        default = None if default is dataclasses.MISSING else default
        if isinstance(default, list):
            default = [str(v) for v in default]
        if isinstance(default, dict):
            default = [f"{{k}}={{v}}" for k, v in default.items()]
        assert flag.default == default, (flag.name, flag.default, default)
        assert flag.help.endswith(field.metadata["help"]), flag.name  # an enum flag starts with its choices
        checked += 1
print(checked)
"""


@pytest.mark.parametrize("module_name, groups", [
    ("mtdnn_tf.train", [("mtdnn_tf.experiment.RunSettings", "RUN_FLAGS", ""),
                        ("mtdnn_tf.training.train_config.TrainConfig", "TRAIN_FLAGS", ""),
                        ("mtdnn_tf.settings.smart_config.SmartConfig", "SMART_FLAGS", "smart_")]),
    ("mtdnn_tf.study", [("mtdnn_tf.studies.plan.StudyConfig", "STUDY_FLAGS", "")]),
])
@pytest.mark.slow
def test_every_flag_of_a_field_has_the_fields_default(module_name, groups):
    # A process of its own per command: both define --tasks, --epochs ..., which absl keeps once per process.
    done = subprocess.run([sys.executable, "-c", _check_defaults(module_name, groups)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) >= 25


def test_default_of_makes_a_factorys_value_fresh():
    first, second = (default_of(f) for f in dataclasses.fields(Toy) if f.name == "seeds" for _ in range(2))
    assert first == second == [1, 2] and first is not second
