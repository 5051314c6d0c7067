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
# Tests of the real files skip, saying why, where they are absent (CI has them).
needs_glue = pytest.mark.skipif(not (GLUE_DIR / "README.md").is_file(),
                                reason=f"no GLUE files at {GLUE_DIR} (set MTDNN_GLUE_DIR)")
needs_minilm = pytest.mark.skipif(not (MINILM_DIR / "config.json").is_file(),
                                  reason=f"no MiniLM encoder at {MINILM_DIR} (set MTDNN_MINILM_DIR)")


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


def make_trainer(tasks, demo_dir, tokenizer, model_dir, epochs, seed=0, learning_rate=2e-3, batch_size=16):
    """A MultiTaskTrainer on the demo files with a one-layer random backbone."""
    from mtdnn_tf.data.packing import TextPacker
    from mtdnn_tf.data.pipeline import pack_split
    from mtdnn_tf.data.readers import read_split
    from mtdnn_tf.models.mtdnn_model import build_mtdnn_model
    from mtdnn_tf.training.strategies import make_strategy
    from mtdnn_tf.training.trainer import MultiTaskTrainer, TrainConfig, make_optimizer, total_train_steps

    packer = TextPacker(tokenizer, 24)
    train = {n: pack_split(packer, read_split(t, "train", demo_dir), task=t) for n, t in tasks.items()}
    dev = {n: {"dev": pack_split(packer, read_split(t, "dev", demo_dir), task=t)} for n, t in tasks.items()}
    config = TrainConfig(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed, verbose=0)
    strategy = make_strategy("default")
    with strategy.scope():
        model = build_mtdnn_model(tiny_backbone(tokenizer.vocabulary_size(), seed), tasks, "mean")
        optimizer = make_optimizer(config, total_train_steps(train, batch_size, epochs))
        optimizer.build(model.trainable_variables)
    return MultiTaskTrainer(model, optimizer, tasks, train, dev, config, model_dir, strategy)
