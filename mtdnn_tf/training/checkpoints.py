"""Checkpoints of a training run: what is saved, where, and how a resume finds a readable one."""

import pathlib
import sys

import tensorflow as tf

from mtdnn_tf.errors import UserInputError


def checkpoint_prefixes(directory):
    """The ``ckpt-N`` prefixes of the checkpoints in ``directory``, newest first (read from the index files)."""
    numbered = []
    for index in pathlib.Path(directory).glob("ckpt-*.index"):
        number = index.name[len("ckpt-"):-len(".index")]
        if number.isdigit():
            numbered.append((int(number), str(index.with_suffix(""))))
    return [prefix for _, prefix in sorted(numbered, reverse=True)]

class _RandomState(tf.Module):
    """Holds the model's random-generator state variables for the checkpoint."""

    def __init__(self, variables):
        super().__init__(name="random_state")
        self.states = list(variables)


class CheckpointStore:
    """Saves and restores the model, optimizer, position (epoch, step in it) and dropout state.

    Args:
        directory: where the checkpoints go (``<model_dir>/checkpoints`` on the chief).
        model, optimizer: what is trained.
        epoch, step_in_epoch: int64 variables of the position in the run.
        keep: how many checkpoints to keep.
        enabled: False writes nothing (short throw-away runs); restore still looks.
    """

    def __init__(self, directory, model, optimizer, epoch, step_in_epoch, keep=3, enabled=True):
        # Dropout's random generators are Keras variables that tf.train.Checkpoint does
        # not reach through the model; saved too, so a resumed run draws the same masks.
        random_state = _RandomState(v for v in model.non_trainable_variables if "seed_generator_state" in v.path)
        self.checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch,
                                              step_in_epoch=step_in_epoch, random_state=random_state)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(directory), max_to_keep=keep)
        self.optimizer = optimizer
        self.enabled = enabled

    @property
    def directory(self):
        return pathlib.Path(self.manager.directory)

    def candidates(self):
        """Checkpoint prefixes on disk, newest first (read from the files, so a lost or
        damaged state file does not hide them)."""
        return checkpoint_prefixes(self.directory)

    def restore(self):
        """Restores the newest readable checkpoint, if any; returns its path or None.

        A damaged newest checkpoint (e.g. cut short by a kill) falls back to the
        one before, with a warning; if none can be read, a UserInputError says so.
        """
        candidates = self.candidates()
        failures = []
        for prefix in candidates:
            try:
                self.checkpoint.restore(prefix).assert_existing_objects_matched()
            except (tf.errors.OpError, AssertionError, ValueError, IndexError) as e:  # IndexError: a file cut short
                failures.append((prefix, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"))
                continue
            for bad, reason in failures:
                print(f"warning: {bad}: cannot restore ({reason}); using the previous checkpoint {prefix}",
                      file=sys.stderr)
            return prefix
        if failures:
            tried = ", ".join(pathlib.Path(p).name for p, _ in failures)
            raise UserInputError(
                f"{candidates[0]}: no readable checkpoint (tried {tried}); it is damaged or was written by"
                " a different model: use a new --model_dir"
            )
        return None

    def save(self):
        """Saves a checkpoint numbered by the optimizer's step (unless disabled)."""
        if self.enabled:
            self.manager.save(checkpoint_number=int(self.optimizer.iterations.numpy()))
