"""Progress bars that suit where the output goes."""

import sys

import keras


def progress_bar(target, verbose=1, stream=None, **kwargs):
    """A ``keras.utils.Progbar`` that redraws in a terminal and writes one line per bar elsewhere.

    Keras decides whether to redraw from ``"posix" in sys.modules`` as well as from the
    stream, so on Linux a log file collects every redraw (backspaces, colour codes and all).
    Here a stream that is not a terminal gets Keras' ``verbose=2`` form instead: one summary
    line when the bar finishes.

    Args:
        target: total number of steps (or texts, examples...).
        verbose: 0 for silence; otherwise shown as the stream allows.
        stream: the stream the bar writes to (default ``sys.stdout``), asked ``isatty()``.
        **kwargs: passed to ``keras.utils.Progbar`` (``unit_name``, ``stateful_metrics``...).

    Example:

    >>> bar = progress_bar(3, unit_name="text")
    >>> for done in range(1, 4):
    ...     bar.update(done)  # doctest: +SKIP
    """
    stream = sys.stdout if stream is None else stream
    terminal = bool(getattr(stream, "isatty", lambda: False)())
    if verbose and not terminal:
        verbose = 2
    return keras.utils.Progbar(target, verbose=verbose, **kwargs)
