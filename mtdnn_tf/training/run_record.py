"""The record of a training run: ``metrics.json`` and the TensorBoard logs."""

import json
import pathlib

import tensorflow as tf

from mtdnn_tf.atomic_files import write_text_atomically

METRICS_FILE = "metrics.json"


class RunRecord:
    """Per-epoch metrics, skipped batches and the run's facts, kept in ``<model_dir>/metrics.json``.

    ``metrics.json`` holds ``extra`` (e.g. skipped rows, settings), ``epochs``
    (one entry per finished epoch: seconds, metrics or None if not evaluated, the
    steps each task got and, for SMART tasks, the mean regulariser of the epoch's
    steps that this process ran),
    ``final`` (the last evaluation) and the batches skipped for a non-finite
    loss. Only the chief (``write``) writes files.

    Args:
        model_dir: the run directory.
        extra: dict merged into metrics.json.
        write: False on non-chief workers: nothing is written.
        tensorboard_every: write training losses (and SMART's regulariser, averaged since the
            last write) every N optimizer steps (0: never).
    """

    def __init__(self, model_dir, extra=None, write=True, tensorboard_every=10):
        self.path = pathlib.Path(model_dir) / METRICS_FILE
        self.extra = extra or {}
        self.write = write
        self.tensorboard_every = tensorboard_every
        self.history = []
        self.skipped = []  # batches skipped for a non-finite loss or gradient (this process)
        self._tensorboard_dir = pathlib.Path(model_dir) / "tensorboard"
        self._writer = None
        self._regularizer_epoch = {}  # task: [sum, steps] of SMART's regulariser this epoch
        self._regularizer_since_write = {}  # the same since the last TensorBoard write

    @property
    def writer(self):
        """The TensorBoard writer, opened at the first write (None where this process writes nothing):
        a run that fails before training leaves no log behind."""
        if self._writer is None and self.write:
            self._writer = tf.summary.create_file_writer(str(self._tensorboard_dir))
        return self._writer

    def resume(self, epochs_done, steps_done):
        """Reloads what an earlier process recorded, up to the checkpoint it resumes from
        (metrics.json may be ahead of that checkpoint)."""
        if not self.path.is_file():
            return
        record = json.loads(self.path.read_text(encoding="utf-8"))
        self.history = [e for e in record.get("epochs", []) if e["epoch"] <= epochs_done]
        self.skipped = [s for s in record.get("skipped_nonfinite", [])
                        if s["epoch"] - 1 < epochs_done or (s["epoch"] - 1 == epochs_done and s["step"] <= steps_done)]

    def last_metrics(self):
        """The metrics of the last evaluated epoch, or {}."""
        evaluated = [e["metrics"] for e in self.history if e["metrics"] is not None]
        return evaluated[-1] if evaluated else {}

    def skip(self, entry):
        self.skipped.append(entry)

    def add_epoch(self, epoch, seconds, metrics, latest, steps=None):
        """Appends a finished epoch (``metrics`` None if not evaluated) and rewrites metrics.json.

        ``steps``: the epoch's optimizer steps by task (what the task sampler gave each).
        """
        entry = {"epoch": epoch, "seconds": round(seconds, 1), "metrics": metrics}
        if steps is not None:
            entry["steps"] = dict(steps)
        if self._regularizer_epoch:
            entry["smart_regularizer"] = {task: total / count
                                          for task, (total, count) in sorted(self._regularizer_epoch.items())}
            self._regularizer_epoch = {}
        self.history.append(entry)
        if self.write:
            record = {**self.extra, "epochs": self.history, "final": latest,
                      "skipped_nonfinite_batches": len(self.skipped), "skipped_nonfinite": self.skipped}
            write_text_atomically(self.path, json.dumps(record, indent=2) + "\n")
        if metrics is not None and self.writer is not None:
            with self.writer.as_default(step=epoch):
                for task, by_split in metrics.items():
                    for split, values in by_split.items():
                        for metric, value in values.items():
                            tf.summary.scalar(f"{task}/{split}/{metric}", value)
            self.writer.flush()

    def training_loss(self, step, task_name, loss, smart_regularizer=None):
        """Takes a step's loss (and its SMART regulariser, if the task trains with SMART): logged to
        TensorBoard every ``tensorboard_every`` steps as ``<task>/loss`` and ``<task>/smart_regularizer``
        (the regulariser's mean over the task's steps since the last write)."""
        if smart_regularizer is not None:
            for totals in (self._regularizer_epoch, self._regularizer_since_write):
                total, count = totals.get(task_name, (0.0, 0))
                totals[task_name] = (total + smart_regularizer, count + 1)
        if self.tensorboard_every and step % self.tensorboard_every == 0 and self.writer is not None:
            with self.writer.as_default(step=step):
                tf.summary.scalar(f"{task_name}/loss", loss)
                if task_name in self._regularizer_since_write:
                    total, count = self._regularizer_since_write.pop(task_name)
                    tf.summary.scalar(f"{task_name}/smart_regularizer", total / count)
