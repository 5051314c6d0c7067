"""The one exception type for user errors (bad files, flags, configs).

Entry points catch it and print its message on one line; anything else is a bug
and keeps its traceback.
"""


class UserInputError(Exception):
    """Bad input from the user: a file, a line, a field or a flag is named in the message."""


class SettingError(UserInputError):
    """A library setting out of range; ``setting`` names it so a CLI can name its flag instead."""

    def __init__(self, setting, message):
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.detail = message


def check_settings(owner, checks):
    """Raises SettingError for the first ``(name, is_valid, requirement)`` that ``owner`` fails.

    Example: ``check_settings(config, [("epochs", lambda v: v >= 1, "at least 1")])``.
    """
    for name, is_valid, requirement in checks:
        value = getattr(owner, name)
        if not is_valid(value):
            raise SettingError(name, f"must be {requirement}, got {value!r}")


UNIT_INTERVAL = (lambda v: 0 <= v <= 1, "in [0, 1]")  # a check_settings rule: a weight or a fraction


def as_flag_error(error, flag_names=None):
    """The same error naming the command-line flag (``--batch_size``) instead of the setting."""
    flag = (flag_names or {}).get(error.setting, error.setting)
    return UserInputError(f"--{flag}: {error.detail}")


def where(path, line=None, field=None):
    """Formats a location prefix such as ``RTE/train.tsv:12`` or ``rte.yaml: field 'head.kind'``."""
    text = str(path)
    if line is not None:
        text += f":{line}"
    if field is not None:
        text += f": field '{field}'"
    return text


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss or gradient (the CLI exits with status 3)."""
