"""Choosing a tf.distribute strategy by name."""

import glob
import os
import socket
import urllib.parse

import tensorflow as tf

from mtdnn_tf.errors import UserInputError

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored", "tpu")


def make_strategy(name="default", tpu=None):
    """Returns the tf.distribute strategy called ``name``.

    'default' runs on one device; 'mirrored' on all local GPUs (or the CPU);
    'multi_worker_mirrored' across the workers listed in the TF_CONFIG
    environment variable; 'tpu' on the TPU at address ``tpu`` (or the one the
    environment names).
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        _check_tpu_reachable(tpu)
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError, RuntimeError) as e:
            where = f"at {tpu!r}" if tpu else "(no --tpu address given)"
            raise UserInputError(f"--strategy=tpu: no TPU reachable {where}: {e}") from None
        return tf.distribute.TPUStrategy(resolver)
    raise UserInputError(f"--strategy: unknown strategy {name!r} (choose from {', '.join(STRATEGIES)})")


def compiles_whole_step(strategy):
    """Whether ``strategy`` compiles each step, optimizer update included, with XLA (TPUs do)."""
    return isinstance(strategy, (tf.distribute.TPUStrategy, tf.distribute.experimental.TPUStrategy))


def is_chief(strategy):
    """Whether this process writes checkpoints and reports (always true off multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0 and
                                             "chief" not in resolver.cluster_spec().as_dict())


def _check_tpu_reachable(tpu, timeout=5.0):
    """Fails fast, with a message, where TensorFlow would hang or wait on a missing TPU.

    A grpc:// address must accept a TCP connection; without an address this must be
    a TPU VM (``/dev/accel*``) or name one in TPU_NAME. Named Cloud TPUs are left to
    TPUClusterResolver, which asks the Cloud API.
    """
    if not tpu or tpu == "local":
        if tpu != "local" and os.environ.get("TPU_NAME"):
            return
        if not glob.glob("/dev/accel*") and not glob.glob("/dev/vfio/[0-9]*"):
            raise UserInputError(
                "--strategy=tpu: no TPU reachable: this machine has no local TPU devices and no --tpu "
                "address was given (use --tpu=grpc://host:8470 or a Cloud TPU name)")
        return
    if tpu.startswith("grpc://"):
        address = urllib.parse.urlparse(tpu)
        if not address.hostname or not address.port:
            raise UserInputError(f"--tpu: {tpu!r} is not of the form grpc://host:port")
        try:
            socket.create_connection((address.hostname, address.port), timeout=timeout).close()
        except OSError as e:
            raise UserInputError(f"--strategy=tpu: no TPU reachable at {tpu}: {e}") from None
