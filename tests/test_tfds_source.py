import numpy as np
import pytest
import tensorflow_datasets as tfds

from mtdnn_tf.data.tfds_source import read_tfds_split
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.tasks import load_tasks


def test_glue_tasks_read_from_tfds_offline(tmp_path):
    tasks = load_tasks(["mrpc", "stsb", "mnli"])
    with tfds.testing.mock_data(num_examples=8):
        mrpc = read_tfds_split(tasks["mrpc"], "train", data_dir=str(tmp_path))
        stsb = read_tfds_split(tasks["stsb"], "dev", data_dir=str(tmp_path))
        mnli = read_tfds_split(tasks["mnli"], "dev_mismatched", data_dir=str(tmp_path))
    assert len(mrpc) == 8 and len(mrpc.text_b) == 8 and isinstance(mrpc.text_a[0], str)
    assert mrpc.labels.dtype == np.int32 and set(mrpc.labels) <= {0, 1}
    assert stsb.labels.dtype == np.float32
    assert set(mnli.labels) <= {0, 1, 2}
    assert mnli.source == "tfds:glue/mnli/validation_mismatched"


def _rows(labels, dtype):
    """An as_dataset for tfds' mock: one pair per label, in order."""
    import tensorflow as tf  # noqa: PLC0415

    def as_dataset(self, *args, **kwargs):
        return tf.data.Dataset.from_tensor_slices({
            "sentence1": [f"first {i}" for i in range(len(labels))],
            "sentence2": [f"second {i}" for i in range(len(labels))],
            "label": np.asarray(labels, dtype), "idx": np.arange(len(labels), dtype=np.int32)})
    return as_dataset


def test_tfds_scores_go_through_the_regression_type_which_knows_its_no_label(tmp_path):
    stsb = load_tasks(["stsb"])["stsb"]
    with tfds.testing.mock_data(as_dataset_fn=_rows([2.5, -1.0, 4.0], np.float32)):
        dev = read_tfds_split(stsb, "dev", data_dir=str(tmp_path))
    assert list(dev.labels) == [2.5, 4.0] and dev.text_a == ["first 0", "first 2"]
    assert sum(dev.skipped.values()) == 1  # counted, not dropped silently
    # TFDS's STS-B test split marks every score -1: read without labels, not scored against -1.
    with tfds.testing.mock_data(as_dataset_fn=_rows([-1.0, -1.0], np.float32)):
        test = read_tfds_split(stsb, "test", data_dir=str(tmp_path))
    assert test.labels is None and len(test) == 2
    # A score outside the YAML's label_range is refused with the row, as from a file.
    with tfds.testing.mock_data(as_dataset_fn=_rows([2.5, 7.0], np.float32)):
        with pytest.raises(UserInputError, match=r"tfds:glue/stsb/validation, row 2: label 7 is outside "
                                                 r"label_range \[0, 5\] \(task file .*stsb.yaml\)"):
            read_tfds_split(stsb, "dev", data_dir=str(tmp_path))


def test_tfds_class_ids_skip_minus_one_and_follow_the_task_labels(tmp_path):
    mrpc = load_tasks(["mrpc"])["mrpc"]
    with tfds.testing.mock_data(as_dataset_fn=_rows([1, -1, 0], np.int64)):
        train = read_tfds_split(mrpc, "train", data_dir=str(tmp_path))
    assert len(train) == 2 and sum(train.skipped.values()) == 1
    # Class id i is the task file's tfds.labels[i], whatever index that label has in ``labels``.
    assert [mrpc.labels[i] for i in train.labels] == [mrpc.tfds.labels[1], mrpc.tfds.labels[0]]
