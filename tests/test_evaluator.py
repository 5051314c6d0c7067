"""inference/evaluator: batched, length-sorted prediction gives each unit the model's own output, in file order."""

import logging

import numpy as np
import pytest
import tensorflow as tf
from conftest import demo_data, tiny_backbone

from mtdnn_tf.inference.evaluator import Evaluator
from mtdnn_tf.models.mtdnn_model import build_mtdnn_model, task_model
from mtdnn_tf.tasks import load_tasks

EVERY_DEMO_TASK = ["demo_sentiment", "demo_similarity", "demo_pair", "demo_ranking", "demo_ner"]


@pytest.mark.slow
def test_predictions_are_each_examples_own_output_in_file_order(demo_tasks, demo_tokenizer, demo_dir):
    model = build_mtdnn_model(tiny_backbone(demo_tokenizer.vocabulary_size()), demo_tasks, head_input="mean")
    data = demo_data(demo_tasks, demo_dir, demo_tokenizer)
    split = data.eval["demo_similarity"]["dev"]
    evaluator = Evaluator(model, tf.distribute.get_strategy(), batch_size=16)
    outputs = evaluator.predict(demo_tasks["demo_similarity"], split)
    assert outputs.shape == (len(split),)
    head = task_model(model, "demo_similarity")
    for row in (0, 7, len(split) - 1):  # one at a time, at its own length
        alone = split.sequences.padded([row], int(split.lengths[row]))
        np.testing.assert_allclose(outputs[row], np.asarray(head(alone))[0], atol=1e-5)


@pytest.mark.slow
def test_evaluate_scores_every_labelled_split_with_the_tasks_metrics(demo_tasks, demo_tokenizer, demo_dir):
    model = build_mtdnn_model(tiny_backbone(demo_tokenizer.vocabulary_size()), demo_tasks, head_input="mean")
    data = demo_data(demo_tasks, demo_dir, demo_tokenizer)
    results = Evaluator(model, tf.distribute.get_strategy(), batch_size=32).evaluate(demo_tasks, data.eval)
    assert set(results) == set(demo_tasks)
    for name, task in demo_tasks.items():
        assert set(results[name]["dev"]) == set(task.metrics)
        assert all(np.isfinite(v) for v in results[name]["dev"].values())


@pytest.mark.slow
def test_five_tasks_each_traced_once_raise_no_retracing_warning(demo_tokenizer, demo_dir):
    tasks = load_tasks(EVERY_DEMO_TASK)
    model = build_mtdnn_model(tiny_backbone(demo_tokenizer.vocabulary_size()), tasks, head_input="mean")
    data = demo_data(tasks, demo_dir, demo_tokenizer)
    warnings = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())
    tf.get_logger().addHandler(handler)
    try:
        # One batch a split: five traces in five calls, which TensorFlow would read as retracing.
        Evaluator(model, tf.distribute.get_strategy(), batch_size=4096).evaluate(tasks, data.eval)
    finally:
        tf.get_logger().removeHandler(handler)
    assert not [w for w in warnings if "retracing" in w]
