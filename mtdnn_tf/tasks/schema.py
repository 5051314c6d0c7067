"""Strict parsing of YAML mappings into frozen dataclasses.

Every dataclass field declares its expected kind in ``metadata["kind"]``; an
unknown key, a missing required key or a value of the wrong type raises
:class:`UserInputError` naming the file and the dotted field path.
"""

import dataclasses

from mtdnn_tf.errors import UserInputError, where

REQUIRED = object()


def field(kind, default=REQUIRED, choices=None, doc=""):
    """A dataclass field with a declared kind: 'str', 'int', 'float', 'bool', 'key'
    (a column name or index), 'str_list', 'str_map', 'float_pair', a dataclass, or ('map', dataclass).
    ``choices``: the allowed values, or a function returning them."""
    meta = {"kind": kind, "choices": choices, "doc": doc}
    if default is REQUIRED:
        return dataclasses.field(metadata=meta)
    if isinstance(default, (list, dict, tuple)):
        return dataclasses.field(default_factory=lambda: default, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _type_error(path, name, expected, value):
    return UserInputError(
        f"{where(path, field=name)}: expected {expected}, got {value!r}"
    )


def _convert(kind, value, path, name, choices):
    if dataclasses.is_dataclass(kind):
        return parse(kind, value, path, name)
    if isinstance(kind, tuple) and kind[0] == "map":
        if not isinstance(value, dict):
            raise _type_error(path, name, "a mapping", value)
        return {str(k): parse(kind[1], v, path, f"{name}.{k}") for k, v in value.items()}
    if kind == "str":
        if not isinstance(value, str):
            raise _type_error(path, name, "a string", value)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise _type_error(path, name, "true or false", value)
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(path, name, "an integer", value)
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(path, name, "a number", value)
        value = float(value)
    elif kind == "key":
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise _type_error(path, name, "a column name or index", value)
    elif kind == "str_list":
        if not isinstance(value, list) or not value:
            raise _type_error(path, name, "a non-empty list of strings", value)
        # YAML reads labels such as 0 and 1 as ints; GLUE files hold them as text.
        if any(isinstance(v, (bool, dict, list)) or v is None for v in value):
            raise _type_error(path, name, "a list of strings", value)
        value = tuple(str(v) for v in value)
        if len(set(value)) != len(value):
            raise UserInputError(f"{where(path, field=name)}: duplicate entries in {list(value)}")
    elif kind == "str_map":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise _type_error(path, name, "a mapping of strings to strings", value)
        value = dict(value)
    elif kind == "float_pair":
        if (
            not isinstance(value, list)
            or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)
            or value[0] > value[1]
        ):
            raise _type_error(path, name, "[low, high] with low <= high", value)
        value = (float(value[0]), float(value[1]))
    else:  # pragma: no cover - a programming error in a schema
        raise TypeError(f"unknown field kind {kind!r}")
    allowed = choices() if callable(choices) else choices  # a registry's names are read when parsing
    if allowed is not None and value not in allowed:
        raise UserInputError(
            f"{where(path, field=name)}: {value!r} is not one of {sorted(allowed)}"
        )
    return value


def parse(cls, raw, path, prefix=""):
    """Builds dataclass ``cls`` from the mapping ``raw`` read from file ``path``."""
    if not isinstance(raw, dict):
        raise _type_error(path, prefix or "<top level>", "a mapping", raw)
    known = {f.name: f for f in dataclasses.fields(cls) if "kind" in f.metadata}
    unknown = sorted(set(map(str, raw)) - set(known))
    if unknown:
        name = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise UserInputError(
            f"{where(path, field=name)}: unknown field (known: {', '.join(sorted(known))})"
        )
    values = {}
    for name, f in known.items():
        dotted = f"{prefix}.{name}" if prefix else name
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise UserInputError(f"{where(path, field=dotted)}: required field is missing")
            continue
        values[name] = _convert(f.metadata["kind"], raw[name], path, dotted, f.metadata["choices"])
    return cls(**values)
