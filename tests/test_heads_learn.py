"""The answer modules learn on tiny models: the SAN head on a pair task and the linear head on a
single-sentence task beyond the majority class, and the listwise ranking head well above 1 / group size."""

import pytest
from conftest import make_trainer

from mtdnn_tf.data.synthetic import write_demo_suite
from mtdnn_tf.metrics import chance_level
from mtdnn_tf.models.backbone import load_tokenizer
from mtdnn_tf.tasks import load_tasks


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("learn")
    write_demo_suite(path, train_size=800, dev_size=200, seed=1)
    return path, load_tokenizer(vocab_file=str(path / "vocab.txt"))


@pytest.mark.slow
def test_san_and_linear_heads_both_learn(data, tmp_path):
    path, tokenizer = data
    san = load_tasks(["demo_pair"])["demo_pair"]
    assert san.head.kind == "san"
    sentiment = load_tasks(["demo_sentiment"])["demo_sentiment"]
    assert sentiment.head.kind == "linear"
    learned = {}
    for task in (san, sentiment):
        trainer = make_trainer({task.name: task}, path, tokenizer, tmp_path / task.name, epochs=8)
        train, dev = trainer.train_splits[task.name], trainer.eval_splits[task.name]["dev"]
        before = _loss(trainer, task, train)
        accuracy = trainer.train()[task.name]["dev"]["accuracy"]
        learned[task.name] = (before, _loss(trainer, task, train), accuracy, chance_level(task, dev.labels)["accuracy"])
    # What is guaranteed on one seed: each head's training loss falls by a quarter and more, and its dev
    # accuracy is well beyond the majority class. Not compared: SAN against a linear head on the pair
    # task, where the linear head on this 1-layer random encoder stays at chance (measured 0.495 to 0.515
    # with cls, pooled and mean inputs), so "SAN at least as good" only held against chance.
    for before, after, accuracy, chance in learned.values():
        assert after < 0.75 * before and accuracy > chance + 0.2, learned


def _loss(trainer, task, split):
    """The task's mean loss over a split, without dropout."""
    from mtdnn_tf.losses import task_loss

    return float(task_loss(task, split.labels, trainer.evaluator.predict(task, split)))


@pytest.mark.slow
def test_ranking_head_learns_well_above_chance(data, tmp_path):
    path, tokenizer = data
    task = load_tasks(["demo_ranking"])["demo_ranking"]
    results = make_trainer({task.name: task}, path, tokenizer, tmp_path, epochs=30, learning_rate=5e-3).train()
    # Four candidates per query: a random ranking scores 0.25.
    assert results["demo_ranking"]["dev"]["ranking_accuracy"] > 0.4, results
