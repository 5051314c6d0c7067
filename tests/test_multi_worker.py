"""multi_worker_mirrored with two worker processes on 127.0.0.1, and a TPU request without a TPU."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

# One worker (or, with no TF_CONFIG, a single process resuming the chief's checkpoint).
WORKER = r'''
import dataclasses, json, os, sys
import numpy as np
import keras, tensorflow as tf
from mtdnn_tf.data.loading import DataSource, load_packed_data
from mtdnn_tf.data.packing import TextPacker
from mtdnn_tf.models.backbone import load_backbone, load_tokenizer
from mtdnn_tf.tasks import load_tasks
from mtdnn_tf.training.assembly import make_trainer
from mtdnn_tf.training.strategies import is_chief, make_strategy
from mtdnn_tf.training.train_config import TrainConfig

data, model_dir, out, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
strategy = make_strategy("multi_worker_mirrored" if "TF_CONFIG" in os.environ else "default")
tokenizer = load_tokenizer(vocab_file=data + "/vocab.txt")
tasks = {n: dataclasses.replace(t, head=dataclasses.replace(t.head, dropout=0.0, san_dropout=0.0))
         for n, t in load_tasks(["demo_sentiment", "demo_similarity"]).items()}
packed = load_packed_data(tasks, TextPacker(tokenizer, 24), DataSource(data), verbose=False)
config = TrainConfig(epochs=epochs, batch_size=16, learning_rate=1e-3, seed=0, verbose=0)


def backbone():
    keras.utils.set_random_seed(0)
    return load_backbone(random_size="num_layers=1,hidden_dim=32,num_heads=2,intermediate_dim=64",
                         vocabulary_size=tokenizer.vocabulary_size(), max_sequence_length=64, dropout=0.0)


# Which replicas' shards each training input pipeline of this worker is asked to make.
from mtdnn_tf.training import trainer as trainer_module
shards, make_dataset = [], trainer_module.train_dataset


def recording_dataset(*args, shard=None, **kwargs):
    shards.append([shard.num_replicas, shard.first_replica, shard.local_replicas])
    return make_dataset(*args, shard=shard, **kwargs)


trainer_module.train_dataset = recording_dataset
trainer = make_trainer(backbone, tasks, packed.train, packed.eval, config, model_dir, strategy, "mean")
model, optimizer = trainer.model, trainer.optimizer
restored = trainer.restore() if epochs > 1 else None
restored_weights = [v.numpy() for v in model.trainable_variables]
results = trainer.train()
np.savez(out, *[v.numpy() for v in model.trainable_variables])
if restored:
    np.savez(out + ".restored", *restored_weights)
json.dump({"chief": is_chief(strategy), "replicas": strategy.num_replicas_in_sync, "results": results,
           "steps": int(optimizer.iterations.numpy()), "restored": restored, "shards": shards},
          open(out + ".json", "w"))
'''


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _run_worker(args, env):
    return subprocess.Popen([sys.executable, "-c", WORKER, *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _load(path):
    with np.load(path) as arrays:
        return [arrays[k] for k in sorted(arrays.files, key=lambda k: int(k.split("_")[1]))]


@pytest.mark.slow
def test_two_workers_train_agree_and_the_chief_checkpoint_resumes(tmp_path):
    from mtdnn_tf.data.synthetic import write_demo_suite

    data = tmp_path / "data"
    write_demo_suite(data, train_size=64, dev_size=32)
    model_dir = tmp_path / "model"
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    processes = []
    for index in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        processes.append(_run_worker([str(data), str(model_dir), str(tmp_path / f"worker{index}"), "1"], env))
    try:
        for p in processes:
            p.wait(timeout=300)
    finally:
        for p in processes:
            p.kill()
    for p in processes:
        assert p.returncode == 0, p.stderr.read()[-3000:]
    records = [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in range(2)]
    assert [r["chief"] for r in records] == [True, False]
    assert all(r["replicas"] == 2 and r["steps"] == 2 * 4 for r in records)  # 64 / 16 per task, two tasks
    assert records[0]["results"] == records[1]["results"]
    # Each worker's pipelines make only its own replica's shard of every batch (see test_distributed_input).
    assert all(shard == [2, i, 1] for i, r in enumerate(records) for shard in r["shards"]) and records[0]["shards"]
    for a, b in zip(_load(tmp_path / "worker0.npz"), _load(tmp_path / "worker1.npz")):
        np.testing.assert_array_equal(a, b)
    # Only the chief writes the shared checkpoint directory and metrics.
    assert (model_dir / "checkpoints" / "checkpoint").is_file() and (model_dir / "metrics.json").is_file()

    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    single = _run_worker([str(data), str(model_dir), str(tmp_path / "single"), "2"], env)
    single.wait(timeout=300)
    assert single.returncode == 0, single.stderr.read()[-3000:]
    record = json.loads((tmp_path / "single.json").read_text())
    assert record["restored"].endswith("ckpt-8") and record["replicas"] == 1
    assert record["steps"] == 16  # resumed at step 8, trained the second epoch
    for a, b in zip(_load(tmp_path / "worker0.npz"), _load(tmp_path / "single.restored.npz")):
        np.testing.assert_array_equal(a, b)


def test_tpu_strategy_without_a_tpu_fails_with_a_message(monkeypatch):
    from mtdnn_tf.errors import UserInputError
    from mtdnn_tf.training.strategies import make_strategy

    monkeypatch.delenv("TPU_NAME", raising=False)
    with pytest.raises(UserInputError, match="no TPU reachable: this machine has no local TPU devices"):
        make_strategy("tpu")
    (port,) = _free_ports(1)
    with pytest.raises(UserInputError, match=f"no TPU reachable at grpc://127.0.0.1:{port}"):
        make_strategy("tpu", f"grpc://127.0.0.1:{port}")
    with pytest.raises(UserInputError, match="not of the form grpc://host:port"):
        make_strategy("tpu", "grpc://nowhere")
