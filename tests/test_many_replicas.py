"""Eight replicas (logical CPU devices) train as one device: short last batches, empty replicas, one all-reduce."""

import json
import subprocess
import sys

import pytest
from conftest import REPO

SCRIPT = r'''
import dataclasses, json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 8)
import keras, numpy as np
from mtdnn_tf.data.loading import DataSource, load_packed_data
from mtdnn_tf.data.packing import TextPacker
from mtdnn_tf.data.sequences import PackedSequences
from mtdnn_tf.data.synthetic import TASKS, write_demo_suite
from mtdnn_tf.models.backbone import load_backbone, load_tokenizer
from mtdnn_tf.tasks import load_tasks
from mtdnn_tf.training.assembly import make_trainer
from mtdnn_tf.training.train_config import TrainConfig


class CountingReduction(tf.distribute.ReductionToOneDevice):
    """Counts, at trace time, every value the strategy reduces across replicas (a batch reduction
    reduces each of its values through reduce_implementation)."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def reduce_implementation(self, reduce_op, per_replica_value, destinations, options):
        self.shapes.append(tuple(per_replica_value.values[0].shape))
        return super().reduce_implementation(reduce_op, per_replica_value, destinations, options)


def first_units(split, n):
    """The split cut to its first ``n`` units (examples, or ranking groups)."""
    if split.group_matrix is not None:
        return dataclasses.replace(split, group_matrix=split.group_matrix[:n], labels=split.labels[:n])
    s = split.sequences
    end = s.offsets[n]
    return dataclasses.replace(split, sequences=PackedSequences(s.token_ids[:end], s.segment_ids[:end],
                                                                s.offsets[:n + 1], s.pad_id),
                               labels=split.labels[:n], ids=split.ids[:n])


data = sys.argv[1]
write_demo_suite(data, train_size=120, dev_size=30)
tokenizer = load_tokenizer(vocab_file=data + "/vocab.txt")
# No dropout anywhere: the runs must see the same computation.
tasks = {n: dataclasses.replace(t, head=dataclasses.replace(t.head, dropout=0.0, san_dropout=0.0))
         for n, t in load_tasks(list(TASKS)).items()}
packed = load_packed_data(tasks, TextPacker(tokenizer, 24), DataSource(data), verbose=False)


def backbone():
    keras.utils.set_random_seed(0)
    return load_backbone(random_size="num_layers=1,hidden_dim=32,num_heads=2,intermediate_dim=64",
                         vocabulary_size=tokenizer.vocabulary_size(), max_sequence_length=64, dropout=0.0)


def train(name, sizes, strategy, **config):
    train_splits = {task: first_units(packed.train[task], size) for task, size in sizes.items()}
    # Batches of 8 on 8 replicas: a last batch of 1 to 7 units leaves 7 to 1 replicas empty.
    # clip_norm 0.05 is always active here: clipping must act on the global-batch gradient.
    config = TrainConfig(epochs=1, batch_size=8, eval_batch_size=8, learning_rate=1e-3, clip_norm=0.05, seed=0,
                         verbose=0, **config)
    trainer = make_trainer(backbone, tasks, train_splits, packed.eval, config, f"{data}/{name}", strategy, "mean")
    results = trainer.train()
    return trainer, [v.numpy() for v in trainer.model.trainable_variables], results


def difference(a, b):
    weights = max(float(np.abs(x - y).max()) for x, y in zip(a[1], b[1]))
    metrics = max(abs(a[2][t][s][m] - v) for t in b[2] for s in b[2][t] for m, v in b[2][t][s].items())
    return weights, metrics


# Last batches of 1, 6, 3 and 7 units over the four task types (classification, SAN classification,
# regression, ranking): 7, 2, 5 and 1 replicas empty. One run holds every property (short batches, four steps
# per loop call on the eight replicas, one all-reduce per gradient), since each run costs minutes of tracing.
# steps_per_loop=1 (the default) runs the same traced loop (TrainStep.make_loop takes the step count as a
# tensor), one step a call; its host-side bookkeeping is tested on one device in test_distributed_input.py.
sizes = {"demo_sentiment": 17, "demo_pair": 22, "demo_similarity": 19, "demo_ranking": 23}
counting = CountingReduction()
one = train("one", sizes, tf.distribute.get_strategy())
strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(8)], cross_device_ops=counting)
eight = train("eight", sizes, strategy, steps_per_loop=4)
assert eight[0].strategy.num_replicas_in_sync == 8
weights, metrics = difference(one, eight)
report = {"weights": weights, "metrics": metrics, "steps": int(eight[0].optimizer.iterations.numpy()),
          "finite": all(np.isfinite(w).all() for w in eight[1]), "tasks": len(sizes),
          # Each traced task step reduces each of its gradients once: the token embedding's ([vocabulary, 32],
          # the largest tensor of the step's traffic) once per task.
          "embedding_reductions": counting.shapes.count((tokenizer.vocabulary_size(), 32))}
print("REPORT", json.dumps(report))
'''


@pytest.mark.slow
def test_eight_replicas_with_short_last_batches_match_one_device(tmp_path):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                            timeout=900, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("REPORT "))
    report = json.loads(line.split(" ", 1)[1])
    # Three batches a task (two full, one of 1 to 7 units): 4 tasks x 3 steps.
    assert report["steps"] == 12, report
    assert report["finite"], report
    # Rounding only: the replicas sum in another order, and oneDNN's AVX2 kernels block their sums by
    # batch size (1.4e-5 seen on an AVX2-only AMD EPYC); a wrong scaling would move weights by ~1e-3.
    assert report["weights"] < 5e-5, report
    assert report["metrics"] < 1e-5, report
    # One all-reduce of each gradient per step: the optimizer does not sum the replicas' gradients again.
    assert report["embedding_reductions"] == report["tasks"], report
