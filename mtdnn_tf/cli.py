"""Shared behaviour of the command-line entry points: user errors are one line, not a traceback."""

import sys

from mtdnn_tf.errors import UserInputError


def run_guarded(fn, extra=None):
    """Runs ``fn``, returning its exit status (None: 0); a UserInputError prints 'error: ...' and
    exits 2, ``extra`` maps types to codes."""
    try:
        return fn() or 0
    except UserInputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except tuple(extra or ()) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(extra[type(e)])
    return 0


def absl_main(fn, extra=None):
    """The ``main(argv)`` an absl entry module passes to ``app.run``: no stray
    arguments, TensorFlow's INFO logs off, ``fn`` run under ``run_guarded``."""
    from absl import app, logging  # noqa: PLC0415

    def main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines would bury the progress bar.
        return run_guarded(fn, extra)

    return main


def console_script(main):
    """The zero-argument function a console script (``mtdnn-train`` ...) calls: absl's ``app.run(main)``."""
    from absl import app  # noqa: PLC0415

    def run():
        app.run(main)

    return run
