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


def console_script(main, module_name):
    """The zero-argument function a console script (``mtdnn-train`` ...) calls: absl's ``app.run(main)``.

    absl's ``--help`` and ``--helpshort`` show the ``__main__`` module's docstring and the flags it
    defined, and under a console script ``__main__`` is the generated wrapper: the entry module
    (``module_name``) lends it its docstring and its flags. Asked for help, it exits 0 (absl exits 1).
    """
    from absl import app, flags  # noqa: PLC0415

    def run():
        main_module, module = sys.modules["__main__"], sys.modules[module_name]
        if main_module is not module:
            main_module.__doc__ = module.__doc__
            for flag in flags.FLAGS.get_key_flags_for_module(module_name):
                flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
        asked = set(sys.argv[1:])
        if asked & {"--helpfull", "-helpfull"}:
            app.usage(writeto_stdout=True, exitcode=0)
        if asked & {"--help", "-help", "-h", "-?", "--helpshort", "-helpshort"}:
            app.usage(shorthelp=True, writeto_stdout=True, exitcode=0)
        app.run(main)

    return run


def define_task_counts_flag(flags, name, help_text, module_name):
    """A ``task=N`` list flag (e.g. ``--task_max_examples=sst2=10000``) of the entry module ``module_name``,
    its form checked here and its numbers by the settings it fills; ``parse_task_counts`` reads it."""
    flags.DEFINE_list(name, [], help_text, module_name=module_name)
    flags.register_validator(
        name, lambda v: all(i.partition("=")[0] and i.partition("=")[2].lstrip("-").isdigit() for i in v),
        f"--{name} takes task=N pairs, e.g. sst2=10000")


def parse_task_counts(values):
    """{task: N} of a ``define_task_counts_flag`` flag's value."""
    return {k: int(v) for k, _, v in (i.partition("=") for i in values)}
