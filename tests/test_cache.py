"""Tokenised splits are cached on disk and reused only while their inputs are unchanged."""

import shutil

import numpy as np

from mtdnn_tf.data import loading
from mtdnn_tf.data.loading import DataSource, load_packed_data
from mtdnn_tf.data.packing import TextPacker


def test_second_load_reads_the_cache_and_a_changed_file_is_tokenised_again(demo_dir, demo_tokenizer, demo_tasks,
                                                                            tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    tasks = {n: demo_tasks[n] for n in ("demo_pair",)}
    source, cache = DataSource(str(data)), str(tmp_path / "cache")
    packer = TextPacker(demo_tokenizer, 24)
    first, first_dev, _, truncated = load_packed_data(tasks, packer, source, 0.5, 3, cache, verbose=False)
    assert len(list((tmp_path / "cache").glob("*/meta.json"))) == 2  # train (the 50% draw) and dev

    calls = []
    real_pack = loading.pack_split
    monkeypatch.setattr(loading, "pack_split", lambda *a, **k: calls.append(1) or real_pack(*a, **k))
    second, second_dev, _, cached_truncated = load_packed_data(tasks, packer, source, 0.5, 3, cache, verbose=False)
    assert calls == []  # nothing tokenised again
    assert cached_truncated == truncated and truncated["demo_pair/train"]["examples"] == 200
    for a, b in [(first["demo_pair"], second["demo_pair"]), (first_dev["demo_pair"]["dev"], second_dev["demo_pair"]["dev"])]:
        for key, values in a.dense_features().items():
            np.testing.assert_array_equal(values, b.dense_features()[key])
        assert isinstance(b.sequences.token_ids, np.memmap)  # read from disk as batches need it
        np.testing.assert_array_equal(a.labels, b.labels)
        assert a.ids == b.ids and a.source == b.source
    assert len(second["demo_pair"]) == 200  # half of the 400 training pairs

    load_packed_data(tasks, packer, source, 0.5, 4, cache, verbose=False)
    assert calls == [1]  # a different draw is a different entry

    train_file = data / "demo_pair" / "train.tsv"
    lines = train_file.read_text().splitlines(keepends=True)
    train_file.write_text("".join(lines[:101]))  # header + 100 rows
    third, _, _, _ = load_packed_data(tasks, packer, source, 0.5, 3, cache, verbose=False)
    assert len(calls) == 2 and len(third["demo_pair"]) == 50


def test_other_tokenizer_settings_are_another_entry(demo_dir, demo_tasks, tmp_path, monkeypatch):
    from mtdnn_tf.models.backbone import load_tokenizer

    tasks = {"demo_pair": demo_tasks["demo_pair"]}
    source = DataSource(str(demo_dir))
    vocab = str(demo_dir / "vocab.txt")
    load_packed_data(tasks, TextPacker(load_tokenizer(vocab_file=vocab), 24), source, cache_dir=str(tmp_path), verbose=False)
    calls = []
    real_pack = loading.pack_split
    monkeypatch.setattr(loading, "pack_split", lambda *a, **k: calls.append(1) or real_pack(*a, **k))
    load_packed_data(tasks, TextPacker(load_tokenizer(vocab_file=vocab), 24), source, cache_dir=str(tmp_path), verbose=False)
    assert calls == []
    cased = load_tokenizer(vocab_file=vocab, lowercase=False)  # same vocabulary, other normalisation
    load_packed_data(tasks, TextPacker(cased, 24), source, cache_dir=str(tmp_path), verbose=False)
    assert calls == [1, 1]  # train and dev tokenised again
