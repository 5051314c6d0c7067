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
# Tests of the real files carry the `data` marker and skip, saying why, where the files are absent
# (CI has them): `pytest -m "not data"` runs without ../shared.
def _needs(path, what, variable):
    skip = pytest.mark.skipif(not path.is_file(), reason=f"no {what} at {path.parent} (set {variable})")
    return lambda test: pytest.mark.data(skip(test))


needs_glue = _needs(GLUE_DIR / "README.md", "GLUE files", "MTDNN_GLUE_DIR")
needs_minilm = _needs(MINILM_DIR / "config.json", "MiniLM encoder", "MTDNN_MINILM_DIR")


def demo_suite(tmp_path_factory, name, train_size, dev_size):
    """A new folder holding the synthetic demo suite of these sizes."""
    from mtdnn_tf.data.synthetic import write_demo_suite

    path = tmp_path_factory.mktemp(name)
    write_demo_suite(path, train_size=train_size, dev_size=dev_size)
    return path


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    return demo_suite(tmp_path_factory, "demo_data", 400, 200)


@pytest.fixture(scope="session")
def demo_tokenizer(demo_dir):
    from mtdnn_tf.models.backbone import load_tokenizer

    return load_tokenizer(vocab_file=str(demo_dir / "vocab.txt"))


@pytest.fixture(scope="session")
def demo_tasks():
    from mtdnn_tf.tasks import load_tasks

    return load_tasks(["demo_sentiment", "demo_pair", "demo_similarity"])


TINY = "num_layers=1,hidden_dim=32,num_heads=2,intermediate_dim=64"


def tiny_backbone(vocabulary_size, seed=0, **kwargs):
    """A one-layer random BERT (``kwargs`` go to ``load_backbone``: dtype, dropout ...)."""
    import keras

    from mtdnn_tf.models.backbone import load_backbone

    keras.utils.set_random_seed(seed)
    return load_backbone(random_size=TINY, vocabulary_size=vocabulary_size, max_sequence_length=64, **kwargs)


def demo_data(tasks, demo_dir, tokenizer, length=24):
    """The tasks' demo splits, tokenised (``PackedData``: .train, .eval)."""
    from mtdnn_tf.data.loading import DataSource, load_packed_data
    from mtdnn_tf.data.packing import TextPacker

    return load_packed_data(tasks, TextPacker(tokenizer, length), DataSource(str(demo_dir)), verbose=False)


def make_trainer(tasks, demo_dir, tokenizer, model_dir, epochs, seed=0, learning_rate=2e-3, batch_size=16,
                 **config):
    """A MultiTaskTrainer on the demo files with a one-layer random backbone (``config``: more TrainConfig)."""
    from mtdnn_tf.training.assembly import make_trainer as assemble
    from mtdnn_tf.training.train_config import TrainConfig

    data = demo_data(tasks, demo_dir, tokenizer)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed, verbose=0,
                         **config)
    return assemble(lambda: tiny_backbone(tokenizer.vocabulary_size(), seed), tasks, data.train, data.eval, config,
                    model_dir, head_input="mean")


# The bad-input suite's folder (tests/cross_cutting/bad_inputs): its tiny tasks and vocabulary serve other tests too.
BAD_INPUTS = REPO / "tests" / "cross_cutting" / "bad_inputs"
BAD_INPUT_FLAGS = [
    f"--task_dir={BAD_INPUTS / 'tasks'}",
    f"--vocab_file={BAD_INPUTS / 'vocab.txt'}",
    "--random_backbone=num_layers=1,hidden_dim=16,num_heads=2,intermediate_dim=32,max_sequence_length=64",
    "--max_seq_length=32", "--epochs=1", "--batch_size=2", "--verbose=0",
]


def run_train_command(argv, capsys):
    """What `python -m mtdnn_tf.train <argv>` prints on stderr, and its exit status (run in this process)."""
    from absl import flags

    import mtdnn_tf.train as train_command

    FLAGS = flags.FLAGS
    FLAGS.unparse_flags()
    try:
        FLAGS(["mtdnn_tf.train", *argv])
    except flags.Error as e:  # absl's app.run prints this and exits 1
        return f"FATAL Flags parsing error: {e}", 1
    try:
        code = train_command.main(["mtdnn_tf.train"])
    except SystemExit as e:
        code = e.code
    finally:
        FLAGS.unparse_flags()
    return capsys.readouterr().err, code


def pytest_collection_modifyitems(config, items):
    """The tests marked slow first (in their own order, then the rest in theirs): pytest-xdist hands tests
    out in this order, so the minutes-long ones start at once and the short ones fill the workers' ends."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
