"""Shared behaviour of the command-line entry points: user errors are one line, not a traceback."""

import sys

from mtdnn_tf.errors import UserInputError


def run_guarded(fn, extra=None):
    """Runs ``fn``; a UserInputError prints 'error: ...' and exits 2, ``extra`` maps types to codes."""
    try:
        fn()
    except UserInputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except tuple(extra or ()) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(extra[type(e)])
    return 0
