"""Task definitions: the dataclasses behind the task YAML files and their loader.

The built-in tasks (GLUE, SNLI, SciTail, the demo suite) ship inside the
package, in ``mtdnn_tf/tasks/builtin/`` (``configs/tasks`` in a checkout links
there). A user's ``task_dir`` is searched first, so its files add tasks or
replace built-in ones of the same name.

A task file declares what a task is (input, type, labels, metrics, head, loss
weight) and where its data lives (delimited files under a data directory, or a
tensorflow-datasets name). Adding a task needs only a new YAML file.

Example:

```python
from mtdnn_tf.tasks import load_tasks
tasks = load_tasks(["rte", "stsb"])
tasks["rte"].labels  # ('entailment', 'not_entailment')
```
"""

import dataclasses
import pathlib

import yaml

from mtdnn_tf.errors import (
    UNIT_INTERVAL,
    SettingError,
    UserInputError,
    check_settings,
    where,
)
from mtdnn_tf.registry import HEAD_KINDS, TASK_TYPES
from mtdnn_tf.settings.smart_config import SmartConfig
from mtdnn_tf.tasks.schema import field, parse

INPUTS = ("single", "pair")

BUILTIN_TASK_DIR = pathlib.Path(__file__).resolve().parent / "builtin"


@dataclasses.dataclass(frozen=True, kw_only=True)
class HeadConfig:
    """The task's output layer. ``kind``: 'linear' or 'san' (stochastic answer network)."""

    kind: str = field("str", "linear", choices=HEAD_KINDS.names)
    dropout: float = field("float", 0.1)
    san_steps: int = field("int", 5, doc="SAN reasoning steps K")
    san_dropout: float = field("float", 0.1, doc="SAN stochastic prediction dropout rate")
    gamma: float = field("float", 1.0, doc="ranking: softmax temperature of the listwise loss")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SmartOverrides:
    """This task's SMART settings where they differ from the run's (``--smart_*`` flags); unset: the run's."""

    enabled: bool = field("bool", None, doc="regularise this task (or not) whatever the run says")
    alpha: float = field("float", None)
    steps: int = field("int", None)
    step_size: float = field("float", None)
    noise_var: float = field("float", None)
    epsilon: float = field("float", None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class FileSplit:
    """One split file. Columns are header names (with ``header: true``) or 0-based indices."""

    file: str = field("str")
    header: bool = field("bool", True)
    text_a: object = field("key")
    text_b: object = field("key", None)
    label: object = field("key", None)
    id: object = field("key", None)
    group: object = field("key", None, doc="ranking: the column that groups candidates")
    num_columns: int = field("int", None, doc="expected column count for files without header")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FileSource:
    """Files under ``<data_dir>/<dir>``: 'tsv' (GLUE, SciTail), 'jsonl' (SNLI; sequence labelling's
    ``{"tokens": [...], "tags": [...]}``) or 'conll' (a word a line, sentences apart: CoNLL-2003)."""

    format: str = field("str", "tsv", choices=("tsv", "jsonl", "conll"))
    dir: str = field("str")
    splits: dict = field(("map", FileSplit))
    skip_labels: tuple = field(
        "str_list", (), doc="label values the dataset documents as 'no label' (SNLI '-')"
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class TfdsSource:
    """A tensorflow-datasets dataset, e.g. ``glue/mrpc``; ``splits`` maps ours to theirs."""

    name: str = field("str")
    splits: dict = field("str_map", {})
    text_a: str = field("str")
    text_b: str = field("str", None)
    label: str = field("str", "label")
    id: str = field("str", "idx")
    labels: tuple = field(
        "str_list", None, doc="our label for each tfds class id, where tfds names them differently"
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskConfig:
    """One task. See ``configs/tasks/*.yaml`` and docs/tasks.md."""

    name: str = field("str")
    type: str = field("str", choices=TASK_TYPES.names)
    input: str = field("str", choices=INPUTS)
    labels: tuple = field("str_list", (), doc="classification label vocabulary")
    label_range: tuple = field("float_pair", None, doc="regression: allowed label range")
    metrics: tuple = field("str_list")
    head: HeadConfig = field(HeadConfig, HeadConfig())
    loss_weight: float = field("float", 1.0)
    smart: SmartOverrides = field(SmartOverrides, SmartOverrides())
    distill_weight: float = field("float", None, doc="with --teachers: this task's soft-target weight in [0, 1]")
    eval_splits: tuple = field("str_list", ("dev",))
    no_positive: str = field("str", "error", choices=("error", "skip"), doc="ranking groups without a positive")
    files: FileSource = field(FileSource, None)
    tfds: TfdsSource = field(TfdsSource, None)
    submission_files: dict = field("str_map", {}, doc="split -> GLUE submission file name")
    description: str = field("str", "")
    path: str = "<memory>"

    @property
    def task_type(self):
        """The TaskType that owns this task's loss, metrics, labels and serving (``mtdnn_tf.task_types``,
        looked up by name in the registry it fills)."""
        return TASK_TYPES.get(self.type)

    @property
    def num_outputs(self):
        return self.task_type.num_outputs(self)

    @property
    def is_pair(self):
        return self.input == "pair"


def _validate(task, path):
    def fail(name, message):
        raise UserInputError(f"{where(path, field=name)}: {message}")

    task.task_type.validate(task, fail)
    allowed = list(task.task_type.metrics)
    for metric in task.metrics:
        if metric not in allowed:
            fail("metrics", f"{metric!r} is not a {task.type} metric (choose from {allowed})")
    if not 0.0 <= task.head.dropout < 1.0:
        fail("head.dropout", f"must be in [0, 1), got {task.head.dropout}")
    if not 0.0 <= task.head.san_dropout < 1.0:
        fail("head.san_dropout", f"must be in [0, 1), got {task.head.san_dropout}")
    if task.head.san_steps < 1:
        fail("head.san_steps", f"must be at least 1, got {task.head.san_steps}")
    HEAD_KINDS.get(task.head.kind).validate(task, fail)
    try:  # the task's SMART settings, checked by SmartConfig as the run's are
        SmartConfig().for_task(task.smart)
    except SettingError as e:
        fail(f"smart.{e.setting}", e.detail)
    if task.distill_weight is not None:
        try:  # the same rule as the run's --distill_weight (TrainConfig)
            check_settings(task, [("distill_weight", *UNIT_INTERVAL)])
        except SettingError as e:
            fail(e.setting, e.detail)
    if task.loss_weight <= 0:
        fail("loss_weight", f"must be positive, got {task.loss_weight}")
    if task.files is None and task.tfds is None:
        fail("files", "a task needs a data source: 'files', 'tfds' or both")
    if task.files is not None:
        for split_name, split in task.files.splits.items():
            prefix = f"files.splits.{split_name}"
            if task.is_pair and split.text_b is None:
                fail(f"{prefix}.text_b", "a pair task needs a second text column")
            if not task.is_pair and split.text_b is not None:
                fail(f"{prefix}.text_b", "a single-sentence task has no second text column")
            if task.files.format == "conll" and split.header:
                fail(f"{prefix}.header", "CoNLL files have no header line: set header: false and give column"
                                         " indices (text_a: the word's, label: the tag's)")
            if not split.header:
                for key in ("text_a", "text_b", "label", "id", "group"):
                    value = getattr(split, key)
                    if value is not None and not isinstance(value, int):
                        fail(f"{prefix}.{key}", "a file without header takes column indices")
        for split_name in task.eval_splits:
            if split_name not in task.files.splits:
                fail("eval_splits", f"split {split_name!r} is not declared under files.splits")
    if task.tfds is not None and task.is_pair and task.tfds.text_b is None:
        fail("tfds.text_b", "a pair task needs a second text feature")


def with_head_kind(task, kind):
    """The task with another head kind (e.g. a linear baseline of a SAN task), validated."""
    if kind not in HEAD_KINDS.names():
        raise UserInputError(f"head kind {kind!r} for task {task.name!r} is not one of {list(HEAD_KINDS.names())}")
    changed = dataclasses.replace(task, head=dataclasses.replace(task.head, kind=kind))
    _validate(changed, task.path)
    return changed


def load_task_file(path):
    """Reads and validates one task YAML file."""
    path = pathlib.Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UserInputError(f"{path}: cannot read task file ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise UserInputError(f"{where(path, line)}: invalid YAML ({getattr(e, 'problem', e)})") from None
    task = parse(TaskConfig, raw, path)
    task = dataclasses.replace(task, path=str(path))
    if task.name != path.stem:
        raise UserInputError(
            f"{where(path, field='name')}: {task.name!r} must match the file name {path.stem!r}"
        )
    _validate(task, path)
    return task


def task_search_path(task_dir=None):
    """The directories searched for ``<name>.yaml``, first match first: ``task_dir``, then the built-ins."""
    if task_dir is None:
        return [BUILTIN_TASK_DIR]
    task_dir = pathlib.Path(task_dir)
    if not task_dir.is_dir():
        raise UserInputError(f"--task_dir: {task_dir}: task directory does not exist")
    return [task_dir, BUILTIN_TASK_DIR]


def available_tasks(task_dir=None):
    """Names of the tasks in ``task_dir`` and the built-in tasks."""
    return sorted({p.stem for directory in task_search_path(task_dir) for p in directory.glob("*.yaml")})


def find_task_file(name, task_dir=None):
    """The YAML file of task ``name``: from ``task_dir`` if it has one, else the built-in one."""
    search = task_search_path(task_dir)
    for directory in search:
        path = directory / f"{name}.yaml"
        if path.is_file():
            return path
    where_looked = f"{search[0]} or the built-in tasks" if task_dir is not None else "the built-in tasks"
    raise UserInputError(f"unknown task {name!r}: no {name}.yaml in {where_looked} "
                         f"(known: {', '.join(available_tasks(task_dir))})")


def load_tasks(names, task_dir=None):
    """Loads tasks by name, in the given order, from ``task_dir`` or the built-in tasks.

    Raises:
        UserInputError: for an unknown or repeated name, or an invalid task file.
    """
    task_search_path(task_dir)  # a missing task_dir is an error even before any name is looked up
    if not names:
        raise UserInputError("no tasks given")
    tasks = {}
    for name in names:
        if name in tasks:
            raise UserInputError(f"task {name!r} is listed twice")
        tasks[name] = load_task_file(find_task_file(name, task_dir))
    return tasks
