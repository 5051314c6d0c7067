"""The trainer under tf.distribute: mirrored over two logical CPUs matches one device."""

import subprocess
import sys

import pytest

SCRIPT = r'''
import dataclasses, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
from mtdnn_tf.data.loading import DataSource, load_packed_data
from mtdnn_tf.data.packing import TextPacker
from mtdnn_tf.data.synthetic import write_demo_suite
from mtdnn_tf.models.backbone import load_backbone, load_tokenizer
from mtdnn_tf.tasks import load_tasks
from mtdnn_tf.training.assembly import make_trainer
from mtdnn_tf.training.train_config import TrainConfig

data = sys.argv[1]
write_demo_suite(data, train_size=96, dev_size=32)
tokenizer = load_tokenizer(vocab_file=data + "/vocab.txt")
# No dropout anywhere: the two runs must see the same computation.
tasks = {n: dataclasses.replace(t, head=dataclasses.replace(t.head, dropout=0.0, san_dropout=0.0))
         for n, t in load_tasks(["demo_sentiment", "demo_pair", "demo_similarity"]).items()}
packed = load_packed_data(tasks, TextPacker(tokenizer, 24), DataSource(data), verbose=False)
weights, results = {}, {}
for name, strategy in [("default", tf.distribute.get_strategy()),
                       ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))]:
    # clip_norm 0.05 is always active here: clipping must act on the global-batch gradient.
    config = TrainConfig(epochs=1, batch_size=16, learning_rate=1e-3, clip_norm=0.05, seed=0, verbose=0)
    def backbone():
        keras.utils.set_random_seed(0)
        return load_backbone(random_size="num_layers=1,hidden_dim=32,num_heads=2,intermediate_dim=64",
                             vocabulary_size=tokenizer.vocabulary_size(), max_sequence_length=64, dropout=0.0)

    trainer = make_trainer(backbone, tasks, packed.train, packed.eval, config, f"{data}/{name}", strategy, "mean")
    model, optimizer = trainer.model, trainer.optimizer
    results[name] = trainer.train()
    weights[name] = [v.numpy() for v in model.trainable_variables]
    assert strategy.num_replicas_in_sync == (2 if name == "mirrored" else 1)
print("STEPS", int(optimizer.iterations.numpy()))
print("MAXDIFF", max(float(np.abs(a - b).max()) for a, b in zip(weights["default"], weights["mirrored"])))
print("SAME_METRICS", results["default"] == results["mirrored"] or
      all(abs(results["default"][t]["dev"][m] - v) < 1e-4 for t in results["mirrored"]
          for m, v in results["mirrored"][t]["dev"].items()))
# SMART under the mirrored strategy: with no perturbation its regulariser is 0, so the run matches the plain
# mirrored one; with the default perturbation each replica perturbs its own half-batch and must stay finite.
from mtdnn_tf.training.smart import SmartConfig
mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
for label, smart in [("SMART0", SmartConfig(enabled=True, steps=0, noise_var=0.0)), ("SMART", SmartConfig(enabled=True))]:
    config = TrainConfig(epochs=1, batch_size=16, learning_rate=1e-3, clip_norm=0.05, seed=0, verbose=0, smart=smart)
    trainer = make_trainer(backbone, tasks, packed.train, packed.eval, config, f"{data}/{label}", mirrored, "mean")
    trainer.train()
    smart_weights = [v.numpy() for v in trainer.model.trainable_variables]
    if label == "SMART0":
        print("MAXDIFF_SMART0", max(float(np.abs(a - b).max()) for a, b in zip(smart_weights, weights["mirrored"])))
    else:
        print("SMART_FINITE", all(np.isfinite(w).all() for w in smart_weights))
'''


@pytest.mark.slow
def test_mirrored_two_cpus_matches_default_strategy(tmp_path):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    keys = ("STEPS ", "MAXDIFF ", "SAME_METRICS ", "MAXDIFF_SMART0 ", "SMART_FINITE ")
    values = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.startswith(keys))
    assert int(values["STEPS"]) == 3 * 6  # 96 examples / 16 per task, three tasks
    # Same global batch, same initial weights: equal within float32 reduction-order noise.
    assert float(values["MAXDIFF"]) < 1e-5
    assert values["SAME_METRICS"] == "True"
    # SMART's path under the mirrored strategy: a zero perturbation changes nothing, so it matches the plain run.
    assert float(values["MAXDIFF_SMART0"]) < 1e-5
    assert values["SMART_FINITE"] == "True"

