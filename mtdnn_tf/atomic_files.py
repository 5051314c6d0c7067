"""Writing small files so that readers never see them half-written."""

import os
import pathlib


def write_text_atomically(path, text):
    """Writes ``text`` to a hidden temporary sibling of ``path``, then renames it into place."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
