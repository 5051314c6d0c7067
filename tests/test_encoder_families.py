"""Every keras-hub encoder family as the shared encoder: packing by the family's own rules, all four task
types trained on it and served from a raw-text SavedModel, and one-line refusals where a family lacks what
a setting needs."""

import math

import numpy as np
import pytest
from conftest import demo_data, demo_suite
from encoder_families import backbone_of, tokenizer_of
from test_serving import SERVING_INPUTS

from mtdnn_tf.data.packing import TextPacker
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.models.encoders import FAMILIES, backbone_inputs, family_name, has_pooler
from mtdnn_tf.models.mtdnn_model import build_mtdnn_model
from mtdnn_tf.tasks import load_tasks

ALL_TYPES = ["demo_sentiment", "demo_pair", "demo_similarity", "demo_ranking"]


@pytest.fixture(scope="module")
def family_dir(tmp_path_factory):
    """A small demo suite: seven families each train, evaluate and export on it."""
    return demo_suite(tmp_path_factory, "family_demo", 64, 16)


@pytest.fixture(scope="module")
def tokenizers(family_dir):
    return {family: tokenizer_of(family, family_dir) for family in FAMILIES}


def test_each_family_packs_pairs_with_its_own_special_tokens(tokenizers):
    for family, tokenizer in tokenizers.items():
        features = TextPacker(tokenizer, 24).pack(["good film"], ["bad film"])
        ids, segments = features["token_ids"][0], features["segment_ids"][0]
        real = features["padding_mask"][0].astype(bool)
        start, end = tokenizer.start_token_id, tokenizer.end_token_id
        assert ids[0] == start and ids[real][-1] == end, family
        # RoBERTa and XLM-R separate the pair with two end tokens, the others with one.
        doubled = family in ("roberta", "xlm_roberta")
        assert (ids[real] == end).sum() == (3 if doubled else 2), (family, ids)
        assert set(segments[real]) == {0, 1} and (segments[~real] == 0).all(), family  # the SAN head's masks
        assert (ids[~real] == tokenizer.pad_token_id).all(), family


def test_the_written_tokenizer_files_say_how_to_pack_each_family(tokenizers, tmp_path):
    import json

    from mtdnn_tf.serving.tokenizer_files import write_tokenizer_files

    for family, tokenizer in tokenizers.items():
        directory = tmp_path / family
        directory.mkdir()
        packing = write_tokenizer_files(tokenizer, 24, directory)
        settings = json.loads((directory / "tokenizer.json").read_text())
        assert settings["packing"] == packing and settings["max_seq_length"] == 24 and packing["family"] == family
        assert len(list(directory.iterdir())) >= 2, family  # the tokenizer's own files beside it
        # A client following the description gets the packer's ids and segments.
        ids = lambda tokens: [tokenizer.token_to_id(t) for t in tokens]  # noqa: E731
        a, b = (list(np.asarray(tokenizer(text))) for text in ("good film", "bad film"))
        first = ids(packing["start"]) + a + ids(packing["separator"])
        expected = first + b + ids(packing["end"])
        features = TextPacker(tokenizer, 24).pack(["good film"], ["bad film"])
        real = features["padding_mask"][0].astype(bool)
        assert features["token_ids"][0][real].tolist() == expected, family
        assert features["segment_ids"][0][real].tolist() == [0] * len(first) + [1] * (len(expected) - len(first))
        assert packing["pad_id"] == tokenizer.pad_token_id
        assert ("leading space" in packing["words"]) == (family == "roberta"), family  # byte-level BPE only


@pytest.mark.slow
def test_the_family_is_read_from_the_backbone_and_tokenizer(tokenizers):
    for family, tokenizer in tokenizers.items():
        backbone = backbone_of(family, tokenizer.vocabulary_size())
        assert family_name(tokenizer) == family_name(backbone) == family
        takes_segments = "segment_ids" in backbone_inputs(backbone)
        assert takes_segments == (family in ("albert", "bert", "electra")), family
        assert has_pooler(backbone) == (family in ("albert", "bert", "electra")), family


def test_a_family_without_a_pooler_refuses_pooled_head_input(tokenizers, demo_tasks):
    backbone = backbone_of("distil_bert", tokenizers["distil_bert"].vocabulary_size())
    with pytest.raises(UserInputError, match=r"^--head_input=pooled: the distil_bert encoder has no pooler"):
        build_mtdnn_model(backbone, demo_tasks, "pooled")


def test_smart_refuses_a_family_it_cannot_split_with_one_line(tokenizers, demo_tasks):
    from mtdnn_tf.training.smart import EmbeddingPath

    model = build_mtdnn_model(backbone_of("roberta", tokenizers["roberta"].vocabulary_size()), demo_tasks, "mean")
    with pytest.raises(UserInputError, match=r"^--smart: .* BERT encoders only; this run's encoder is roberta$"):
        EmbeddingPath(model)


SERVE_ALL = SERVING_INPUTS + """
out = {{}}
for family, path in json.loads(sys.argv[1]).items():
    model = tf.saved_model.load(path)
    out[family] = {{name: {{k: v.numpy().tolist() for k, v in model.signatures[name](**x).items()}}
                   for name, x in inputs.items()}}
for family, export in json.loads(sys.argv[2]).items():
    model = tf.saved_model.load(export["path"])
    out[family + ", token ids"] = {{
        name: {{k: v.numpy().tolist() for k, v in model.signatures[name](
            **{{f: tf.constant(x, tf.int32) for f, x in request["features"].items()}}).items()}}
        for name, request in export["requests"].items()}}
out["mtdnn_tf imported"] = any(m.startswith("mtdnn_tf") for m in sys.modules)
print(json.dumps(out, default=lambda b: b.decode()))
"""


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_every_task_type_trains_exports_and_serves_on_the_family(family, tokenizers, family_dir, tmp_path):
    """An epoch of all four task types, the run saved, exported as raw-text and token-id SavedModels; a fresh
    process (without mtdnn_tf) serves both, equal to the Keras model. TFLite: one task type per family (the
    four types rotate over the seven families), equal too. One test per family, so that test workers share
    them out."""
    import json
    import subprocess
    import sys

    from test_serving import (
        CANDIDATES,
        PAIRS,
        QUERY,
        _in_memory,
        assert_token_id_outputs_equal,
        token_id_requests,
    )

    from mtdnn_tf.run_directory import load_trained_model, save_run
    from mtdnn_tf.serving.saved_model import export_saved_model
    from mtdnn_tf.serving.tflite import TFLiteRunner, convert_task
    from mtdnn_tf.training.assembly import make_trainer
    from mtdnn_tf.training.train_config import TrainConfig

    tasks = load_tasks(ALL_TYPES)
    tokenizer = tokenizers[family]
    config = TrainConfig(epochs=1, batch_size=16, learning_rate=2e-3, seed=0, verbose=0)
    data = demo_data(tasks, family_dir, tokenizer)
    run_dir = tmp_path / family
    trainer = make_trainer(lambda: backbone_of(family, tokenizer.vocabulary_size()), tasks, data.train,
                           data.eval, config, str(run_dir), head_input="mean")
    before = [v.numpy().copy() for v in trainer.model.trainable_variables]
    results = trainer.train()
    assert set(results) == set(ALL_TYPES)
    assert all(math.isfinite(v) for by_split in results.values() for m in by_split.values() for v in m.values())
    moved = [not np.array_equal(a, b.numpy()) for a, b in zip(before, trainer.model.trainable_variables)]
    assert sum(moved) > len(moved) // 2  # the encoder and every head were trained
    save_run(trainer.model, tokenizer, tasks, {"tasks": ALL_TYPES, "max_seq_length": 24, "head_input": "mean"},
             run_dir)
    trained = load_trained_model(run_dir)
    assert family_name(trained.tokenizer) == family
    export = str(tmp_path / "export" / family / "1")
    export_saved_model(trained, export, default_task="demo_pair")
    id_path = tmp_path / "ids" / family / "1"
    export_saved_model(trained, id_path, inputs="token_ids")
    id_export = {"path": str(id_path), "requests": token_id_requests(trained)}
    expected = {name: _in_memory(trained, name) for name in ALL_TYPES}

    name = ALL_TYPES[FAMILIES.index(family) % len(ALL_TYPES)]
    (tmp_path / f"{family}.tflite").write_bytes(convert_task(trained, name, 24))
    request = {k: np.asarray(v, np.int32) for k, v in token_id_requests(trained)[name]["features"].items()}
    if tasks[name].type == "ranking":  # TFLite scores (query, candidate) pairs: one row each
        request = {k: v[0] for k, v in request.items()}
    got = TFLiteRunner(tmp_path / f"{family}.tflite")(request)
    want = expected[name][{"classification": "probabilities", "ranking": "scores"}.get(tasks[name].type, "score")]
    np.testing.assert_allclose(got.reshape(-1)[:want.size], want.reshape(-1), atol=1e-4, err_msg=f"{name} TFLite")

    script = SERVE_ALL.format(pairs=list(PAIRS), query=QUERY, candidates=CANDIDATES)
    result = subprocess.run([sys.executable, "-c", script, json.dumps({family: export}),
                             json.dumps({family: id_export})], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served.pop("mtdnn_tf imported") is False
    assert_token_id_outputs_equal(served.pop(f"{family}, token ids"), trained)
    for name, outputs in expected.items():
        for key, value in outputs.items():
            got = served[family][name][key]
            if value.dtype.kind in "fi":
                np.testing.assert_allclose(np.asarray(got), value, atol=1e-5, err_msg=f"{name} {key}")
            else:
                assert got == [v.decode() for v in value], name


@pytest.mark.slow
def test_init_from_takes_a_run_of_the_same_family_and_refuses_another(tokenizers, demo_tasks):
    from mtdnn_tf.models.init_from import check_source_fits
    from mtdnn_tf.run_directory import TrainedModel

    def source(family):
        model = build_mtdnn_model(backbone_of(family, tokenizers[family].vocabulary_size()), demo_tasks, "mean")
        return TrainedModel(model_dir=f"runs/{family}", model=model, tokenizer=tokenizers[family],
                            tasks=demo_tasks, settings={"head_input": "mean"})

    roberta = source("roberta")
    check_source_fits(roberta, "mean", 24, tokenizers["roberta"])  # same family, vocabulary and settings
    with pytest.raises(UserInputError, match=r"^--init_from: runs/roberta was trained with a roberta encoder, "
                                             r"--preset/--vocab_file is deberta_v3$"):
        check_source_fits(roberta, "mean", 24, tokenizers["deberta_v3"])
    # BERT and ELECTRA share the WordPiece vocabulary here: still two families.
    with pytest.raises(UserInputError, match=r"trained with a bert encoder, --preset/--vocab_file is electra$"):
        check_source_fits(source("bert"), "mean", 24, tokenizers["electra"])


def test_a_byte_pair_vocabulary_is_identified_by_its_ids_and_merges(tokenizers):
    import keras_hub

    from mtdnn_tf.models.backbone import tokenizer_identity

    roberta = tokenizers["roberta"]
    same = keras_hub.models.RobertaTokenizer(vocabulary=dict(roberta.vocabulary), merges=list(roberta.merges))
    assert tokenizer_identity(same) == tokenizer_identity(roberta)
    swapped = dict(roberta.vocabulary)
    first, second = [token for token in swapped if token not in ("<s>", "<pad>", "</s>", "<mask>", "<unk>")][:2]
    swapped[first], swapped[second] = swapped[second], swapped[first]  # the same tokens, other ids
    other = keras_hub.models.RobertaTokenizer(vocabulary=swapped, merges=list(roberta.merges))
    assert tokenizer_identity(other)["assets"] != tokenizer_identity(roberta)["assets"]


ACCENTED, PLAIN = "Café Zürich", "cafe zurich"  # and the same accents decomposed (NFD), below
DECOMPOSED = "Cafe\u0301 Zu\u0308rich"


def _normalisation_vocabulary():
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cafe", "zurich", "café", "zürich", "Café", "Zürich"]


def _hugging_face_wordpiece_dir(path, model_type):
    import json

    path.mkdir()
    (path / "vocab.txt").write_text("\n".join(_normalisation_vocabulary()) + "\n", encoding="utf-8")
    (path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    (path / "config.json").write_text(json.dumps({"model_type": model_type}))
    return path


def _ids(tokenizer, text):
    return np.asarray(tokenizer(text)).tolist()


@pytest.mark.parametrize("family", ["bert", "distil_bert"])
def test_an_uncased_hugging_face_wordpiece_directory_strips_accents_in_every_family(family, tmp_path):
    """Hugging Face's BERT-style tokenizers strip accents when lowercasing (strip_accents: null); keras-hub's
    converters read only do_lower_case, for DistilBERT as for BERT."""
    from mtdnn_tf.models.backbone import load_tokenizer

    tokenizer = load_tokenizer(str(_hugging_face_wordpiece_dir(tmp_path / family, family.replace("_", ""))))
    assert family_name(tokenizer) == family
    assert _ids(tokenizer, ACCENTED) == _ids(tokenizer, PLAIN) == _ids(tokenizer, DECOMPOSED) == [5, 6]


def test_an_uncased_keras_preset_keeps_its_normalisation(tmp_path):
    """A keras-hub preset (ELECTRA here: no Hugging Face converter in keras-hub) keeps the settings it was
    saved with: lowercase and strip accents."""
    import keras_hub

    from mtdnn_tf.models.backbone import load_tokenizer

    backbone_of("electra", len(_normalisation_vocabulary())).save_to_preset(str(tmp_path))
    keras_hub.models.ElectraTokenizer(vocabulary=_normalisation_vocabulary(), lowercase=True,
                                      strip_accents=True).save_to_preset(str(tmp_path))
    tokenizer = load_tokenizer(str(tmp_path))
    assert family_name(tokenizer) == "electra"
    assert _ids(tokenizer, ACCENTED) == _ids(tokenizer, PLAIN) == [5, 6]


@pytest.mark.parametrize("family", ["albert", "deberta_v3", "xlm_roberta"])
def test_sentencepiece_families_normalise_as_their_model_says(family, family_dir):
    """A SentencePiece model's own normaliser (NFKC by default) decides: composed and decomposed accents
    are one text; case and accents are kept (these families are cased)."""
    tokenizer = tokenizer_of(family, family_dir, texts=[ACCENTED, PLAIN] * 8)
    unknown = tokenizer.token_to_id("[UNK]" if family == "deberta_v3" else "<unk>")
    accented = _ids(tokenizer, ACCENTED)
    assert unknown not in accented and accented == _ids(tokenizer, DECOMPOSED)
    assert accented != _ids(tokenizer, PLAIN) and unknown not in _ids(tokenizer, PLAIN)


def test_byte_pair_families_keep_every_byte(family_dir):
    """RoBERTa's byte-level BPE normalises nothing: each spelling has its own ids and decodes to itself."""
    tokenizer = tokenizer_of("roberta", family_dir, texts=[ACCENTED, DECOMPOSED, PLAIN])
    spellings = [_ids(tokenizer, text) for text in (ACCENTED, DECOMPOSED, PLAIN)]
    assert len({tuple(ids) for ids in spellings}) == 3
    for text, ids in zip((ACCENTED, DECOMPOSED, PLAIN), spellings):
        assert tokenizer.detokenize(ids) == text


def test_an_uncased_hugging_face_albert_directory_says_keras_hub_keeps_case(tokenizers, tmp_path, capsys):
    import json

    from mtdnn_tf.models.backbone import load_tokenizer

    (tmp_path / "spiece.model").write_bytes(tokenizers["albert"].proto)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({}))  # do_lower_case defaults to true
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "albert"}))
    tokenizer = load_tokenizer(str(tmp_path))
    assert family_name(tokenizer) == "albert"
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith(f"warning: {tmp_path / 'tokenizer_config.json'}: "
                                                       "do_lower_case is not applied")
