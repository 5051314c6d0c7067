"""Examples as read from a file, before tokenisation."""

import dataclasses

import numpy as np


@dataclasses.dataclass
class SplitExamples:
    """One split of one task, as parallel lists.

    Attributes:
        text_a: first texts.
        text_b: second texts for pair tasks, else None.
        labels: label ids (classification/ranking, int) or scores (regression,
            float) as a numpy array; None for unlabelled splits.
        ids: example ids from the file (or row numbers).
        groups: ranking group keys, else None.
        source: where the split was read from (for messages).
        skipped: rows skipped and why, e.g. {"no-consensus label '-'": 12}.
    """

    text_a: list
    text_b: list = None
    labels: np.ndarray = None
    ids: list = None
    groups: list = None
    source: str = ""
    skipped: dict = dataclasses.field(default_factory=dict)

    def __len__(self):
        return len(self.text_a)

    def subset(self, indices):
        """The examples at ``indices`` (a sequence of ints), in that order."""
        pick = lambda values: None if values is None else [values[i] for i in indices]
        return SplitExamples(
            text_a=pick(self.text_a),
            text_b=pick(self.text_b),
            labels=None if self.labels is None else self.labels[np.asarray(indices, dtype=int)],
            ids=pick(self.ids),
            groups=pick(self.groups),
            source=self.source,
            skipped=dict(self.skipped),
        )
