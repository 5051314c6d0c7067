"""How a tf.distribute strategy's replicas get their batches (the training loop's and the evaluator's)."""

import tensorflow as tf


def input_options(strategy):
    """How ``distribute_datasets_from_function`` hands batches to ``strategy``'s replicas.

    Mirrored over several CPU devices (logical CPUs, as the tests simulate many devices), each
    replica gets a pipeline of its own, on its device (``InputReplicationMode.PER_REPLICA``), instead
    of one pipeline feeding per-device prefetch datasets: those autotune on CPU devices, and deleting
    their iterators at an epoch's end waited for the autotuner's sleep (seconds to a minute each).
    Elsewhere, TensorFlow's default (one pipeline per worker, prefetched to its devices).
    """
    if (type(strategy) is tf.distribute.MirroredStrategy and strategy.num_replicas_in_sync > 1
            and all("CPU" in device.upper() for device in strategy.extended.worker_devices)):
        return tf.distribute.InputOptions(experimental_replication_mode=tf.distribute.InputReplicationMode.PER_REPLICA,
                                          experimental_place_dataset_on_device=True,
                                          experimental_fetch_to_device=False)
    return tf.distribute.InputOptions()
