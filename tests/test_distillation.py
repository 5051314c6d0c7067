"""Knowledge distillation: soft targets from teacher runs, stored under a key, and a student that follows them."""

import types

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, demo_data

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.experiment import RunSettings, run
from mtdnn_tf.inference.evaluator import Evaluator
from mtdnn_tf.run_directory import load_trained_model
from mtdnn_tf.training import distillation
from mtdnn_tf.training.train_config import TrainConfig

TASKS = ["demo_sentiment", "demo_similarity"]


def _train(model_dir, demo_dir, tasks=TASKS, seed=0, epochs=1, learning_rate=2e-3, distill_weight=0.5, **settings):
    train = TrainConfig(epochs=epochs, learning_rate=learning_rate, seed=seed, verbose=0, distill_weight=distill_weight)
    run(RunSettings(tasks=list(tasks), model_dir=str(model_dir), data_dir=str(demo_dir),
                    vocab_file=str(demo_dir / "vocab.txt"), random_backbone=TINY, max_seq_length=24,
                    head_input="mean", train=train, **settings), verbose=False)
    return model_dir


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, demo_dir):
    return _train(tmp_path_factory.mktemp("teacher"), demo_dir, epochs=2)


@pytest.mark.slow
def test_one_teachers_soft_targets_are_its_predictions_and_are_stored_under_a_key(teacher, demo_dir, demo_tokenizer,
                                                                                   tmp_path, monkeypatch, capsys):
    trained = load_trained_model(teacher)
    data = demo_data(trained.tasks, demo_dir, demo_tokenizer)
    splits, record = distillation.attach_soft_targets(data.train, trained.tasks, [str(teacher)], demo_tokenizer, 24,
                                                      tmp_path, verbose=False, eval_splits=data.eval)
    evaluator = Evaluator(trained.model, tf.distribute.get_strategy())
    # A one-teacher ensemble scores what the teacher itself scores on the dev splits.
    own = evaluator.evaluate(trained.tasks, data.eval)
    assert {name: record[name]["ensemble"] for name in TASKS} == own and own["demo_sentiment"]["dev"]
    logits = evaluator.predict(trained.tasks["demo_sentiment"], data.train["demo_sentiment"])
    probabilities = tf.nn.softmax(logits).numpy()
    np.testing.assert_allclose(splits["demo_sentiment"].soft_targets, probabilities, atol=1e-6)
    scores = evaluator.predict(trained.tasks["demo_similarity"], data.train["demo_similarity"])
    np.testing.assert_allclose(splits["demo_similarity"].soft_targets, scores, atol=1e-6)
    assert record["demo_sentiment"]["teachers"] == 1
    # Shown while they are computed: the teacher, then one line (in a log) when its batches are done.
    capsys.readouterr()
    shown = distillation.compute_soft_targets([trained], trained.tasks["demo_sentiment"], data.train["demo_sentiment"],
                                              verbose=True)
    np.testing.assert_array_equal(shown, splits["demo_sentiment"].soft_targets)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"Teacher 1 of 1 ({teacher}) on demo_sentiment" and len(printed) == 2
    done, total = printed[1].split(" ")[0].split("/")  # e.g. '4/4': every batch, counted against the total
    assert done == total and int(total) >= -(-len(data.train["demo_sentiment"]) // 64)

    def no_recompute(*args, **kwargs):
        raise AssertionError("soft targets computed again")

    monkeypatch.setattr(distillation, "compute_soft_targets", no_recompute)
    again, _ = distillation.attach_soft_targets(data.train, trained.tasks, [str(teacher)], demo_tokenizer, 24,
                                                tmp_path, verbose=False)
    np.testing.assert_array_equal(again["demo_sentiment"].soft_targets, splits["demo_sentiment"].soft_targets)
    # The key follows the data and the teachers.
    split = data.train["demo_sentiment"]
    import dataclasses

    task = trained.tasks["demo_sentiment"]
    key = distillation.soft_target_key(["a"], task, split)
    assert key != distillation.soft_target_key(["b"], task, split)
    # ... and what the task means: its labels in another order are other soft targets.
    relabelled = dataclasses.replace(task, labels=tuple(reversed(task.labels)))
    assert key != distillation.soft_target_key(["a"], relabelled, split)
    with pytest.raises(UserInputError, match=r"--teachers: task 'demo_sentiment' of .* is defined otherwise: labels"):
        distillation.attach_soft_targets(data.train, {"demo_sentiment": relabelled}, [str(teacher)], demo_tokenizer,
                                         24, tmp_path, verbose=False)

    from mtdnn_tf.data.sequences import PackedSequences

    tokens = np.array(split.sequences.token_ids)
    tokens[1] += 1
    changed = PackedSequences(tokens, split.sequences.segment_ids, split.sequences.offsets)
    assert key != distillation.soft_target_key(["a"], task, dataclasses.replace(split, sequences=changed))


def test_a_teacher_that_reads_tokens_differently_is_refused(demo_tokenizer, demo_dir, tmp_path):
    from mtdnn_tf.models.backbone import load_tokenizer

    vocab = (demo_dir / "vocab.txt").read_text().splitlines() + ["zzzextra"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    other = types.SimpleNamespace(model_dir="runs/t", tokenizer=load_tokenizer(vocab_file=str(tmp_path / "vocab.txt")),
                                  max_seq_length=24)
    with pytest.raises(UserInputError, match="^--teachers: runs/t was trained with another vocabulary"):
        distillation.check_teacher_fits(other, demo_tokenizer, 24)
    short = types.SimpleNamespace(model_dir="runs/t", tokenizer=demo_tokenizer, max_seq_length=16)
    with pytest.raises(UserInputError, match="at --max_seq_length=16, shorter than the student's 24"):
        distillation.check_teacher_fits(short, demo_tokenizer, 24)


@pytest.mark.slow
def test_a_student_distilled_from_a_teacher_converges_to_its_outputs(demo_dir, tmp_path):
    """A briefly trained (so unsure) teacher; a student on its soft targets alone (distill_weight 1)
    ends closer to the teacher's dev probabilities than the same student trained on gold labels."""
    teacher = _train(tmp_path / "teacher", demo_dir, tasks=["demo_sentiment"], epochs=1)
    trained = load_trained_model(teacher)
    task = trained.tasks["demo_sentiment"]
    dev = demo_data({"demo_sentiment": task}, demo_dir, trained.tokenizer).eval["demo_sentiment"]["dev"]

    def probabilities(model_dir):
        model = load_trained_model(model_dir).model
        return tf.nn.softmax(Evaluator(model, tf.distribute.get_strategy()).predict(task, dev)).numpy()

    target = probabilities(teacher)
    # The teacher is better than chance, yet unsure: gold labels alone would lead elsewhere.
    assert (target.argmax(-1) == dev.labels).mean() > 0.7 and np.abs(target - 0.5).mean() < 0.2
    student = _train(tmp_path / "student", demo_dir, tasks=["demo_sentiment"], seed=7, epochs=4,
                     teachers=[str(teacher)], distill_weight=1.0)
    gold = _train(tmp_path / "gold", demo_dir, tasks=["demo_sentiment"], seed=7, epochs=4)
    distilled, from_gold = (np.abs(probabilities(d) - target).mean() for d in (student, gold))
    assert distilled < 0.05 and distilled < from_gold / 3, (distilled, from_gold)
