"""Readers for task files: GLUE / SciTail TSV, SNLI JSON lines and CoNLL columns (one word a line).

Files are read as bytes and split on newlines by hand, so that every problem
(invalid UTF-8, NUL bytes, a stray byte-order mark, a wrong column count, a bad
label) is reported with its file and 1-based line number. GLUE sentences hold
quote characters, so no CSV quoting applies: a tab always separates columns.

A malformed row stops reading with :class:`UserInputError`; with
``skip_malformed=True`` it is skipped instead and counted in
``SplitExamples.skipped`` (and the caller prints the counts). Rows whose label
the dataset itself documents as missing (``skip_labels``, SNLI's "-") are
always skipped and counted.
"""

import json
import pathlib

from mtdnn_tf.data.examples import SplitExamples
from mtdnn_tf.errors import UserInputError, where

BOM = b"\xef\xbb\xbf"
MAX_LINE_BYTES = 100_000
MALFORMED = "malformed rows"


class _RowError(ValueError):
    """A problem with one row; skippable with ``skip_malformed``."""


def convert_label(task, raw):
    """The label value of a raw label (its task type's ``parse_label``); _RowError if it is not one."""
    try:
        return task.task_type.parse_label(task, raw)
    except ValueError as e:
        raise _RowError(str(e)) from None


def _lines(path):
    """Yields (line number, decoded text) for each line; raises _RowError per bad line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserInputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise UserInputError(f"{path}: is a directory, expected a file") from None
    except OSError as e:
        raise UserInputError(f"{path}: cannot read ({e.strerror})") from None
    if not data.strip():
        raise UserInputError(f"{path}: file is empty")
    lines = data.split(b"\n")
    if lines[-1] in (b"", b"\r"):
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM):]
        yield number, raw


def _decode(raw):
    # U+FEFF inside a sentence is real text (QNLI dev has some); at the start
    # of a later line it means files were concatenated.
    if raw.startswith(BOM):
        raise _RowError("byte-order mark at the start of a line after the first")
    if b"\x00" in raw:
        raise _RowError("NUL byte in line")
    if len(raw) > MAX_LINE_BYTES:
        raise _RowError(f"line is {len(raw)} bytes long (limit {MAX_LINE_BYTES})")
    if not raw.strip():
        raise _RowError("empty line")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _RowError(f"invalid UTF-8 at byte {e.start}") from None


class _Collector:
    """Accumulates the parsed rows of one split and the skip counts."""

    def __init__(self, task, spec, path, skip_malformed, skip_labels):
        self.task, self.spec, self.path = task, spec, path
        self.skip_malformed = skip_malformed
        self.skip_labels = set(skip_labels)
        self.text_a, self.text_b, self.labels, self.ids, self.groups = [], [], [], [], []
        self.skipped = {}

    def fail_or_skip(self, line, message):
        if not self.skip_malformed:
            raise UserInputError(f"{where(self.path, line)}: {message}")
        self.skipped[MALFORMED] = self.skipped.get(MALFORMED, 0) + 1

    def add(self, line, get):
        """``get(key)`` returns the value of the spec column ``key``."""
        spec = self.spec
        label = None
        if spec.label is not None:
            raw_label = get(spec.label)
            if isinstance(raw_label, str) and raw_label in self.skip_labels:
                reason = f"documented no-label rows (label {raw_label!r})"
                self.skipped[reason] = self.skipped.get(reason, 0) + 1
                return
            label = convert_label(self.task, raw_label)
        text_a = get(spec.text_a)
        text_b = get(spec.text_b) if spec.text_b is not None else None
        row_id = get(spec.id) if spec.id is not None else str(line)
        group = get(spec.group) if spec.group is not None else None
        try:
            self.task.task_type.check_row(self.task, text_a, text_b, label)
        except ValueError as e:
            raise _RowError(str(e)) from None
        self.text_a.append(text_a)
        if text_b is not None:
            self.text_b.append(text_b)
        if label is not None:
            self.labels.append(label)
        self.ids.append(str(row_id))
        if group is not None:
            self.groups.append(str(group))

    def result(self):
        if not self.text_a:
            raise UserInputError(f"{self.path}: no data rows")
        labels = None
        if self.spec.label is not None:
            labels = self.task.task_type.labels_array(self.task, self.labels)
        return SplitExamples(
            text_a=self.text_a,
            text_b=self.text_b if self.spec.text_b is not None else None,
            labels=labels,
            ids=self.ids,
            groups=self.groups if self.spec.group is not None else None,
            source=str(self.path),
            skipped=self.skipped,
        )


def _column_indices(spec, header, path):
    keys = [spec.text_a, spec.text_b, spec.label, spec.id, spec.group]
    keys = [k for k in keys if k is not None]
    if header is None:
        return {k: k for k in keys}
    indices = {}
    for key in keys:
        if isinstance(key, int):
            if not 0 <= key < len(header):
                raise UserInputError(f"{where(path, 1)}: column index {key} outside the header")
            indices[key] = key
        elif key in header:
            indices[key] = header.index(key)
        else:
            raise UserInputError(
                f"{where(path, 1)}: no column {key!r} in the header (columns: {', '.join(header)})"
            )
    return indices


def read_tsv(task, spec, path, skip_malformed=False):
    """Reads one tab-separated split file described by ``spec`` (a FileSplit)."""
    collector = _Collector(task, spec, path, skip_malformed, task.files.skip_labels)
    header = None
    expected = spec.num_columns
    for number, raw in _lines(path):
        if spec.header and header is None:
            try:
                header = _decode(raw).split("\t")
            except _RowError as e:
                raise UserInputError(f"{where(path, number)}: header: {e}") from None
            expected = len(header)
            indices = _column_indices(spec, header, path)
            continue
        if header is None and number == 1:
            indices = _column_indices(spec, None, path)
            needed = max(indices.values()) + 1
            if expected is not None and expected < needed:
                raise UserInputError(
                    f"{path}: num_columns is {expected} but column {needed - 1} is used"
                )
        try:
            fields = _decode(raw).split("\t")
            if expected is not None and len(fields) != expected:
                raise _RowError(f"expected {expected} columns, found {len(fields)}")
            if expected is None and len(fields) < needed:
                raise _RowError(f"expected at least {needed} columns, found {len(fields)}")
            collector.add(number, lambda key: fields[indices[key]])
        except _RowError as e:
            collector.fail_or_skip(number, str(e))
    if spec.header and header is not None and not collector.text_a and not collector.skipped:
        raise UserInputError(f"{path}: header only, no data rows")
    return collector.result()


def read_jsonl(task, spec, path, skip_malformed=False):
    """Reads one JSON-lines split file (SNLI 1.0 layout): one object per line."""
    collector = _Collector(task, spec, path, skip_malformed, task.files.skip_labels)

    def getter(record):
        def get(key):
            if key not in record:
                raise _RowError(f"missing field {key!r}")
            return record[key]

        return get

    for number, raw in _lines(path):
        try:
            text = _decode(raw)
            try:
                record = json.loads(text)
            except json.JSONDecodeError as e:
                raise _RowError(f"invalid JSON ({e.msg})") from None
            if not isinstance(record, dict):
                raise _RowError("expected a JSON object")
            collector.add(number, getter(record))
        except _RowError as e:
            collector.fail_or_skip(number, str(e))
    return collector.result()


def read_conll(task, spec, path, skip_malformed=False):
    """Reads one CoNLL-format split: a word a line, its columns separated by spaces or tabs (``text_a``:
    the word's column index, ``label``: the tag's), a blank line between sentences. ``-DOCSTART-``
    lines (the original CoNLL-2003 files' document marks) are skipped and counted. A row is a sentence
    (its ``id`` the line number of its first word); an error names the line of the word."""
    collector = _Collector(task, spec, path, skip_malformed, task.files.skip_labels)
    needed = max(k for k in (spec.text_a, spec.label) if k is not None) + 1
    words, tags, first, bad = [], [], None, False

    def flush():
        nonlocal words, tags, first, bad
        if words and not bad:
            values = {spec.text_a: words, spec.label: tags, "line": str(first)}
            try:
                collector.add(first, lambda key: values[key if key in values else "line"])
            except _RowError as e:
                collector.fail_or_skip(first, str(e))
        words, tags, first, bad = [], [], None, False

    for number, raw in _lines(path):
        if not raw.strip():
            flush()
            continue
        try:
            fields = _decode(raw).split()
            if len(fields) < needed:
                raise _RowError(f"expected at least {needed} columns, found {len(fields)}")
            if fields[0] == "-DOCSTART-":
                reason = "document marks (-DOCSTART-)"
                collector.skipped[reason] = collector.skipped.get(reason, 0) + 1
                continue
            if spec.label is not None and fields[spec.label] not in collector.skip_labels:
                convert_label(task, [fields[spec.label]])  # an unknown tag is this line's error
        except _RowError as e:
            collector.fail_or_skip(number, str(e))
            bad = True  # a skipped word skips its sentence: its tags would no longer line up
            continue
        first = first or number
        words.append(fields[spec.text_a])
        if spec.label is not None:
            tags.append(fields[spec.label])
    flush()
    return collector.result()


READERS = {"tsv": read_tsv, "jsonl": read_jsonl, "conll": read_conll}


def read_split(task, split, data_dir, skip_malformed=False):
    """Reads split ``split`` of ``task`` from ``<data_dir>/<task.files.dir>/<file>``.

    Returns:
        SplitExamples.

    Raises:
        UserInputError: naming the file and line of the first malformed row
            (unless ``skip_malformed``), or a missing directory or file.
    """
    path = split_file(task, split, data_dir)
    return READERS[task.files.format](task, task.files.splits[split], path, skip_malformed=skip_malformed)


def split_file(task, split, data_dir):
    """The path of ``split``'s file: ``<data_dir>/<task.files.dir>/<file>``."""
    if task.files is None:
        raise UserInputError(f"{task.path}: task {task.name!r} declares no files source")
    if split not in task.files.splits:
        raise UserInputError(
            f"{where(task.path, field='files.splits')}: task {task.name!r} has no split {split!r}"
            f" (declared: {', '.join(task.files.splits)})"
        )
    data_dir = pathlib.Path(data_dir)
    if not data_dir.is_dir():
        raise UserInputError(f"{data_dir}: data directory does not exist")
    return data_dir / task.files.dir / task.files.splits[split].file
