"""Shared fixtures: tiny models and the real data paths."""

import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parents[1]
GLUE_DIR = pathlib.Path(os.environ.get("MTDNN_GLUE_DIR", REPO.parent / "shared" / "glue"))
MINILM_DIR = pathlib.Path(
    os.environ.get("MTDNN_MINILM_DIR", REPO.parent / "shared" / "pretrained" / "all-MiniLM-L6-v2")
)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    from mtdnn_tf.data.synthetic import write_demo_suite

    path = tmp_path_factory.mktemp("demo_data")
    write_demo_suite(path, train_size=400, dev_size=200)
    return path


@pytest.fixture(scope="session")
def demo_tokenizer(demo_dir):
    from mtdnn_tf.models.backbone import load_tokenizer

    return load_tokenizer(vocab_file=str(demo_dir / "vocab.txt"))


@pytest.fixture(scope="session")
def demo_tasks():
    from mtdnn_tf.tasks import load_tasks

    return load_tasks(["demo_sentiment", "demo_pair", "demo_similarity"])


def tiny_backbone(vocabulary_size, seed=0):
    import keras

    from mtdnn_tf.models.backbone import load_backbone

    keras.utils.set_random_seed(seed)
    return load_backbone(
        random_size="num_layers=1,hidden_dim=32,num_heads=2,intermediate_dim=64",
        vocabulary_size=vocabulary_size,
        max_sequence_length=64,
    )
