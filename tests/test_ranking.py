import numpy as np
import pytest
import tensorflow as tf
from conftest import needs_glue

from mtdnn_tf.data.examples import SplitExamples
from mtdnn_tf.data.pipeline import PackedSplit
from mtdnn_tf.data.ranking import NO_POSITIVE, group_candidates, group_labels
from mtdnn_tf.data.sequences import PackedSequences
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.losses import listwise_ranking_loss
from mtdnn_tf.metrics import chance_level, compute_metrics
from mtdnn_tf.tasks import load_tasks


def _examples(groups, labels):
    return SplitExamples(text_a=["q"] * len(groups), text_b=["a"] * len(groups),
                         labels=np.array(labels, np.int32), ids=[str(i) for i in range(len(groups))],
                         groups=groups, source="f.tsv")


def test_groups_are_padded_and_masked():
    examples = _examples(["a", "a", "b", "a", "b"], [0, 1, 1, 0, 0])
    matrix, skipped = group_candidates(examples)
    assert matrix.tolist() == [[0, 1, 3], [2, 4, -1]] and skipped == {}
    # Example i is the sequence [i + 1, i + 1] (two real tokens).
    sequences = PackedSequences(np.repeat(np.arange(1, 6), 2).astype(np.uint16), np.zeros(10, np.int8),
                                np.arange(0, 11, 2))
    labels = group_labels(examples.labels, matrix)
    split = PackedSplit(sequences, labels, examples.ids, group_matrix=matrix)
    grouped = split.unit_features([0, 1], length=3)
    assert grouped["token_ids"].shape == (2, 3, 3)
    assert grouped["token_ids"][0, 2].tolist() == [4, 4, 0]  # example 3, padded to the length asked
    assert grouped["token_ids"][1, 2].tolist() == [0, 0, 0] and grouped["padding_mask"][1, 2].sum() == 0
    assert split.lengths.tolist() == [2, 2] and len(split) == 2
    assert labels.tolist() == [[0, 1, 0], [1, 0, -1]]


def test_group_without_positive_is_an_error_or_counted():
    examples = _examples(["a", "a", "b", "b"], [0, 1, 0, 0])
    with pytest.raises(UserInputError, match=r"f.tsv: ranking group 'b' \(row id 2\) has no positive"):
        group_candidates(examples)
    matrix, skipped = group_candidates(examples, no_positive="skip")
    assert matrix.tolist() == [[0, 1]] and skipped == {NO_POSITIVE: 1}


def test_listwise_loss_is_softmax_nll_over_real_candidates():
    scores = tf.constant([[2.0, 0.5, 9.0], [1.0, 3.0, -1.0]])
    labels = tf.constant([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    loss = listwise_ranking_loss(labels, scores).numpy()
    expected0 = -np.log(np.exp(2.0) / (np.exp(2.0) + np.exp(0.5)))  # the padded 9.0 is ignored
    expected1 = -np.log(np.exp(3.0) / (np.exp(1.0) + np.exp(3.0) + np.exp(-1.0)))
    np.testing.assert_allclose(loss, [expected0, expected1], rtol=1e-5)
    sharper = listwise_ranking_loss(labels, scores, gamma=2.0).numpy()
    assert (sharper < loss).all()


def test_ranking_metrics():
    task = load_tasks(["demo_ranking"])["demo_ranking"]
    labels = np.array([[0, 1, 0, -1], [1, 0, 0, 0]], np.float32)
    scores = np.array([[0.1, 0.9, 0.2, 5.0], [0.1, 0.3, 0.2, 0.0]])
    values = compute_metrics(task, scores, labels)
    assert values["ranking_accuracy"] == 0.5
    assert values["accuracy"] == pytest.approx(5 / 7)  # group 2: two pairs wrong
    chance = chance_level(task, np.array([[1, 0, 0, 0]] * 20, np.float32))
    assert chance["ranking_accuracy"] == pytest.approx(0.25, abs=0.05)


@needs_glue
def test_qnli_rank_parses_real_dev_with_documented_skips():
    from conftest import GLUE_DIR

    from mtdnn_tf.data.readers import read_split

    task = load_tasks(["qnli_rank"])["qnli_rank"]
    examples = read_split(task, "dev", GLUE_DIR)
    matrix, skipped = group_candidates(examples, task.no_positive)
    # QNLI v2 dev: 4,100 questions, 1,398 of them without an answer sentence.
    assert skipped == {NO_POSITIVE: 1398}
    assert matrix.shape == (2702, 3)


def _mixed_groups_split():
    """Groups of 1, 1, 2, 1 and 3 candidates; example i is the sequence [i + 1, i + 1]."""
    examples = _examples(["a", "b", "c", "c", "d", "e", "e", "e"], [1, 1, 0, 1, 1, 0, 1, 0])
    matrix, _ = group_candidates(examples)
    sequences = PackedSequences(np.repeat(np.arange(1, 9), 2).astype(np.uint16), np.zeros(16, np.int8),
                                np.arange(0, 17, 2))
    return PackedSplit(sequences, group_labels(examples.labels, matrix), examples.ids, group_matrix=matrix,
                       truncation={"max_seq_length": 8})


def test_each_batch_pads_its_groups_to_its_own_largest_group():
    from mtdnn_tf.data.pipeline import eval_dataset, train_batches, train_dataset

    split = _mixed_groups_split()
    assert split.group_matrix.shape == (5, 3)
    batches = train_batches(split, 2, seed=0, epoch=0, task_index=0)
    for units, (features, targets) in zip(batches, train_dataset(split, 2, seed=0, epoch=0, task_index=0)):
        width = int((split.group_matrix[units] >= 0).sum(axis=1).max())
        assert features["token_ids"].shape[:2] == (len(units), width)  # not the split's 3
        assert targets["labels"].shape == (len(units), width)
        np.testing.assert_array_equal(targets["labels"], split.labels[units][:, :width])
        np.testing.assert_array_equal(features["token_ids"],
                                      split.unit_features(units, features["token_ids"].shape[-1])["token_ids"][:, :width])
    widths = [int(f["token_ids"].shape[1]) for f in eval_dataset(split, 2, order=np.arange(5))]
    assert widths == [1, 2, 3]  # groups (1, 1), (2, 1), (3)


def test_outputs_of_batches_of_several_widths_join_in_the_splits_width():
    from mtdnn_tf.features import MASKED_SCORE

    task = load_tasks(["demo_ranking"])["demo_ranking"]
    split = _mixed_groups_split()
    joined = task.task_type.join_outputs(task, [np.array([[0.5], [0.25]]), np.array([[1.0, 2.0], [0.75, 0.0]]),
                                                 np.array([[3.0, 4.0, 5.0]])], split)
    assert joined.shape == (5, 3)
    np.testing.assert_array_equal(joined[0], [0.5, MASKED_SCORE, MASKED_SCORE])
    np.testing.assert_array_equal(joined[4], [3.0, 4.0, 5.0])
