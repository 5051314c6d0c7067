"""Refinement starts from a multi-task model: its encoder and shared heads, nothing else."""

import numpy as np

from conftest import tiny_backbone
from mtdnn_tf.models.init_from import clone_backbone, initialize_from, source_backbone
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
