"""A disk cache of tokenised splits, so repeated runs on the same files tokenise once.

An entry is keyed by everything that decides its content: the data file
(path, size, modification time), the task's YAML text, the tokenizer's
vocabulary and normalisation settings, the packed length, the training fraction and its seed, and
whether malformed rows are skipped. Entries are written atomically.
"""

import hashlib
import json
import pathlib

import numpy as np

from mtdnn_tf.atomic_files import atomic_file
from mtdnn_tf.data.packing import FEATURES
from mtdnn_tf.data.pipeline import PackedSplit

FORMAT_VERSION = 2  # 2: truncation counts in the entry; tokenizer options in the key


def cache_key(data_file, task, vocabulary, max_seq_length, tokenizer_options, **options):
    """A hex digest of what decides a packed split's content.

    ``tokenizer_options`` (lowercasing, accent stripping, CJK splitting) are
    part of it: the same vocabulary with other normalisation gives other ids.
    """
    data_file = pathlib.Path(data_file)
    stat = data_file.stat()
    digest = hashlib.sha256()
    for part in (FORMAT_VERSION, str(data_file.resolve()), stat.st_size, stat.st_mtime_ns,
                 pathlib.Path(task.path).read_text(encoding="utf-8"), "\n".join(vocabulary), max_seq_length,
                 json.dumps(tokenizer_options, sort_keys=True), json.dumps(options, sort_keys=True)):
        digest.update(str(part).encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def load(cache_dir, key):
    """The cached PackedSplit for ``key``, or None."""
    path = pathlib.Path(cache_dir) / f"{key}.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as arrays:
        meta = json.loads(str(arrays["meta"]))
        return PackedSplit(
            features={k: arrays[k] for k in FEATURES},
            labels=arrays["labels"] if meta["has_labels"] else None,
            ids=arrays["ids"].tolist(),
            skipped=meta["skipped"],
            source=meta["source"],
            group_matrix=arrays["group_matrix"] if meta["has_groups"] else None,
            truncation=meta["truncation"],
        )


def save(cache_dir, key, split):
    """Writes ``split`` under ``key`` (to a temporary file, then renamed)."""
    cache_dir = pathlib.Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    meta = {"has_labels": split.labels is not None, "has_groups": split.group_matrix is not None,
            "skipped": split.skipped, "source": split.source,
            "truncation": split.truncation}
    arrays = {k: split.features[k] for k in FEATURES}
    arrays.update(ids=np.asarray([str(i) for i in split.ids]), meta=np.asarray(json.dumps(meta)))
    if split.labels is not None:
        arrays["labels"] = split.labels
    if split.group_matrix is not None:
        arrays["group_matrix"] = split.group_matrix
    with atomic_file(cache_dir / f"{key}.npz") as tmp:
        np.savez(tmp, **arrays)
