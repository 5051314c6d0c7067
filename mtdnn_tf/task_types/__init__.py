"""Task types: what a classification, regression, ranking or sequence labelling task does differently.

Each type is one class (see ``base.TaskType``) that owns its label parsing,
batching unit, loss, metrics, serving inputs and outputs, TFLite outputs and
prediction strings; the YAML ``type`` field looks it up in a registry. The
rest of the library asks the task's type (``task.task_type``) instead of
branching on the type's name.

Example:

```python
from mtdnn_tf.tasks import load_tasks
task = load_tasks(["stsb"])["stsb"]
task.task_type.parse_label(task, "3.8")  # 3.8
```
"""

from mtdnn_tf.task_types.registry import get_task_type, register_task_type, task_type_names
from mtdnn_tf.task_types.base import TaskType  # noqa: I001 - the built-in types register themselves on import
from mtdnn_tf.task_types import classification as _classification  # noqa: F401
from mtdnn_tf.task_types import regression as _regression  # noqa: F401
from mtdnn_tf.task_types import ranking as _ranking  # noqa: F401
from mtdnn_tf.task_types import sequence_labeling as _sequence_labeling  # noqa: F401

__all__ = ["TaskType", "get_task_type", "register_task_type", "task_type_names"]
