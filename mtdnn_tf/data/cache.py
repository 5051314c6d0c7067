"""A disk cache of tokenised splits, so repeated runs on the same files tokenise once.

An entry is keyed by everything that decides its content: the data file
(path, size, modification time), the task's YAML text, the tokenizer's
vocabulary and normalisation settings, the packed length, the training fraction and its seed, and
whether malformed rows are skipped. Entries are directories of ``.npy`` files
holding the sequences at their real lengths (read back memory-mapped),
written atomically.
"""

import hashlib
import json
import pathlib

import numpy as np

from mtdnn_tf.atomic_files import atomic_directory
from mtdnn_tf.data.pipeline import PackedSplit
from mtdnn_tf.data.sequences import PackedSequences

# 2: truncation counts in the entry; tokenizer options in the key. 3: real-length sequences, memory-mapped.
# (The key holds the tokenizer's identity: its family and vocabulary digest, since the encoder families.)
# 4: a split's per-unit extras (sequence labelling's word positions).
FORMAT_VERSION = 4


def cache_key(data_file, task, tokenizer_identity, max_seq_length, **options):
    """A hex digest of what decides a packed split's content.

    ``tokenizer_identity`` (``models.backbone.tokenizer_identity``: the vocabulary's digest and the
    normalisation settings) is part of it: the same vocabulary with other normalisation gives other ids.
    """
    data_file = pathlib.Path(data_file)
    stat = data_file.stat()
    digest = hashlib.sha256()
    for part in (FORMAT_VERSION, str(data_file.resolve()), stat.st_size, stat.st_mtime_ns,
                 pathlib.Path(task.path).read_text(encoding="utf-8"), max_seq_length,
                 json.dumps(tokenizer_identity, sort_keys=True), json.dumps(options, sort_keys=True)):
        digest.update(str(part).encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def load(cache_dir, key):
    """The cached PackedSplit for ``key`` (its sequences memory-mapped), or None."""
    path = pathlib.Path(cache_dir) / key
    if not (path / "meta.json").is_file():
        return None
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    return PackedSplit(
        sequences=PackedSequences.load(path),
        labels=np.load(path / "labels.npy") if meta["has_labels"] else None,
        ids=json.loads((path / "ids.json").read_text(encoding="utf-8")),
        skipped=meta["skipped"],
        source=meta["source"],
        group_matrix=np.load(path / "group_matrix.npy") if meta["has_groups"] else None,
        truncation=meta["truncation"],
        extras={name: np.load(path / f"extra_{name}.npy") for name in meta.get("extras", [])},
    )


def save(cache_dir, key, split):
    """Writes ``split`` under ``key``: a directory of ``.npy`` files at the sequences' real lengths
    (written to a temporary directory, then renamed)."""
    cache_dir = pathlib.Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    meta = {"has_labels": split.labels is not None, "has_groups": split.group_matrix is not None,
            "skipped": split.skipped, "source": split.source, "truncation": split.truncation,
            "extras": sorted(split.extras)}
    with atomic_directory(cache_dir / key, overwrite=True) as tmp:
        split.sequences.save(tmp)
        if split.labels is not None:
            np.save(tmp / "labels.npy", split.labels)
        if split.group_matrix is not None:
            np.save(tmp / "group_matrix.npy", split.group_matrix)
        for name, values in split.extras.items():
            np.save(tmp / f"extra_{name}.npy", values)
        (tmp / "ids.json").write_text(json.dumps([str(i) for i in split.ids]), encoding="utf-8")
        # Written last: an entry without it is incomplete and not read.
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
