import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import demo_data, tiny_backbone
from conftest import make_trainer as _trainer

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.training.train_config import TrainConfig


@pytest.mark.slow
def test_multi_task_training_learns_and_records_metrics(demo_tasks, demo_dir, demo_tokenizer, tmp_path):
    tasks = {n: demo_tasks[n] for n in ("demo_sentiment", "demo_similarity")}
    trainer = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path, epochs=4)
    results = trainer.train()
    assert results["demo_sentiment"]["dev"]["accuracy"] > 0.8
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert [e["epoch"] for e in record["epochs"]] == [1, 2, 3, 4]
    assert record["final"] == results
    # Every batch of every task was used once per epoch: 400 examples / 16 = 25 batches each.
    assert int(trainer.optimizer.iterations.numpy()) == 4 * 2 * 25
    assert all(e["steps"] == {"demo_sentiment": 25, "demo_similarity": 25} for e in record["epochs"])
    assert (tmp_path / "tensorboard").is_dir()
    assert record["loop_setup_seconds"] > 0  # built before the first epoch's clock (test below)
    assert trainer._loop.experimental_get_tracing_count() == 1  # and traced once for all four epochs


@pytest.mark.slow
def test_building_the_loop_before_the_epoch_changes_nothing_it_trains(demo_tasks, demo_dir, demo_tokenizer, tmp_path):
    """``build_loop`` traces the training loop and runs it for zero steps (so the first epoch's clock does not
    count the trace): no batch is read and no variable moves, and the epoch then reuses that trace."""
    tasks = {n: demo_tasks[n] for n in ("demo_sentiment", "demo_pair")}
    built = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path / "built", epochs=1)
    before = [v.numpy().copy() for v in built.model.variables]
    assert built.build_loop(0) > 0
    assert built._loop.experimental_get_tracing_count() == 1
    for a, b in zip(before, built.model.variables):  # dropout seed states included
        np.testing.assert_array_equal(a, b.numpy())
    assert int(built.optimizer.iterations.numpy()) == 0 and int(built.step_in_epoch.numpy()) == 0
    built.run_epoch(0)
    assert built._loop.experimental_get_tracing_count() == 1
    plain = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path / "plain", epochs=1)
    plain.run_epoch(0)
    assert int(built.optimizer.iterations.numpy()) == int(plain.optimizer.iterations.numpy()) == 50
    for a, b in zip(built.model.variables, plain.model.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.slow
def test_rerun_resumes_from_latest_checkpoint(demo_tasks, demo_dir, demo_tokenizer, tmp_path):
    tasks = {"demo_sentiment": demo_tasks["demo_sentiment"]}
    first = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path, epochs=1)
    first.train()
    saved = [v.numpy().copy() for v in first.model.trainable_variables]
    second = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path, epochs=2, seed=5)
    # A fresh model differs until restored.
    assert not all(np.allclose(a, b.numpy()) for a, b in zip(saved, second.model.trainable_variables))
    assert second.restore() is not None
    for a, b in zip(saved, second.model.trainable_variables):
        np.testing.assert_array_equal(a, b.numpy())
    assert int(second.epoch.numpy()) == 1 and int(second.optimizer.iterations.numpy()) == 25
    second.train()
    assert int(second.optimizer.iterations.numpy()) == 50
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert [e["epoch"] for e in record["epochs"]] == [1, 2]


@pytest.mark.slow
def test_xla_and_mixed_bfloat16_training_steps_run_and_learn(demo_tasks, demo_dir, demo_tokenizer, tmp_path):
    import keras

    from mtdnn_tf.training.assembly import make_trainer

    tasks = {"demo_sentiment": demo_tasks["demo_sentiment"]}
    data = demo_data(tasks, demo_dir, demo_tokenizer)
    # XLA with bfloat16; float16 (with loss scaling) without XLA, to keep the test short.
    for policy, loss_scaling, jit in [("mixed_bfloat16", False, True), ("mixed_float16", True, False)]:
        config = TrainConfig(epochs=2, batch_size=16, learning_rate=2e-3, seed=0, verbose=0, jit_compile=jit)
        trainer = make_trainer(lambda: tiny_backbone(demo_tokenizer.vocabulary_size(), dtype=policy), tasks,
                               data.train, data.eval, config, tmp_path / policy, head_input="mean",
                               loss_scaling=loss_scaling)
        assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer) == loss_scaling
        results = trainer.train()
        # The encoder computes in 16 bits; heads, outputs and variables stay float32.
        backbone = next(layer for layer in trainer.model.layers if "backbone" in layer.name)
        assert backbone.compute_dtype in ("bfloat16", "float16")
        assert all(v.dtype == "float32" for v in trainer.model.trainable_variables)
        batch = next(iter(tf.data.Dataset.from_tensor_slices(data.eval["demo_sentiment"]["dev"].dense_features()).batch(4)))
        assert trainer.model(batch)["demo_sentiment"].dtype == "float32"
        assert results["demo_sentiment"]["dev"]["accuracy"] > 0.8, (policy, results)


@pytest.mark.parametrize("setting, value, message", [
    ("batch_size", 0, "batch_size: must be at least 1, got 0"),
    ("learning_rate", float("nan"), "learning_rate: must be a positive number, got nan"),
    ("warmup_proportion", 1.5, "warmup_proportion: must be in [0, 1], got 1.5"),
    ("sort_window", 0, "sort_window: must be at least 1, got 0"),
    ("epochs", 0, "epochs: must be at least 1, got 0"),
])
def test_train_config_checks_its_settings(setting, value, message):
    with pytest.raises(UserInputError) as error:
        TrainConfig(**{setting: value})
    assert str(error.value) == message


def test_run_settings_check_theirs():
    from mtdnn_tf.experiment import RunSettings

    with pytest.raises(UserInputError, match=r"^head_input: must be one of cls, pooled, mean, got 'men'$"):
        RunSettings(tasks=["rte"], model_dir="m", head_input="men")
    with pytest.raises(UserInputError, match=r"^train_fraction: must be in \(0, 1\], got 0$"):
        RunSettings(tasks=["rte"], model_dir="m", train_fraction=0)
    with pytest.raises(UserInputError, match=r"^mixed_precision: must be one of auto, float32, mixed_bfloat16, mixed_float16, got 'float8'$"):
        RunSettings(tasks=["rte"], model_dir="m", mixed_precision="float8")


def _applied_gradient_norm(trainer):
    """Runs the epoch's first training step; returns the global norm of what reached the optimizer."""
    observed = tf.Variable(0.0)
    apply = trainer.optimizer.apply_gradients

    def recording(pairs):
        pairs = list(pairs)
        observed.assign(tf.linalg.global_norm([g for g, _ in pairs]))
        return apply(pairs)

    trainer.optimizer.apply_gradients = recording
    trainer.run_epoch(0, stop=1)
    return float(observed.numpy())


@pytest.mark.slow
def test_clipping_bounds_the_norm_of_the_applied_gradient(demo_tasks, demo_dir, demo_tokenizer, tmp_path):
    import dataclasses

    # A large loss weight makes the raw gradient far larger than the clipping norm.
    tasks = {"demo_sentiment": dataclasses.replace(demo_tasks["demo_sentiment"], loss_weight=1000.0)}
    clipped = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path / "a", epochs=1)
    assert clipped.config.clip_norm == 1.0
    norm = _applied_gradient_norm(clipped)
    raw = _applied_gradient_norm(_trainer(tasks, demo_dir, demo_tokenizer, tmp_path / "b", epochs=1, clip_norm=0.0))
    assert raw > 10.0
    np.testing.assert_allclose(norm, 1.0, rtol=1e-4)  # scaled down to exactly the limit


def test_auto_precision_is_bfloat16_only_with_bfloat16_units():
    from mtdnn_tf.training.precision import resolve_policy

    assert resolve_policy("auto", flags={"avx512f", "amx_bf16", "amx_tile"}) == "mixed_bfloat16"
    assert resolve_policy("auto", flags={"avx512f", "avx512_bf16"}) == "mixed_bfloat16"
    assert resolve_policy("auto", flags={"avx2", "avx512f", "avx512_vnni"}) == "float32"
    assert resolve_policy("mixed_float16", flags=set()) == "mixed_float16"
    assert resolve_policy("float32", flags={"amx_bf16"}) == "float32"
    # On TPUs the matrix units decide, not the host's CPU.
    assert resolve_policy("auto", flags={"avx2"}, on_tpu=True) == "mixed_bfloat16"
    assert resolve_policy("float32", flags={"avx2"}, on_tpu=True) == "float32"


@pytest.mark.slow
def test_a_per_task_cap_limits_only_that_task(demo_tasks, demo_dir, demo_tokenizer, tmp_path):
    tasks = {n: demo_tasks[n] for n in ("demo_sentiment", "demo_similarity")}
    trainer = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path, epochs=2, task_max_examples={"demo_sentiment": 48})
    sizes = {n: len(s) for n, s in trainer.train_splits.items()}
    assert sizes["demo_sentiment"] > 48
    trainer.run_epoch(0)
    # 48 examples of demo_sentiment in batches of 16, and every demo_similarity batch (uncapped).
    steps = 3 + -(-sizes["demo_similarity"] // 16)
    assert int(trainer.optimizer.iterations.numpy()) == steps
    assert trainer.config.total_steps(trainer.train_splits) == 2 * steps  # the schedule's length agrees
    with pytest.raises(UserInputError, match=r"^task_max_examples: must be task=N pairs with N at least 1"):
        TrainConfig(task_max_examples={"x": 0})


@pytest.mark.slow
def test_a_drawing_sampler_trains_its_budget_and_resumes_mid_epoch_exactly(demo_tasks, demo_dir, demo_tokenizer,
                                                                           tmp_path):
    tasks = {n: demo_tasks[n] for n in ("demo_sentiment", "demo_similarity")}
    sampling = dict(task_sampling="uniform", steps_per_epoch=30, task_max_examples={"demo_similarity": 32})
    straight = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path / "a", epochs=1, **sampling)
    order = straight.config.epoch_order(straight.train_splits, 0)
    assert len(order) == 30 and order.count("demo_similarity") > 2  # more than its 2 batches: several passes
    straight.train()
    # metrics.json records what the sampler gave each task.
    steps = json.loads((tmp_path / "a/metrics.json").read_text())["epochs"][0]["steps"]
    assert steps == {n: order.count(n) for n in tasks}
    stopped = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path / "b", epochs=1, **sampling)
    stopped.run_epoch(0, stop=13)  # a stop mid-pass; the next call rebuilds every task's stream from its position
    stopped.run_epoch(0)
    assert int(straight.optimizer.iterations.numpy()) == int(stopped.optimizer.iterations.numpy()) == 30
    for a, b in zip(straight.model.trainable_variables, stopped.model.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, err_msg=a.path)


@pytest.mark.slow
def test_xla_for_the_whole_step_gives_the_weights_of_xla_for_the_forward_pass(demo_tasks, demo_dir, demo_tokenizer,
                                                                            tmp_path):
    tasks = {"demo_pair": demo_tasks["demo_pair"]}  # a SAN head: the largest graph
    forward = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path / "a", epochs=1, jit_compile=True)
    whole = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path / "b", epochs=1, jit_compile=True,
                     xla_whole_step=True)
    forward.run_epoch(0, stop=6)
    whole.run_epoch(0, stop=6)
    for a, b in zip(forward.model.trainable_variables, whole.model.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, err_msg=a.path)
    with pytest.raises(UserInputError, match=r"^xla_whole_step: must be used with jit_compile"):
        TrainConfig(xla_whole_step=True)


def test_the_lazy_embedding_update_is_refused_where_xla_compiles_the_update(demo_tasks, demo_dir, demo_tokenizer,
                                                                         tmp_path, monkeypatch):
    # Its update has data-dependent shapes (tf.unique, a segment sum): XLA cannot compile it.
    with pytest.raises(UserInputError, match=r"^lazy_embedding_update: must be off with xla_whole_step"):
        TrainConfig(jit_compile=True, xla_whole_step=True, lazy_embedding_update=True)
    TrainConfig(jit_compile=True, lazy_embedding_update=True)  # the forward pass alone is fine
    # On TPU, XLA compiles every step whole (a TPUStrategy cannot be built here: its test is the same check).
    import mtdnn_tf.training.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "compiles_whole_step", lambda strategy: True)
    tasks = {"demo_sentiment": demo_tasks["demo_sentiment"]}
    with pytest.raises(UserInputError, match=r"^--lazy_embedding_update: not on TPU"):
        _trainer(tasks, demo_dir, demo_tokenizer, tmp_path, epochs=1, lazy_embedding_update=True)
    assert _trainer(tasks, demo_dir, demo_tokenizer, tmp_path / "plain", epochs=1) is not None


def test_epoch_batches_are_the_epochs_steps_in_order_each_example_once(demo_tasks, demo_dir, demo_tokenizer,
                                                                        tmp_path):
    tasks = {n: demo_tasks[n] for n in ("demo_sentiment", "demo_similarity")}
    trainer = _trainer(tasks, demo_dir, demo_tokenizer, tmp_path, epochs=2, task_max_examples={"demo_sentiment": 48})
    steps = list(trainer.epoch_batches(1))
    assert [name for name, _, _ in steps] == trainer.config.epoch_order(trainer.train_splits, 1)
    for name, split in trainer.train_splits.items():
        masks = [features["padding_mask"].numpy() for n, features, _ in steps if n == name]
        lengths = np.concatenate([m.sum(axis=-1) for m in masks])
        lengths = lengths[lengths > 0]
        if name == "demo_sentiment":  # capped: 48 of its examples, in 3 batches
            assert len(masks) == 3 and len(lengths) == 48
        else:  # every example once, at its real length
            assert sorted(lengths) == sorted(split.lengths)
