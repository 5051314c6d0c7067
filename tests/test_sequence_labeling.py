"""Sequence labelling (``task_types/sequence_labeling.py``): CoNLL and JSON-lines readers, first-subword
alignment, windows over long sentences, the loss normalised by labelled words, seqeval's entity metrics,
refusals, and a trained model served in a fresh process."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import make_trainer

from mtdnn_tf.data.loading import DataSource, load_packed_data
from mtdnn_tf.data.packing import TextPacker
from mtdnn_tf.data.readers import read_split
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.tasks import load_tasks

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
# WordPiece splits "playing" into play ##ing and "londoners" into london ##ers: words of several subwords.
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "john", "smith", "lives", "in", "london", "play",
              "##ing", "##ers", "the", "paris", "mary", "."]


def _task_dir(tmp_path, fmt="conll", **overrides):
    """A task file ``ner`` over ``<data>/ner`` in ``fmt``; ``overrides``: top-level YAML lines."""
    import yaml

    split = ({"header": False, "text_a": 0, "label": 1} if fmt == "conll"
             else {"text_a": "tokens", "label": "tags"})
    suffix = "txt" if fmt == "conll" else "jsonl"
    task = {"name": "ner", "type": "sequence_labeling", "input": "single", "labels": TAGS,
            "metrics": ["f1", "precision", "recall", "token_accuracy"], "head": {"kind": "linear"},
            "files": {"format": fmt, "dir": "ner", "splits": {
                "train": {"file": f"train.{suffix}", **split}, "dev": {"file": f"dev.{suffix}", **split}}}}
    task.update(overrides)
    (tmp_path / "tasks").mkdir(exist_ok=True)
    (tmp_path / "tasks" / "ner.yaml").write_text(yaml.safe_dump(task))
    return str(tmp_path / "tasks")


def _write_conll(path, sentences):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join("\n".join(f"{w} {t}" for w, t in s) for s in sentences) + "\n", encoding="utf-8")


SENTENCES = [
    [("john", "B-PER"), ("smith", "I-PER"), ("lives", "O"), ("in", "O"), ("london", "B-LOC")],
    [("londoners", "O"), ("playing", "O"), ("in", "O"), ("paris", "B-LOC"), (".", "O")],
    [("mary", "B-PER")],
]


@pytest.fixture()
def ner(tmp_path):
    """(the task, the data dir) with SENTENCES as train and dev."""
    for split in ("train", "dev"):
        _write_conll(tmp_path / "data" / "ner" / f"{split}.txt", SENTENCES)
    return load_tasks(["ner"], _task_dir(tmp_path))["ner"], tmp_path / "data"


def _tokenizer():
    import keras_hub

    return keras_hub.models.BertTokenizer(vocabulary=VOCABULARY, lowercase=True)


def _pack(task, data_dir, length):
    return load_packed_data({"ner": task}, TextPacker(_tokenizer(), length), DataSource(str(data_dir)),
                            verbose=False)


def test_conll_sentences_are_read_with_their_tags(ner):
    task, data_dir = ner
    examples = read_split(task, "dev", data_dir)
    assert examples.text_a == [[w for w, _ in s] for s in SENTENCES]
    assert [list(tags) for tags in examples.labels] == [[TAGS.index(t) for _, t in s] for s in SENTENCES]
    assert examples.ids == ["1", "7", "13"]  # the line of each sentence's first word


def test_docstart_lines_are_skipped_and_counted(ner):
    task, data_dir = ner
    path = data_dir / "ner" / "dev.txt"
    path.write_text("-DOCSTART- -X- O\n\n" + path.read_text())
    examples = read_split(task, "dev", data_dir)
    assert len(examples) == 3 and examples.skipped == {"document marks (-DOCSTART-)": 1}


@pytest.mark.parametrize("line, message", [
    ("london B-CITY", r"dev.txt:3: tag 'B-CITY' \(word 1\) is not one of"),
    ("london", r"dev.txt:3: expected at least 2 columns, found 1"),
])
def test_a_bad_conll_line_is_named_with_its_file_and_line(ner, line, message):
    task, data_dir = ner
    (data_dir / "ner" / "dev.txt").write_text(f"john B-PER\nsmith I-PER\n{line}\n")
    with pytest.raises(UserInputError, match=message):
        read_split(task, "dev", data_dir)


def test_json_lines_of_tokens_and_tags(tmp_path):
    data = tmp_path / "data" / "ner"
    data.mkdir(parents=True)
    rows = [{"tokens": [w for w, _ in s], "tags": [t for _, t in s]} for s in SENTENCES]
    (data / "dev.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    task = load_tasks(["ner"], _task_dir(tmp_path, fmt="jsonl"))["ner"]
    assert read_split(task, "dev", tmp_path / "data").text_a[2] == ["mary"]
    (data / "dev.jsonl").write_text(json.dumps({"tokens": ["john", "smith"], "tags": ["B-PER"]}) + "\n")
    with pytest.raises(UserInputError, match=r"dev.jsonl:1: 1 tags for 2 words$"):
        read_split(task, "dev", tmp_path / "data")


@pytest.mark.parametrize("overrides, field, message", [
    ({"head": {"kind": "san"}}, "head.kind", "a per-token linear head"),
    ({"input": "pair"}, "input", "tags the words of one text"),
    ({"labels": ["O", "PER"]}, "labels", "entity metrics read IOB2 tags"),
    ({"smart": {"enabled": True}}, "smart.enabled", "SMART is not supported for sequence labelling"),
])
def test_the_yaml_refuses_what_sequence_labelling_cannot_do(tmp_path, overrides, field, message):
    with pytest.raises(UserInputError, match=rf"ner.yaml: field '{field}': .*{message}"):
        load_tasks(["ner"], _task_dir(tmp_path, **overrides))


def test_each_word_is_labelled_at_its_first_subword_only(ner):
    task, data_dir = ner
    split = _pack(task, data_dir, 16).eval["ner"]["dev"]
    tokenizer = _tokenizer()
    word_index, features = split.extras["word_index"], split.dense_features()
    for unit, words in enumerate(SENTENCES):
        positions = np.nonzero(word_index[unit] >= 0)[0]
        assert word_index[unit, positions].tolist() == list(range(len(words)))
        first_pieces = [np.asarray(tokenizer(w)).tolist()[0] for w, _ in words]
        assert features["token_ids"][unit, positions].tolist() == first_pieces
        assert split.labels[unit, positions].tolist() == [TAGS.index(t) for _, t in words]
        assert (split.labels[unit, word_index[unit] < 0] == -1).all()  # [CLS], ##ing, [SEP], padding
    assert split.extras["loss_counts"].tolist() == [5, 5, 1]
    assert (features["token_ids"][1, :4] == [2, 9, 12, 10]).all()  # [CLS] london ##ers play


def test_a_sentence_longer_than_the_packed_length_is_labelled_word_by_word_in_windows(ner):
    """At 6 tokens (4 subwords beside [CLS] and [SEP]) the first two sentences need two windows each;
    every word keeps its tag and the oracle outputs score perfectly."""
    task, data_dir = ner
    split = _pack(task, data_dir, 6).eval["ner"]["dev"]
    assert split.truncation["windowed"] == 2 and split.truncation["truncated"] == 0
    assert split.extras["unit_example"].tolist() == [0, 0, 1, 1, 2]
    assert (split.lengths <= 6).all()
    oracle = np.eye(len(TAGS), dtype=np.float32)[np.maximum(split.labels, 0)]
    assert task.task_type.evaluate(task, oracle, split) == {"f1": 1.0, "precision": 1.0, "recall": 1.0,
                                                            "token_accuracy": 1.0}
    strings = task.task_type.prediction_strings(task, oracle, split)
    assert strings == [" ".join(t for _, t in s) for s in SENTENCES]


def test_entity_metrics_are_seqeval_strict_iob2(ner):
    """An I- tag after O opens no entity in strict IOB2 (conlleval's default would count one)."""
    from seqeval.metrics import f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    task, _ = ner
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-LOC", "I-LOC"]]
    predicted = [["B-PER", "I-PER", "O", "I-LOC"], ["O", "B-LOC", "O"]]
    ours = task.task_type.compute_metrics(task, predicted, gold)
    options = dict(mode="strict", scheme=IOB2)
    assert ours["f1"] == pytest.approx(f1_score(gold, predicted, **options))
    assert ours["precision"] == pytest.approx(precision_score(gold, predicted, **options)) == 0.5
    assert ours["recall"] == pytest.approx(recall_score(gold, predicted, **options)) == 1 / 3
    assert ours["token_accuracy"] == pytest.approx(5 / 7)


def test_the_loss_is_the_mean_over_the_global_batchs_labelled_words(ner):
    """Per unit the summed token cross-entropy; divided by the batch's labelled-word count (the pipeline's
    ``units`` target) it is the mean over every labelled word, whatever the sentence lengths."""
    from mtdnn_tf.data.pipeline import train_dataset
    from mtdnn_tf.losses import task_loss

    task, data_dir = ner
    split = _pack(task, data_dir, 16).train["ner"]
    features, targets = next(iter(train_dataset(split, 3, seed=0, epoch=0, task_index=0)))
    assert float(targets["units"]) == 11.0  # 5 + 5 + 1 labelled words
    logits = tf.random.stateless_normal([3, features["token_ids"].shape[1], len(TAGS)], seed=[1, 2])
    labels = targets["labels"].numpy()  # as wide as the split's longest unit; the batch is its bucket's
    labels = np.pad(labels, [(0, 0), (0, logits.shape[1] - labels.shape[1])], constant_values=-1)
    per_word = tf.keras.losses.sparse_categorical_crossentropy(np.maximum(labels, 0), logits, from_logits=True)
    expected = float(tf.reduce_sum(tf.where(labels >= 0, per_word, 0.0))) / 11.0
    got = float(task_loss(task, targets["labels"], logits, targets["weights"], targets["units"]))
    assert got == pytest.approx(expected, rel=1e-5)


@pytest.mark.slow
def test_replica_shards_losses_add_up_to_the_global_labelled_word_mean(ner):
    """Three sentences over four replicas (one empty): each replica's loss divides by the global batch's
    labelled-word count, so the replicas' losses add up to the one-device loss."""
    from mtdnn_tf.data.pipeline import InputShard, train_dataset
    from mtdnn_tf.losses import task_loss

    task, data_dir = ner
    split = _pack(task, data_dir, 16).train["ner"]
    def logits_of(features):  # a function of each token alone: the same logits however the batch is cut
        return tf.one_hot(features["token_ids"] % len(TAGS), len(TAGS)) * 2.0

    whole_features, whole = next(iter(train_dataset(split, 3, seed=0, epoch=0, task_index=0, buckets=[16])))
    one_device = float(task_loss(task, whole["labels"], logits_of(whole_features), whole["weights"], whole["units"]))
    shards = list(train_dataset(split, 3, seed=0, epoch=0, task_index=0, buckets=[16],
                                shard=InputShard(num_replicas=4, first_replica=0, local_replicas=4)))
    assert len(shards) == 4 and shards[3][0]["token_ids"].shape[0] == 0  # the empty replica
    assert all(float(t["units"]) == 11.0 for _, t in shards)
    summed = sum(float(task_loss(task, t["labels"], logits_of(f), t["weights"], t["units"])) for f, t in shards)
    assert np.isfinite(summed) and summed == pytest.approx(one_device, rel=1e-5)


@pytest.mark.slow
def test_smart_and_distillation_are_refused_with_one_line(demo_dir, demo_tokenizer, tmp_path):
    import dataclasses

    from mtdnn_tf.settings.smart_config import SmartConfig

    tasks = load_tasks(["demo_ner"])
    with pytest.raises(UserInputError, match=r"^--smart: task demo_ner is sequence_labeling, which SMART does"):
        make_trainer(tasks, demo_dir, demo_tokenizer, str(tmp_path / "smart"), epochs=1,
                     smart=SmartConfig(enabled=True))
    from types import SimpleNamespace

    from mtdnn_tf.training import distillation

    teacher = SimpleNamespace(tasks=tasks, model_dir="teacher", tokenizer=demo_tokenizer, max_seq_length=24)

    splits = {"demo_ner": dataclasses.replace(
        load_packed_data(tasks, TextPacker(demo_tokenizer, 24), DataSource(str(demo_dir)), verbose=False)
        .train["demo_ner"])}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(distillation, "load_trained_model", lambda d, flag=None: teacher)
        patch.setattr(distillation, "_file_digest", lambda path: "digest")
        with pytest.raises(UserInputError, match=r"^--teachers: task demo_ner is sequence_labeling, which"):
            distillation.attach_soft_targets(splits, tasks, ["teacher"], demo_tokenizer, 24, str(tmp_path))


SERVE = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401
model = tf.saved_model.load(sys.argv[1])
out = model.signatures["demo_ner"](tokens=tf.constant(json.loads(sys.argv[2])))
ids = tf.saved_model.load(sys.argv[3]).signatures["demo_ner"](
    **{k: tf.constant(v, tf.int32) for k, v in json.loads(sys.argv[4]).items()})
print(json.dumps({"text": {k: v.numpy().tolist() for k, v in out.items()},
                  "ids": {k: v.numpy().tolist() for k, v in ids.items()},
                  "mtdnn_tf imported": any(m.startswith("mtdnn_tf") for m in sys.modules)},
                 default=lambda b: b.decode()))
"""


@pytest.mark.slow
def test_demo_ner_trains_with_another_task_exports_serves_and_predicts(demo_dir, demo_tokenizer, tmp_path):
    """demo_ner and demo_pair in one model; raw-text and token-id SavedModels served in a fresh process
    equal the Keras model, words beyond the packed length get no tag; TFLite per subword equal too;
    ``predict`` writes a CoNLL file and the trainer's metrics."""
    from mtdnn_tf.models.mtdnn_model import task_model
    from mtdnn_tf.run_directory import load_trained_model, save_run
    from mtdnn_tf.serving.predict_run import predict_splits
    from mtdnn_tf.serving.saved_model import export_saved_model
    from mtdnn_tf.serving.tflite import TFLiteRunner, convert_task

    tasks = load_tasks(["demo_ner", "demo_pair"])
    trainer = make_trainer(tasks, demo_dir, demo_tokenizer, str(tmp_path / "run"), epochs=3)
    results = trainer.train()
    assert results["demo_ner"]["dev"]["f1"] > 0.3  # chance (all O) is 0
    save_run(trainer.model, demo_tokenizer, tasks, {"tasks": list(tasks), "max_seq_length": 24,
                                                   "head_input": "mean"}, tmp_path / "run")
    trained = load_trained_model(tmp_path / "run")
    export_saved_model(trained, tmp_path / "text" / "1", default_task="demo_pair")
    export_saved_model(trained, tmp_path / "ids" / "1", inputs="token_ids")
    sentences = [["the", "red", "cat", "sat", "near", "a", "table"], ["a", "dog"]]
    long = ["a", "dog"] * 15  # 30 words: beyond 24 packed tokens
    grid = [s + [""] * (30 - len(s)) for s in sentences] + [long]
    packed = trained.packer().pack([" ".join(s) for s in sentences])
    result = subprocess.run([sys.executable, "-c", SERVE, str(tmp_path / "text" / "1"), json.dumps(grid),
                             str(tmp_path / "ids" / "1"), json.dumps({k: v.tolist() for k, v in packed.items()})],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["mtdnn_tf imported"] is False
    logits = task_model(trained.model, "demo_ner")(packed).numpy()
    probabilities = tf.nn.softmax(logits).numpy()
    real = packed["padding_mask"] == 1  # as long as the ids sent; at padding, whatever the bucket gave
    np.testing.assert_allclose(np.asarray(served["ids"]["probabilities"])[real], probabilities[real], atol=1e-5)
    labels = trained.tasks["demo_ner"].labels
    for row, words in enumerate(sentences):  # one word one subword here: word i at position i + 1
        expected = probabilities[row, 1:len(words) + 1]
        np.testing.assert_allclose(np.asarray(served["text"]["probabilities"][row][:len(words)]), expected,
                                   atol=1e-5)
        assert served["text"]["tags"][row][:len(words)] == [labels[i] for i in expected.argmax(-1)]
        assert served["text"]["tags"][row][len(words):] == [""] * (30 - len(words))
    assert all(t for t in served["text"]["tags"][2][:22]) and served["text"]["tags"][2][22:] == [""] * 8
    assert served["text"]["tag_ids"][2][22:] == [-1] * 8

    (tmp_path / "ner.tflite").write_bytes(convert_task(trained, "demo_ner", 24))
    np.testing.assert_allclose(TFLiteRunner(tmp_path / "ner.tflite")(packed)[real], probabilities[real], atol=1e-4)

    metrics = predict_splits(tmp_path / "run", ["demo_ner"], "dev", str(demo_dir), output_dir=tmp_path / "out",
                             verbose=False)
    assert metrics["demo_ner"] == pytest.approx(results["demo_ner"]["dev"])
    blocks = (tmp_path / "out" / "demo_ner.dev.conll").read_text().strip().split("\n\n")
    dev = read_split(tasks["demo_ner"], "dev", demo_dir)
    assert len(blocks) == len(dev)
    assert [line.split(" ")[0] for line in blocks[0].splitlines()] == dev.text_a[0]
    assert {line.split(" ")[1] for b in blocks for line in b.splitlines()} <= set(labels)
