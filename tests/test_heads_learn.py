"""The answer modules learn on tiny models: SAN at least as well as the linear head on a
pair task, and the listwise ranking head well above 1 / group size."""

import dataclasses

import pytest

from conftest import make_trainer
from mtdnn_tf.data.synthetic import write_demo_suite
from mtdnn_tf.models.backbone import load_tokenizer
from mtdnn_tf.tasks import HeadConfig, load_tasks


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("learn")
    write_demo_suite(path, train_size=800, dev_size=200, seed=1)
    return path, load_tokenizer(vocab_file=str(path / "vocab.txt"))


@pytest.mark.slow
def test_san_learns_a_pair_task_at_least_as_well_as_linear(data, tmp_path):
    path, tokenizer = data
    san = load_tasks(["demo_pair"])["demo_pair"]
    assert san.head.kind == "san"
    linear = dataclasses.replace(san, head=HeadConfig(kind="linear", dropout=san.head.dropout))
    scores = {}
    for name, task in (("san", san), ("linear", linear)):
        results = make_trainer({task.name: task}, path, tokenizer, tmp_path / name, epochs=8).train()
        scores[name] = results["demo_pair"]["dev"]["accuracy"]
    assert scores["san"] > 0.75, scores  # chance (majority) is about 0.5
    assert scores["san"] >= scores["linear"], scores


@pytest.mark.slow
def test_ranking_head_learns_well_above_chance(data, tmp_path):
    path, tokenizer = data
    task = load_tasks(["demo_ranking"])["demo_ranking"]
    results = make_trainer({task.name: task}, path, tokenizer, tmp_path, epochs=30, learning_rate=5e-3).train()
    # Four candidates per query: a random ranking scores 0.25.
    assert results["demo_ranking"]["dev"]["ranking_accuracy"] > 0.4, results
