"""Task definitions loaded from YAML."""

from mtdnn_tf.tasks.task_config import (
    BUILTIN_TASK_DIR,
    FileSource,
    FileSplit,
    HeadConfig,
    TaskConfig,
    TfdsSource,
    available_tasks,
    find_task_file,
    load_task_file,
    load_tasks,
    task_search_path,
    with_head_kind,
)

__all__ = [
    "BUILTIN_TASK_DIR", "FileSource", "FileSplit", "HeadConfig", "TaskConfig", "TfdsSource",
    "available_tasks", "find_task_file", "load_task_file", "load_tasks", "task_search_path", "with_head_kind",
]
