"""inference/evaluator: batched, length-sorted prediction gives each unit the model's own output, in file order."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import demo_data, tiny_backbone

from mtdnn_tf.inference.evaluator import Evaluator
from mtdnn_tf.models.mtdnn_model import build_mtdnn_model, task_model


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
