import numpy as np
import pytest

from conftest import MINILM_DIR
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


def test_local_hugging_face_encoder_loads():
    """The real MiniLM checkpoint in Hugging Face format, through keras-hub's from_preset."""
    backbone = load_backbone(str(MINILM_DIR))
    tokenizer = load_tokenizer(str(MINILM_DIR))
    assert backbone.num_layers == 6 and backbone.hidden_dim == 384
    assert tokenizer.vocabulary_size() == 30522
    assert np.asarray(tokenizer("The cat")).tolist() == [1996, 4937]
