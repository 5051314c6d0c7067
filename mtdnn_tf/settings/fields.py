"""``setting()``: a dataclass field that carries its help text, so a command line can be made from it.

The settings dataclasses (``RunSettings``, ``TrainConfig``, ``SmartConfig``,
``StudyConfig``) declare each field with ``setting(default, help)``; the entry
modules list which fields they expose and ``mtdnn_tf.cli.define_setting_flags``
turns each into an absl flag with the field's name, type, default and help,
so a flag's default can never drift from the library's.

Example:

```python
@dataclasses.dataclass
class Budget:
    epochs: int = setting(5, "Training epochs.")
    seeds: list = setting(help="Seeds.", factory=lambda: [1, 2], item=int)
```
"""

import dataclasses


def setting(default=dataclasses.MISSING, help="", *, factory=None, flag=None, choices=None, item=None, pairs=None):
    """A dataclass field with what its flag needs.

    Args:
        default: the default value (or ``factory``: a zero-argument function making it, for lists and dicts).
        help: the flag's help text.
        flag: the flag's name where it is not the field's (``head_overrides`` is ``--heads``).
        choices: the allowed values (a tuple, or a function returning one): an enum flag.
        item: a list field's element type (``int``, ``float``; default ``str``).
        pairs: a dict field given as ``key=value`` items: the value type (``int`` for ``task=N``, ``str``).
    """
    metadata = {"help": help, "flag": flag, "choices": choices, "item": item, "pairs": pairs}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def fields_by_name(cls):
    """A settings dataclass's fields, by name."""
    return {f.name: f for f in dataclasses.fields(cls)}


def default_of(field):
    """A dataclass field's default value (made fresh for a factory); ``dataclasses.MISSING`` if it has none."""
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def flag_name(field, prefix=""):
    """The command-line flag of a settings field: its ``setting(flag=...)``, else ``prefix`` + its name."""
    return field.metadata.get("flag") or prefix + field.name


def flag_items(value):
    """A list or dict setting as the items of its comma-separated flag: ``["a", "b"]``, or ``["k=v", ...]``."""
    if isinstance(value, dict):  # --heads, --task_max_examples: name=value pairs
        return [f"{k}={v}" for k, v in value.items()]
    return [str(v) for v in value]
