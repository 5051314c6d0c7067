"""Writing files and directories so that readers never see them half-written.

Everything is written under a temporary name in the target's own directory
(so the final rename stays on one file system) and renamed into place on
success; on failure the temporary is removed.
"""

import contextlib
import os
import pathlib
import shutil
import tempfile

from mtdnn_tf.errors import UserInputError


@contextlib.contextmanager
def atomic_file(path):
    """Yields a temporary path beside ``path`` (same suffix); renames it to ``path`` on success.

    Example: ``with atomic_file("m/model.keras") as tmp: model.save(tmp)``.
    """
    path = pathlib.Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        yield pathlib.Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text_atomically(path, text):
    """Writes ``text`` (UTF-8) to ``path`` through ``atomic_file``."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


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
