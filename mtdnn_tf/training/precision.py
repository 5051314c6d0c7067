"""Choosing the encoder's dtype policy: ``--mixed_precision=auto``, the default, picks by hardware.

On a CPU that multiplies bfloat16 natively (Intel's AMX, ``amx_bf16`` in
/proc/cpuinfo, or AVX-512 BF16, ``avx512_bf16``), ``auto`` means
``mixed_bfloat16`` (variables, heads and losses stay float32). Measured on an
AMD EPYC with AVX-512 BF16: glue_local trained 1.4x faster per epoch than in
float32, and over 3 seeds MRPC accuracy and STS-B Pearson stayed within
0.2 points of float32's (docs/speed.md). On TPUs (``--strategy=tpu``) it means
``mixed_bfloat16`` too, whatever the TPU host's CPU: their matrix units multiply
bfloat16. Elsewhere it means 'float32': without bfloat16 units the casts cost more
than they save, and on GPUs the choice between float16 and bfloat16 is the user's.
"""

import tensorflow as tf

from mtdnn_tf.hardware import has_bfloat16_units

AUTO = "auto"


def resolve_policy(policy, flags=None, on_tpu=False):
    """The dtype policy for ``policy``: itself, or for 'auto' 'mixed_bfloat16' on TPUs (``on_tpu``) and on a
    CPU-only host with bfloat16 units (AMX or AVX-512 BF16), and 'float32' elsewhere. ``flags`` defaults to
    this CPU's."""
    if policy != AUTO:
        return policy
    if on_tpu:
        return "mixed_bfloat16"
    if tf.config.list_physical_devices("GPU"):
        return "float32"
    return "mixed_bfloat16" if has_bfloat16_units(flags) else "float32"
