"""Task definitions loaded from YAML."""

from mtdnn_tf.tasks.task_config import (
    DEFAULT_TASK_DIR,
    FileSource,
    FileSplit,
    HeadConfig,
    TaskConfig,
    TfdsSource,
    available_tasks,
    load_task_file,
    load_tasks,
    with_head_kind,
)

__all__ = [
    "DEFAULT_TASK_DIR", "FileSource", "FileSplit", "HeadConfig", "TaskConfig", "TfdsSource",
    "available_tasks", "load_task_file", "load_tasks", "with_head_kind",
]
