"""The registry of task types: the YAML ``type`` field names one of these."""

from mtdnn_tf.registry import TASK_TYPES

register_task_type = TASK_TYPES.register  # class decorator: YAML ``type: <cls.name>``
task_type_names = TASK_TYPES.names
get_task_type = TASK_TYPES.get
