import numpy as np
import tensorflow_datasets as tfds

from mtdnn_tf.data.tfds_source import read_tfds_split
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
