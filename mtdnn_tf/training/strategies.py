"""Choosing a tf.distribute strategy by name."""

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
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError, RuntimeError) as e:
            where = f"at {tpu!r}" if tpu else "(no --tpu address given)"
            raise UserInputError(f"--strategy=tpu: no TPU reachable {where}: {e}") from None
        return tf.distribute.TPUStrategy(resolver)
    raise UserInputError(f"--strategy: unknown strategy {name!r} (choose from {', '.join(STRATEGIES)})")


def is_chief(strategy):
    """Whether this process writes checkpoints and reports (always true off multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0 and
                                             "chief" not in resolver.cluster_spec().as_dict())
