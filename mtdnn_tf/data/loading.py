"""Reading and tokenising every task's splits for a run.

```python
from mtdnn_tf.data.loading import DataSource, load_packed_data
source = DataSource(data_dir="../shared/glue")
data = load_packed_data(tasks, packer, source, cache_dir="runs/token_cache")
data.train["rte"], data.eval["rte"]["dev"]
```
"""

import dataclasses
import typing

from mtdnn_tf.data import cache as token_cache
from mtdnn_tf.data.packing import describe_truncation
from mtdnn_tf.data.pipeline import pack_split
from mtdnn_tf.data.readers import read_split, split_file
from mtdnn_tf.data.sampling import sample_fraction
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.models.backbone import tokenizer_identity

DATA_SOURCES = ("files", "tfds")


@dataclasses.dataclass(frozen=True)
class DataSource:
    """Where task splits come from.

    Args:
        data_dir: root of the task files (``<data_dir>/<dir>/<file>``), or the tfds data_dir.
        kind: 'files' (TSV/JSONL as each task's YAML says) or 'tfds'.
        skip_malformed: skip (and count) malformed rows of files instead of stopping.
    """

    data_dir: str = None
    kind: str = "files"
    skip_malformed: bool = False

    def read(self, task, split):
        """The SplitExamples of ``task``'s ``split``."""
        if self.kind == "tfds":
            from mtdnn_tf.data.tfds_source import read_tfds_split  # noqa: PLC0415 - tfds is slow to import

            return read_tfds_split(task, split, self.data_dir)
        if not self.data_dir:
            raise UserInputError("--data_dir is required with --data_source=files")
        return read_split(task, split, self.data_dir, skip_malformed=self.skip_malformed)

    def file(self, task, split):
        """The file ``split`` is read from, or None (tfds, or no data_dir): what a cache entry hangs on."""
        if self.kind != "files" or not self.data_dir:
            return None
        path = split_file(task, split, self.data_dir)
        return path if path.is_file() else None


class PackedData(typing.NamedTuple):
    """Every task's tokenised splits.

    ``train``: name -> PackedSplit; ``eval``: name -> {split: PackedSplit};
    ``skipped``: 'task/split' -> per-reason counts of skipped rows;
    ``truncated``: 'task/split' -> ``truncation_counts``.
    """

    train: dict
    eval: dict
    skipped: dict
    truncated: dict


def load_packed_data(tasks, packer, source, train_fraction=1.0, fraction_seed=0, cache_dir=None, verbose=True):
    """Reads and tokenises every task's train and evaluation splits.

    With ``train_fraction`` < 1, each training split is a seeded draw of that
    fraction (``fraction_seed``; see ``sample_fraction``). With ``cache_dir``,
    tokenised splits of files are cached there and reused while the file, task,
    vocabulary and options are unchanged. Skipped rows and truncation are
    printed when ``verbose``.
    """
    data = PackedData({}, {}, {}, {})
    for name, task in tasks.items():
        for split in ("train", *task.eval_splits):
            fraction = train_fraction if split == "train" else 1.0
            packed = _packed_split(task, split, packer, source, fraction, fraction_seed, cache_dir)
            if packed.skipped:
                data.skipped[f"{name}/{split}"] = dict(packed.skipped)
                if verbose:
                    counts = ", ".join(f"{n} {reason}" for reason, n in packed.skipped.items())
                    print(f"Skipped in {packed.source}: {counts}")
            data.truncated[f"{name}/{split}"] = packed.truncation
            if verbose and packed.truncation["truncated"]:
                print(describe_truncation(packed.truncation, packed.source or f"{name}/{split}"))
            if verbose and packed.truncation.get("windowed"):
                print(f"Windows of whole words in {packed.source or f'{name}/{split}'}: {packed.truncation['windowed']}"
                      f" of {packed.truncation['examples']} sentences are longer than {packer.max_seq_length} tokens"
                      " and packed as several sequences (every word is labelled)")
            if split == "train":
                data.train[name] = packed
            else:
                data.eval.setdefault(name, {})[split] = packed
        if verbose:
            sizes = ", ".join(f"{s} {len(p)}" for s, p in [("train", data.train[name]), *data.eval.get(name, {}).items()])
            print(f"Task {name}: {sizes} examples")
    return data


def _packed_split(task, split, packer, source, fraction, fraction_seed, cache_dir):
    key = None
    path = source.file(task, split) if cache_dir else None
    if path is not None:
        key = token_cache.cache_key(
            path, task, tokenizer_identity(packer.tokenizer), packer.max_seq_length, split=split,
            fraction=fraction, fraction_seed=fraction_seed if fraction < 1 else None,
            skip_malformed=source.skip_malformed)
        cached = token_cache.load(cache_dir, key)
        if cached is not None:
            return cached
    examples = source.read(task, split)
    if fraction < 1:
        examples = sample_fraction(examples, fraction, fraction_seed, task)
    packed = pack_split(packer, examples, description=f"Tokenising {task.name}/{split}", task=task)
    if key is not None:
        token_cache.save(cache_dir, key, packed)
    return packed
