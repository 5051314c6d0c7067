from collections import Counter

from mtdnn_tf.data.readers import read_split
from mtdnn_tf.data.synthetic import TASKS, vocabulary, write_demo_suite
from mtdnn_tf.tasks import load_tasks


def test_demo_suite_is_readable_balanced_and_stable(tmp_path):
    vocab = write_demo_suite(tmp_path, train_size=200, dev_size=40)
    assert vocab.read_text().split("\n")[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tasks = load_tasks(list(TASKS))
    words = set(vocabulary())
    for name, task in tasks.items():
        train = read_split(task, "train", tmp_path)
        assert len(train) == 200
        assert all(set(text.split()) <= words for text in train.text_a)
        if task.type == "classification":
            counts = Counter(train.labels.tolist())
            assert min(counts.values()) > 0.3 * len(train)
    before = (tmp_path / "demo_pair" / "train.tsv").read_text()
    write_demo_suite(tmp_path, train_size=50, seed=9)  # existing files are kept
    assert (tmp_path / "demo_pair" / "train.tsv").read_text() == before
