"""The chance level a study's adaptation curve is drawn against: the best constant guess on the target's dev set."""

from mtdnn_tf.data.readers import read_split
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.metrics import chance_level
from mtdnn_tf.tasks import load_tasks


def target_chance(config, metrics):
    """The best constant guess's score on the target's dev set, or None if it cannot be read."""
    target = load_tasks([config["target"]], config.get("task_dir"))[config["target"]]
    try:
        dev = read_split(target, "dev", config["data_dir"])
    except UserInputError:  # the report can be rewritten where the data is not
        return None
    return chance_level(target, dev.labels)[metrics[config["target"]]]
