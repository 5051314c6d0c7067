"""The one exception type for user errors (bad files, flags, configs).

Entry points catch it and print its message on one line; anything else is a bug
and keeps its traceback.
"""


class UserInputError(Exception):
    """Bad input from the user: a file, a line, a field or a flag is named in the message."""


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
