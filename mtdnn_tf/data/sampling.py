"""Seeded training subsets: fractions of a split (domain adaptation) and per-epoch caps."""

import numpy as np


def fraction_size(num_examples, fraction, num_classes=None):
    """How many examples ``fraction`` of a split is.

    round(fraction x num_examples), at least 1; for a classification task at
    least one example per class (when the split has that many), so that a tiny
    sample can still hold every class.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    size = max(1, int(round(fraction * num_examples)))
    if num_classes:
        size = max(size, min(num_classes, num_examples))
    return min(size, num_examples)


def sample_indices(labels, size, seed, stratify):
    """``size`` distinct indices into ``labels``, sorted, drawn with ``seed``.

    With ``stratify`` (classification), classes get shares proportional to
    their frequency (largest remainder), and every class at least one while
    ``size`` allows, so class balance holds even for a handful of examples.
    """
    rng = np.random.default_rng(seed)
    n = len(labels)
    if not stratify or size >= n:
        return np.sort(rng.permutation(n)[:size])
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    exact = size * counts / counts.sum()
    quota = np.floor(exact).astype(int)
    # Largest remainders (ties broken by the seeded generator) take what is left.
    remainder = exact - quota + rng.random(len(classes)) * 1e-9
    for i in np.argsort(-remainder)[: size - quota.sum()]:
        quota[i] += 1
    if size >= len(classes):  # every class at least once, taken from the largest shares
        for i in np.flatnonzero(quota == 0):
            quota[np.argmax(quota)] -= 1
            quota[i] = 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:q] for c, q in zip(classes, np.minimum(quota, counts))]
    chosen = np.concatenate(picked)
    if len(chosen) < size:  # a class had fewer examples than its quota
        rest = np.setdiff1d(np.arange(n), chosen)
        chosen = np.concatenate([chosen, rng.permutation(rest)[: size - len(chosen)]])
    return np.sort(chosen)


def sample_fraction(examples, fraction, seed, task):
    """A seeded subset of ``examples`` (SplitExamples) holding ``fraction`` of them, drawn as
    ``task``'s type draws: per class for classification, uniformly for regression,
    whole candidate groups for ranking."""
    return task.task_type.sample_fraction(task, examples, fraction, seed)
