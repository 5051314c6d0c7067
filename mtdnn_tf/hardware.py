"""What this machine is: CPU model and flags, GPUs. Printed with timings and recorded with results.

(``benchmarks/machine.py`` reads the same /proc/cpuinfo fields on its own: the
serving benchmark must run without importing ``mtdnn_tf``.)
"""

import os
import platform
import sys

# The flags that decide matrix-multiply speed on the CPUs seen here.
MATRIX_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def _cpuinfo_field(name):
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_flags():
    """The CPU's flags from /proc/cpuinfo (empty where there is none)."""
    return set((_cpuinfo_field("flags") or "").split())


def has_bfloat16_units(flags=None):
    """True where the CPU multiplies bfloat16 natively: AMX tiles (``amx_bf16``) or AVX-512 BF16 dot products
    (``avx512_bf16``). ``flags`` defaults to this CPU's."""
    return bool({"amx_bf16", "avx512_bf16"} & set(cpu_flags() if flags is None else flags))


def cpu_model():
    """The CPU's model name (/proc/cpuinfo, else the platform's processor name)."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def prefer_onednn():
    """Asks TensorFlow for its oneDNN CPU kernels on x86-64, unless ``TF_ENABLE_ONEDNN_OPTS`` is set already;
    to take effect it must run before TensorFlow is imported (``import mtdnn_tf`` does it first).

    TensorFlow turns them on by itself only on CPUs with AVX-512 VNNI or BF16 or AMX, and runs Eigen's
    kernels elsewhere. Measured on an AMD EPYC with AVX2 only (no AVX-512): a MiniLM training step (batch 32,
    length 64, float32) took 2.01 s with oneDNN against 3.04 s without (``benchmarks/onednn_step.py``), and
    the matrix product of a one-pair request's feed-forward layer (54 x 384 by 384 x 1,536) ran at 46
    against 28 GFLOP/s.
    """
    if platform.machine().lower() in ("x86_64", "amd64") and "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def gpu_names():
    """TensorFlow's visible GPUs (imports TensorFlow)."""
    import tensorflow as tf  # noqa: PLC0415

    return [d.name for d in tf.config.list_physical_devices("GPU")]


def machine_description():
    """E.g. 'AMD EPYC, 2 CPU cores (flags: avx2 avx512f avx512_bf16), no GPU'."""
    flags = " ".join(f for f in MATRIX_FLAGS if f in cpu_flags()) or "none of " + ", ".join(MATRIX_FLAGS)
    gpus = gpu_names()
    return (f"{cpu_model()}, {os.cpu_count()} CPU cores (flags: {flags}), "
            + (f"{len(gpus)} GPU(s)" if gpus else "no GPU"))
