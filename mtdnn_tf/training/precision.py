"""Choosing the encoder's dtype policy: ``--mixed_precision=auto`` picks by hardware.

On a CPU with AMX (Intel's matrix units: ``amx_bf16`` in /proc/cpuinfo),
bfloat16 matrix products run at several times the float32 rate, so ``auto``
means ``mixed_bfloat16`` there (variables, heads and losses stay float32).
Elsewhere it means float32: on CPUs with only AVX-512 BF16 the measured
training gain was a few percent (README, Speed), and on GPUs the choice
between float16 and bfloat16 is the user's.
"""

import tensorflow as tf

from mtdnn_tf.hardware import cpu_flags

AUTO = "auto"


def resolve_policy(policy, flags=None):
    """The dtype policy for ``policy``: itself, or for 'auto' 'mixed_bfloat16' on a CPU-only host
    with AMX and None (float32) elsewhere. ``flags`` defaults to this CPU's."""
    if policy != AUTO:
        return policy
    if tf.config.list_physical_devices("GPU"):
        return None
    return "mixed_bfloat16" if "amx_bf16" in (cpu_flags() if flags is None else flags) else None
