"""Writing a directory so that readers never see it half-written."""

import contextlib
import os
import pathlib
import shutil
import tempfile

from mtdnn_tf.errors import UserInputError


@contextlib.contextmanager
def atomic_directory(target, overwrite=False):
    """Yields a temporary sibling of ``target``; renames it to ``target`` on success.

    A model server watching the parent (TF Serving's version folders) sees
    either no version or a complete one.
    """
    target = pathlib.Path(target)
    if target.exists() and not overwrite:
        raise UserInputError(f"--export_dir: {target} already exists (choose a new version, or --overwrite)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a model server runs as another user
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
