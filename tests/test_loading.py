"""data/loading: every task's train and evaluation splits, tokenised, with fractions and the cache."""

import pytest

from mtdnn_tf.data.loading import DataSource, load_packed_data
from mtdnn_tf.data.packing import TextPacker
from mtdnn_tf.errors import UserInputError


def test_every_task_gets_its_train_and_eval_splits(demo_tasks, demo_tokenizer, demo_dir, capsys):
    data = load_packed_data(demo_tasks, TextPacker(demo_tokenizer, 24), DataSource(str(demo_dir)))
    assert set(data.train) == set(demo_tasks) == set(data.eval)
    for name, task in demo_tasks.items():
        assert set(data.eval[name]) == set(task.eval_splits)
        assert len(data.train[name]) == 400 and data.truncated[f"{name}/train"]["examples"] == 400
    assert data.skipped == {}
    assert "Task demo_pair: train 400, dev 200 examples" in capsys.readouterr().out


def test_a_train_fraction_draws_only_from_training_splits(demo_tasks, demo_tokenizer, demo_dir):
    packer = TextPacker(demo_tokenizer, 24)
    quarter = load_packed_data(demo_tasks, packer, DataSource(str(demo_dir)), train_fraction=0.25, verbose=False)
    again = load_packed_data(demo_tasks, packer, DataSource(str(demo_dir)), train_fraction=0.25, verbose=False)
    other = load_packed_data(demo_tasks, packer, DataSource(str(demo_dir)), train_fraction=0.25, fraction_seed=1,
                             verbose=False)
    for name in demo_tasks:
        assert 90 <= len(quarter.train[name]) <= 110 and len(quarter.eval[name]["dev"]) == 200
        assert quarter.train[name].ids == again.train[name].ids  # seeded
    assert any(quarter.train[n].ids != other.train[n].ids for n in demo_tasks)


def test_the_cache_gives_the_same_splits(demo_tasks, demo_tokenizer, demo_dir, tmp_path):
    packer = TextPacker(demo_tokenizer, 24)
    first = load_packed_data(demo_tasks, packer, DataSource(str(demo_dir)), cache_dir=tmp_path, verbose=False)
    assert any(tmp_path.iterdir())
    cached = load_packed_data(demo_tasks, packer, DataSource(str(demo_dir)), cache_dir=tmp_path, verbose=False)
    for name in demo_tasks:
        assert cached.train[name].ids == first.train[name].ids
        assert (cached.train[name].sequences.token_ids == first.train[name].sequences.token_ids).all()


def test_files_without_a_data_dir_is_one_error(demo_tasks, demo_tokenizer):
    with pytest.raises(UserInputError, match=r"^--data_dir is required with --data_source=files$"):
        load_packed_data(demo_tasks, TextPacker(demo_tokenizer, 24), DataSource(None), verbose=False)
