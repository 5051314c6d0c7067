"""Shared behaviour of the command-line entry points: user errors are one line, not a traceback."""

import dataclasses
import sys

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.settings.fields import default_of, fields_by_name, flag_items, flag_name


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


def define_setting_flags(cls, names, module_name, prefix="", flag_values=None):
    """One absl flag per field of the settings dataclass ``cls`` in ``names`` (see ``mtdnn_tf.settings.fields``).

    The flag takes the field's name (or its ``flag``, else ``prefix`` + name), its type from the
    annotation (bool, int, float, str, an enum with ``choices``, a list, a dict as ``key=value``
    items), its default and its help; a field without a default is a required flag. The flags belong
    to the entry module ``module_name`` (its ``--help`` lists them), in ``flag_values`` (absl's global
    ``FLAGS`` by default).

    Example: ``define_setting_flags(TrainConfig, ("epochs", "batch_size"), __name__)``.
    """
    from absl import flags  # noqa: PLC0415

    fields = fields_by_name(cls)
    for name in names:
        field = fields[name]
        flag, help_text = flag_name(field, prefix), field.metadata.get("help")
        if not help_text:
            raise ValueError(f"{cls.__name__}.{name} has no help: declare it with setting(default, help)")
        default = default_of(field)
        required = default is dataclasses.MISSING
        default = None if required else default
        choices = field.metadata.get("choices")
        choices = choices() if callable(choices) else choices
        kwargs = {"module_name": module_name, "flag_values": flags.FLAGS if flag_values is None else flag_values}
        if field.type is bool:
            flags.DEFINE_bool(flag, default, help_text, **kwargs)
        elif field.type is int:
            flags.DEFINE_integer(flag, default, help_text, **kwargs)
        elif field.type is float:
            flags.DEFINE_float(flag, default, help_text, **kwargs)
        elif field.type is list:
            flags.DEFINE_list(flag, None if default is None else flag_items(default), help_text, **kwargs)
        elif field.type is dict:
            flags.DEFINE_list(flag, flag_items(default), help_text, **kwargs)
            _check_pairs_form(flags, flag, field.metadata.get("pairs") or str, kwargs["flag_values"])
        elif choices:
            flags.DEFINE_enum(flag, default, [c for c in choices if c is not None], help_text, **kwargs)
        else:
            flags.DEFINE_string(flag, default, help_text, **kwargs)
        if required:
            flags.mark_flag_as_required(flag, flag_values=kwargs["flag_values"])


def _check_pairs_form(flags, flag, value_type, flag_values):
    if value_type is int:
        flags.register_validator(
            flag, lambda v: all(i.partition("=")[0] and i.partition("=")[2].lstrip("-").isdigit() for i in v),
            f"--{flag} takes task=N pairs, e.g. sst2=10000", flag_values=flag_values)
    else:
        flags.register_validator(
            flag, lambda v: all(i.partition("=")[0] and i.partition("=")[2] for i in v),
            f"--{flag} takes task=value pairs, e.g. rte=linear,mrpc=linear", flag_values=flag_values)


def setting_values(cls, names, flag_values, prefix=""):
    """The fields ``names`` of ``cls`` as parsed from their flags (``define_setting_flags``), for ``cls(**...)``.

    Raises:
        UserInputError: a list flag's item is not of the field's ``item`` type (naming the flag).
    """
    fields = fields_by_name(cls)
    values = {}
    for name in names:
        field = fields[name]
        flag = flag_name(field, prefix)
        value = flag_values[flag].value
        if field.type is list and value is not None and field.metadata.get("item"):
            item = field.metadata["item"]
            try:
                value = [item(v) for v in value]
            except ValueError:
                raise UserInputError(f"--{flag}: expected a list of {item.__name__} numbers, "
                                     f"got {','.join(value)}") from None
        elif field.type is dict:
            value_type = field.metadata.get("pairs") or str
            value = {k: value_type(v) for k, _, v in (i.partition("=") for i in value)}
        values[name] = value
    return values


def setting_flag_names(cls, names, prefix=""):
    """{field: flag} of ``define_setting_flags``, for ``as_flag_error``."""
    fields = fields_by_name(cls)
    return {name: flag_name(fields[name], prefix) for name in names}
