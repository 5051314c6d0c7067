import numpy as np
import pytest
from conftest import MINILM_DIR, needs_minilm

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.models.backbone import load_backbone, load_tokenizer, parse_random_size


def test_random_sizes():
    assert parse_random_size("tiny")["hidden_dim"] == 64
    sizes = parse_random_size("num_layers=1,hidden_dim=32,num_heads=2,intermediate_dim=64")
    assert sizes == {"num_layers": 1, "hidden_dim": 32, "num_heads": 2, "intermediate_dim": 64}
    with pytest.raises(UserInputError, match="--random_backbone: cannot read 'layers=2'"):
        parse_random_size("layers=2")
    with pytest.raises(UserInputError, match="divisible"):
        parse_random_size("num_layers=1,hidden_dim=30,num_heads=4,intermediate_dim=64")


def test_tokenizer_and_preset_errors(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\nthe\n")
    with pytest.raises(UserInputError, match=r"lacks special tokens \['\[CLS\]', '\[SEP\]', '\[MASK\]'\]"):
        load_tokenizer(vocab_file=str(vocab))
    with pytest.raises(UserInputError, match="--vocab_file: .* does not exist"):
        load_tokenizer(vocab_file=str(tmp_path / "none.txt"))
    with pytest.raises(UserInputError, match="--preset: .*missing_dir is not a directory"):
        load_backbone(str(tmp_path / "missing_dir"))


@pytest.mark.slow
@needs_minilm
def test_local_hugging_face_encoder_loads():
    """The real MiniLM checkpoint in Hugging Face format, through keras-hub's from_preset."""
    backbone = load_backbone(str(MINILM_DIR))
    tokenizer = load_tokenizer(str(MINILM_DIR))
    assert backbone.num_layers == 6 and backbone.hidden_dim == 384
    assert tokenizer.vocabulary_size() == 30522
    assert np.asarray(tokenizer("The cat")).tolist() == [1996, 4937]


def _hugging_face_dir(tmp_path, **config):
    """A Hugging Face-format tokenizer directory with a small vocabulary."""
    import json

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cafe", "resume", "café", "Café", "中", "文"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    return tmp_path


def test_hugging_face_tokenizer_settings_are_followed(tmp_path):
    from mtdnn_tf.models.backbone import hugging_face_tokenizer_options

    uncased = hugging_face_tokenizer_options(_hugging_face_dir(tmp_path, do_lower_case=True, strip_accents=None))
    assert uncased == {"lowercase": True, "strip_accents": True, "split_on_cjk": True}
    cased = hugging_face_tokenizer_options(_hugging_face_dir(tmp_path, do_lower_case=False))
    assert cased == {"lowercase": False, "strip_accents": False, "split_on_cjk": True}
    explicit = hugging_face_tokenizer_options(
        _hugging_face_dir(tmp_path, do_lower_case=True, strip_accents=False, tokenize_chinese_chars=False))
    assert explicit == {"lowercase": True, "strip_accents": False, "split_on_cjk": False}


def test_uncased_directory_strips_accents_and_cased_keeps_them(tmp_path):
    uncased = load_tokenizer(str(_hugging_face_dir(tmp_path, do_lower_case=True, strip_accents=None)))
    assert np.asarray(uncased("Café résumé")).tolist() == np.asarray(uncased("cafe resume")).tolist() == [5, 6]
    cased = load_tokenizer(str(_hugging_face_dir(tmp_path, do_lower_case=False)))
    assert np.asarray(cased("Café café")).tolist() == [8, 7]  # accents and case kept
    assert np.asarray(cased("中文")).tolist() == [9, 10]  # CJK characters split


def test_vocabulary_file_is_uncased_unless_told(tmp_path):
    vocab = _hugging_face_dir(tmp_path) / "vocab.txt"
    assert np.asarray(load_tokenizer(vocab_file=str(vocab))("Café")).tolist() == [5]
    assert np.asarray(load_tokenizer(vocab_file=str(vocab), lowercase=False)("Café")).tolist() == [8]


@needs_minilm
def test_minilm_accented_text_gets_the_ids_of_its_plain_form():
    """all-MiniLM-L6-v2 says do_lower_case: true, strip_accents: null: accents go, no [UNK]."""
    tokenizer = load_tokenizer(str(MINILM_DIR))
    accented = np.asarray(tokenizer("Café résumé naïve Zürich")).tolist()
    assert accented == np.asarray(tokenizer("cafe resume naive zurich")).tolist()
    assert tokenizer.token_to_id("[UNK]") not in accented
