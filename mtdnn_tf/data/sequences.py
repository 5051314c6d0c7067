"""Packed token sequences stored at their real lengths, not padded.

A GLUE pair is about 40 tokens; padded to 512 in three int32 arrays it took
150 times the memory of its tokens. ``PackedSequences`` keeps every
sequence's token ids (in the smallest integer type the vocabulary fits) and
segment ids (int8) back to back in two flat arrays, with the start of each
sequence in ``offsets`` (the layout of a ragged tensor's row splits). A batch
is padded only when it is made (``padded``), to the length its caller asks
for. Saved as ``.npy`` files, a store is read back memory-mapped: the data of
a million examples stays on disk until a batch touches it.
"""

import json
import pathlib

import numpy as np

_ARRAYS = ("token_ids", "segment_ids", "offsets")


def token_dtype(vocabulary_size):
    """The smallest unsigned integer type that holds every id of a vocabulary."""
    return np.uint16 if vocabulary_size <= np.iinfo(np.uint16).max + 1 else np.int32


class PackedSequences:
    """Token and segment ids of ``n`` packed sequences, back to back.

    Args:
        token_ids: [total tokens] ids, every sequence's real tokens in turn.
        segment_ids: [total tokens] int8 segment ids, aligned with ``token_ids``.
        offsets: int64 [n + 1]: sequence ``i`` is ``token_ids[offsets[i]:offsets[i + 1]]``.
        pad_id: the token id padded positions get.

    Example:

    ```python
    padded = {"token_ids": np.array([[2, 5, 3, 0], [2, 3, 0, 0]]),
              "segment_ids": np.zeros([2, 4], np.int32),
              "padding_mask": np.array([[1, 1, 1, 0], [1, 1, 0, 0]])}
    store = PackedSequences.from_padded(padded, vocabulary_size=30522)
    store.lengths  # [3, 2]
    store.padded([1], 3)["token_ids"]  # [[2, 3, 0]]
    ```
    """

    def __init__(self, token_ids, segment_ids, offsets, pad_id=0):
        self.token_ids, self.segment_ids = token_ids, segment_ids
        self.offsets = np.asarray(offsets, np.int64)
        self.pad_id = int(pad_id)
        self._ragged = None
        if len(token_ids) != len(segment_ids) or self.offsets[-1] != len(token_ids):
            raise ValueError(f"inconsistent packed sequences: {len(token_ids)} token ids, {len(segment_ids)} segment"
                             f" ids, offsets ending at {self.offsets[-1]}")

    @classmethod
    def from_padded(cls, features, vocabulary_size, pad_id=0):
        """The real tokens of padded features (dict of [n, length] arrays; real tokens first in each row)."""
        mask = np.asarray(features["padding_mask"]) > 0
        lengths = mask.sum(axis=-1)
        offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        return cls(np.asarray(features["token_ids"])[mask].astype(token_dtype(vocabulary_size)),
                   np.asarray(features["segment_ids"])[mask].astype(np.int8), offsets, pad_id)

    @classmethod
    def concatenate(cls, parts):
        """One store holding ``parts``' sequences in turn (at least one part)."""
        starts = np.cumsum([0] + [len(p.token_ids) for p in parts[:-1]], dtype=np.int64)
        offsets = np.concatenate([[0]] + [p.offsets[1:] + start for p, start in zip(parts, starts)])
        return cls(np.concatenate([p.token_ids for p in parts]), np.concatenate([p.segment_ids for p in parts]),
                   offsets, parts[0].pad_id)

    def __len__(self):
        return len(self.offsets) - 1

    @property
    def lengths(self):
        """Real length of each sequence (special tokens included)."""
        return np.diff(self.offsets)

    @property
    def nbytes(self):
        return self.token_ids.nbytes + self.segment_ids.nbytes + self.offsets.nbytes

    def padded(self, rows, length):
        """Features of sequences ``rows`` as int32 arrays [len(rows), length]; a row of -1 is all padding.

        Sequences longer than ``length`` are cut (callers choose a length that holds them).
        """
        rows = np.asarray(rows, np.int64).reshape(-1)
        real = rows >= 0
        safe = np.where(real, rows, 0)
        starts = self.offsets[safe]
        lengths = np.where(real, np.minimum(self.offsets[safe + 1] - starts, length), 0)
        positions = np.arange(length, dtype=np.int64)
        mask = positions[None, :] < lengths[:, None]
        index = np.where(mask, starts[:, None] + positions[None, :], 0)
        if len(self.token_ids):
            # Fancy indexing reads only the rows asked for, also from a memory-mapped file.
            token_ids = np.where(mask, self.token_ids[index], self.pad_id).astype(np.int32)
            segment_ids = np.where(mask, self.segment_ids[index], 0).astype(np.int32)
        else:
            token_ids = np.full(mask.shape, self.pad_id, np.int32)
            segment_ids = np.zeros(mask.shape, np.int32)
        return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": mask.astype(np.int32)}

    def ragged(self):
        """(token ids, segment ids) as ``tf.RaggedTensor`` rows in their compact dtypes, made once: what
        ``tf.data`` gathers batches from (one copy of the real tokens in the process, no padding)."""
        if self._ragged is None:
            import tensorflow as tf  # noqa: PLC0415 - storage and numpy use need no TensorFlow

            splits = tf.constant(self.offsets)
            self._ragged = tuple(tf.RaggedTensor.from_row_splits(tf.constant(np.asarray(values)), splits,
                                                                 validate=False)
                                 for values in (self.token_ids, self.segment_ids))
        return self._ragged

    def save(self, directory):
        """Writes the store as ``.npy`` files (and ``sequences.json``) into ``directory``."""
        directory = pathlib.Path(directory)
        for name in _ARRAYS:
            np.save(directory / f"{name}.npy", np.ascontiguousarray(getattr(self, name)))
        (directory / "sequences.json").write_text(json.dumps({"pad_id": self.pad_id}), encoding="utf-8")

    @classmethod
    def load(cls, directory, mmap=True):
        """A store written by ``save``, memory-mapped (read-only) unless ``mmap`` is false."""
        directory = pathlib.Path(directory)
        arrays = {name: _load_array(directory / f"{name}.npy", mmap) for name in _ARRAYS}
        meta = json.loads((directory / "sequences.json").read_text(encoding="utf-8"))
        return cls(arrays["token_ids"], arrays["segment_ids"], np.asarray(arrays["offsets"]), meta["pad_id"])


def _load_array(path, mmap):
    try:
        return np.load(path, mmap_mode="r" if mmap else None)
    except ValueError:  # numpy cannot memory-map an empty array
        return np.load(path)
