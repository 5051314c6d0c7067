"""Fraction sampling for domain-adaptation curves: exact sizes, class balance, seeds."""

import numpy as np
import pytest

from mtdnn_tf.data.examples import SplitExamples
from mtdnn_tf.data.sampling import fraction_size, sample_fraction, sample_indices
from mtdnn_tf.tasks import load_tasks


def test_fraction_sizes_are_exact_with_a_floor_of_one_per_class():
    assert fraction_size(2490, 1.0) == 2490
    assert fraction_size(2490, 0.1) == 249
    assert fraction_size(2490, 0.01) == 25
    assert fraction_size(2490, 0.001) == 2
    assert fraction_size(2490, 0.0001) == 1
    assert fraction_size(2490, 0.0001, num_classes=3) == 3
    assert fraction_size(2, 0.001, num_classes=3) == 2
    with pytest.raises(ValueError):
        fraction_size(10, 0.0)


def test_tiny_stratified_samples_keep_every_class_and_proportions():
    labels = np.array([0] * 900 + [1] * 90 + [2] * 10)
    for seed in range(20):
        picked = sample_indices(labels, 3, seed, stratify=True)
        assert sorted(labels[picked].tolist()) == [0, 1, 2]  # the rare classes are not lost
    picked = sample_indices(labels, 100, 0, stratify=True)
    counts = np.bincount(labels[picked], minlength=3)
    assert counts.sum() == 100 and len(set(picked.tolist())) == 100
    assert abs(counts[0] - 90) <= 1 and abs(counts[1] - 9) <= 1 and counts[2] >= 1
    uniform = sample_indices(labels, 3, 0, stratify=False)
    assert len(uniform) == 3


def test_samples_are_seeded_and_differ_between_seeds():
    labels = np.arange(1000) % 2
    a = sample_indices(labels, 25, seed=1, stratify=True)
    np.testing.assert_array_equal(a, sample_indices(labels, 25, seed=1, stratify=True))
    assert not np.array_equal(a, sample_indices(labels, 25, seed=2, stratify=True))
    assert list(a) == sorted(a)


def test_sample_fraction_of_a_real_task_split():
    rte = load_tasks(["rte"])["rte"]
    examples = SplitExamples(text_a=[f"a{i}" for i in range(2490)], text_b=[f"b{i}" for i in range(2490)],
                             labels=np.arange(2490) % 2, ids=list(range(2490)))
    small = sample_fraction(examples, 0.001, seed=0, task=rte)
    assert len(small) == 2 and sorted(small.labels.tolist()) == [0, 1]
    assert [f"a{i}" for i in small.ids] == small.text_a  # texts, labels and ids stay aligned
    assert len(sample_fraction(examples, 0.01, seed=0, task=rte)) == 25
    stsb = load_tasks(["stsb"])["stsb"]
    scores = SplitExamples(text_a=["x"] * 100, text_b=["y"] * 100, labels=np.linspace(0, 5, 100), ids=list(range(100)))
    assert len(sample_fraction(scores, 0.1, seed=0, task=stsb)) == 10


def test_a_fraction_of_a_ranking_task_keeps_whole_groups():
    task = load_tasks(["qnli_rank"])["qnli_rank"]
    groups = [f"q{i // 3}" for i in range(300)]  # 100 questions, 3 candidates each
    examples = SplitExamples(text_a=[f"a{i}" for i in range(300)], text_b=[f"b{i}" for i in range(300)],
                             labels=np.asarray([int(i % 3 == 0) for i in range(300)]), ids=list(range(300)),
                             groups=groups)
    small = sample_fraction(examples, 0.1, seed=5, task=task)
    kept = sorted(set(small.groups))
    assert len(kept) == 10 and len(small) == 30  # 10% of the groups, every candidate of each
    assert all(small.groups.count(key) == 3 for key in kept)
    assert small.text_a == [f"a{i}" for i in small.ids]
    again = sample_fraction(examples, 0.1, seed=5, task=task)
    assert again.ids == small.ids and sample_fraction(examples, 0.1, seed=6, task=task).ids != small.ids
