import keras
import numpy as np

from mtdnn_tf.models.san_head import SANHead


def _features(batch=3, length=9, hidden=16):
    mask = np.ones((batch, length), "int32")
    mask[:, 7:] = 0  # positions 7, 8 are padding
    segments = np.zeros((batch, length), "int32")
    segments[:, 4:7] = 1  # premise 0..3, hypothesis 4..6
    return {
        "sequence_output": keras.random.normal((batch, length, hidden), seed=3),
        "padding_mask": mask,
        "segment_ids": segments,
    }


def test_attention_stays_inside_its_own_segment():
    head = SANHead(num_classes=3, steps=4, seed=0)
    features = _features()
    probabilities, alpha, betas = head.reason(features)
    assert probabilities.shape == (3, 4, 3) and len(betas) == 4
    alpha = np.asarray(alpha)
    np.testing.assert_array_equal(alpha[:, :4], 0.0)  # premise gets no hypothesis attention
    np.testing.assert_array_equal(alpha[:, 7:], 0.0)  # nor does padding
    np.testing.assert_allclose(alpha.sum(-1), 1.0, atol=1e-6)
    for beta in map(np.asarray, betas):
        np.testing.assert_array_equal(beta[:, 4:], 0.0)  # hypothesis and padding: none
        np.testing.assert_allclose(beta.sum(-1), 1.0, atol=1e-6)
        assert (beta[:, :4] > 0).all()


def test_output_is_log_of_average_step_probability_at_inference():
    head = SANHead(num_classes=2, steps=5, seed=0)
    features = _features()
    out = np.asarray(head(features))
    probabilities, _, _ = head.reason(features)
    np.testing.assert_allclose(np.exp(out), np.asarray(probabilities).mean(1), atol=1e-6)
    np.testing.assert_array_equal(out, np.asarray(head(features)))  # deterministic


def test_prediction_dropout_acts_only_in_training():
    head = SANHead(num_classes=2, steps=5, dropout=0.0, prediction_dropout=0.5, seed=1)
    features = _features(batch=8)
    inference = np.asarray(head(features, training=False))
    runs = [np.asarray(head(features, training=True)) for _ in range(4)]
    assert any(not np.allclose(r, inference) for r in runs)
    assert any(not np.allclose(runs[0], r) for r in runs[1:])
    for r in runs:  # every row keeps at least one step: a valid distribution
        np.testing.assert_allclose(np.exp(r).sum(-1), 1.0, atol=1e-5)
    no_dropout = SANHead(num_classes=2, steps=5, dropout=0.0, prediction_dropout=0.0, seed=1)
    no_dropout(features)
    no_dropout.set_weights(head.get_weights())
    np.testing.assert_allclose(no_dropout(features, training=True), inference, atol=1e-6)


def test_config_round_trip():
    head = SANHead(num_classes=3, steps=2, dropout=0.2, prediction_dropout=0.3, seed=4, name="x_head")
    clone = SANHead.from_config(head.get_config())
    assert clone.get_config() == head.get_config()
    assert clone.steps == 2 and clone.prediction_dropout == 0.3


def test_training_output_is_the_mean_of_a_non_empty_subset_of_steps_and_the_loss_its_nll():
    import itertools

    from mtdnn_tf.losses import per_example_loss
    from mtdnn_tf.tasks import load_tasks

    steps = 4
    head = SANHead(num_classes=2, steps=steps, dropout=0.0, prediction_dropout=0.5, seed=2)
    features = _features(batch=16)
    probabilities = np.asarray(head.reason(features)[0])  # [batch, steps, classes]; no other dropout
    subsets = [s for r in range(1, steps + 1) for s in itertools.combinations(range(steps), r)]
    seen = set()
    for _ in range(3):
        out = np.asarray(head(features, training=True))
        for row in range(len(out)):
            matches = [s for s in subsets
                       if np.allclose(np.exp(out[row]), probabilities[row, list(s)].mean(0), atol=1e-6)]
            assert matches, f"row {row} is not the mean of any non-empty subset of its steps"
            seen.add(len(matches[0]))
        labels = np.arange(len(out)) % 2
        loss = per_example_loss(load_tasks(["rte"])["rte"], labels, out)
        kept_mean = np.exp(out)[np.arange(len(out)), labels]
        np.testing.assert_allclose(loss, -np.log(kept_mean), rtol=1e-5)
    assert len(seen) > 1  # dropout really varies how many steps are kept
