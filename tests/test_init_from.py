"""Refinement starts from a multi-task model: its encoder and shared heads, nothing else."""

import numpy as np
import pytest
from conftest import BAD_INPUT_FLAGS, run_train_command, tiny_backbone
from conftest import BAD_INPUTS as SUITE

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.models.init_from import (
    check_source_fits,
    clone_backbone,
    initialize_from,
    source_backbone,
)
from mtdnn_tf.models.mtdnn_model import build_mtdnn_model


def test_encoder_and_own_head_come_from_the_source_other_heads_do_not(demo_tasks, demo_tokenizer):
    vocab = demo_tokenizer.vocabulary_size()
    source = build_mtdnn_model(tiny_backbone(vocab, seed=1),
                               {n: demo_tasks[n] for n in ("demo_sentiment", "demo_pair")}, "mean")
    target_tasks = {n: demo_tasks[n] for n in ("demo_pair", "demo_similarity")}
    target = build_mtdnn_model(clone_backbone(source), target_tasks, "mean")
    fresh_similarity = [w.copy() for w in target.get_layer("demo_similarity_head").get_weights()]
    # Before: a different (random) initialisation.
    assert not np.allclose(source_backbone(source).get_weights()[0], source_backbone(target).get_weights()[0])

    report = initialize_from(target, source, list(target_tasks))

    assert report["heads"] == ["demo_pair"] and report["new_heads"] == ["demo_similarity"]
    for a, b in zip(source_backbone(source).get_weights(), source_backbone(target).get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(source.get_layer("demo_pair_head").get_weights(),
                    target.get_layer("demo_pair_head").get_weights()):
        np.testing.assert_array_equal(a, b)
    # The task the source does not have keeps its fresh head; the source's other head is not in the target.
    for a, b in zip(fresh_similarity, target.get_layer("demo_similarity_head").get_weights()):
        np.testing.assert_array_equal(a, b)
    assert "demo_sentiment_head" not in [layer.name for layer in target.layers]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished one-epoch run on the bad-input suite's tiny pair task (head_input=mean, 64 positions)."""
    from mtdnn_tf.experiment import RunSettings, run
    from mtdnn_tf.training.train_config import TrainConfig

    model_dir = tmp_path_factory.mktemp("source")
    run(RunSettings(tasks=["pair"], task_dir=str(SUITE / "tasks"), data_dir=str(SUITE / "crlf_line_ends_work"),
                    vocab_file=str(SUITE / "vocab.txt"), model_dir=str(model_dir), max_seq_length=32,
                    random_backbone="num_layers=1,hidden_dim=16,num_heads=2,intermediate_dim=32,max_sequence_length=64",
                    head_input="mean", train=TrainConfig(epochs=1, batch_size=2, verbose=0)), verbose=False)
    return model_dir


@pytest.mark.slow
def test_a_source_that_would_mean_something_else_is_refused(finished_run, tmp_path):
    from mtdnn_tf.models.backbone import load_tokenizer
    from mtdnn_tf.run_directory import load_trained_model

    source = load_trained_model(finished_run)
    vocab = str(SUITE / "vocab.txt")
    check_source_fits(source, "mean", 64, load_tokenizer(vocab_file=vocab))  # the same settings pass
    with pytest.raises(UserInputError, match=r"^--init_from: .* was trained with --head_input=mean, this run has "
                                             r"--head_input=cls; give --head_input=mean$"):
        check_source_fits(source, "cls", 32)
    with pytest.raises(UserInputError, match=r"encoder has 64 positions, fewer than --max_seq_length=65$"):
        check_source_fits(source, "mean", 65)
    other_vocab = tmp_path / "vocab.txt"
    other_vocab.write_text((SUITE / "vocab.txt").read_text() + "extra\n")
    with pytest.raises(UserInputError, match=r"another vocabulary \((\d+) tokens\) than --preset/--vocab_file"):
        check_source_fits(source, "mean", 32, load_tokenizer(vocab_file=str(other_vocab)))
    with pytest.raises(UserInputError, match=r"tokenised with other settings: lowercase=True \(here False\), "
                                             r"strip_accents=True \(here False\)$"):
        check_source_fits(source, "mean", 32, load_tokenizer(vocab_file=vocab, lowercase=False))


def test_a_source_task_defined_otherwise_is_refused(finished_run):
    import dataclasses

    from mtdnn_tf.models.init_from import check_tasks_match
    from mtdnn_tf.run_directory import load_trained_model

    source = load_trained_model(finished_run)
    task = source.tasks["pair"]
    check_tasks_match(source, {"pair": task, "other": dataclasses.replace(task, name="other")})  # same: passes
    swapped = dataclasses.replace(task, labels=tuple(reversed(task.labels)))
    import re

    with pytest.raises(UserInputError, match=r"^--init_from: task 'pair' of .* is defined otherwise: labels "
                       + re.escape(f"{list(task.labels)} there, {list(swapped.labels)} here (rename")):
        check_tasks_match(source, {"pair": swapped})
    kind = "san" if task.head.kind == "linear" else "linear"
    with pytest.raises(UserInputError, match=f"head {task.head.kind} there, {kind} here"):
        check_tasks_match(source, {"pair": dataclasses.replace(task, head=dataclasses.replace(task.head, kind=kind))})


def test_the_training_command_checks_init_from(finished_run, tmp_path, capsys):
    argv = [*BAD_INPUT_FLAGS, f"--data_dir={SUITE / 'crlf_line_ends_work'}", f"--model_dir={tmp_path / 'refined'}",
            "--tasks=pair", f"--init_from={finished_run}", "--head_input=cls"]
    stderr, code = run_train_command(argv, capsys)
    assert code == 2 and "Traceback" not in stderr
    assert stderr.strip() == (f"error: --init_from: {finished_run} was trained with --head_input=mean, "
                              "this run has --head_input=cls; give --head_input=mean")
