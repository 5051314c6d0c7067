"""TensorFlow's start-up lines held back: a CPU-only start prints no C++ log noise.

Importing TensorFlow and finding its devices writes C++ log lines straight to
file descriptor 2 (``I0000 ... oneDNN custom operations are on``, ``Could not
find cuda drivers``, ``E0000 ... failed call to cuInit``, the CPU-instruction
note), before ``TF_CPP_MIN_LOG_LEVEL`` applies to them; a new user reads them as
errors. ``import_tensorflow_quietly`` runs the import and the device lookup with
descriptor 2 sent to a temporary file, then writes back every line that is not
one of those known start-up notes, so a real error still shows. Set
``MTDNN_TF_VERBOSE_START=1`` to see everything.
"""

import os
import re
import sys
import tempfile

STARTUP_NOISE = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"),
    re.compile(r"^[IW]\d{4} [\d:. ]+\d+ \S+\.cc:\d+\] "),  # C++ INFO and WARNING lines
    re.compile(r"^E\d{4} [\d:. ]+\d+ cuda\S*\.cc:\d+\] failed call to cuInit"),  # no GPU on this machine
    re.compile(r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$"),
)


def is_startup_noise(line):
    """Whether ``line`` is one of TensorFlow's known start-up notes on a CPU-only machine."""
    return any(pattern.match(line) for pattern in STARTUP_NOISE)


def import_tensorflow_quietly():
    """Imports TensorFlow and looks up its devices with the start-up notes held back (see the module doc);
    a no-op once TensorFlow is imported, or with ``MTDNN_TF_VERBOSE_START`` set."""
    if "tensorflow" in sys.modules or os.environ.get("MTDNN_TF_VERBOSE_START"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow as tf  # noqa: PLC0415

            tf.config.list_physical_devices()  # the platforms' own notes (cuInit) come here
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().decode("utf-8", "replace").splitlines() if not is_startup_noise(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr)
