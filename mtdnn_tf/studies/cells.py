"""How a report cell states a setting over seeds (mean ± spread) and an effect (paired differences).

Every cell takes its values keyed by seed (or draw), ``{seed: value}``: values are shown in seed order
and an effect pairs equal seeds, whatever order the runs were recorded in.
"""

import numpy as np


def mean_spread(values):
    values = np.asarray(values, float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def in_seed_order(by_seed):
    """The values of ``{seed: value}``, in seed order."""
    return [by_seed[seed] for seed in sorted(by_seed)]


def mean_cell(by_seed, each=False):
    """'58.1 ± 1.2' (mean ± sample standard deviation, in %), with ``each`` followed by every value in
    seed order."""
    values = in_seed_order(by_seed)
    mean, spread = mean_spread(values)
    text = f"{100 * mean:.1f} ± {100 * spread:.1f}" if len(values) > 1 else f"{100 * mean:.1f}"
    if each and len(values) > 1:
        text += " (" + ", ".join(f"{100 * v:.1f}" for v in values) + ")"
    return text


def averaged_series(table, kind, averaged):
    """``{seed: the mean of kind's values over the averaged tasks}``, for the seeds all of them have."""
    per_task = [table.get((kind, t, None, None), {}) for t in averaged]
    seeds = set.intersection(*(set(v) for v in per_task)) if per_task else set()
    return {seed: float(np.mean([v[seed] for v in per_task])) for seed in sorted(seeds)}


def effect_cell(later, earlier, unit="seed"):
    """Differences paired by seed (or draw), over the seeds both have: 'mean ± sd (k of n seeds > 0)',
    in points."""
    differences = [100 * (later[seed] - earlier[seed]) for seed in sorted(set(later) & set(earlier))]
    if not differences:
        return "—"
    mean = float(np.mean(differences))
    if len(differences) == 1:
        return f"{mean:+.1f} (1 {unit})"
    same_sign = sum(1 for d in differences if (d > 0) == (mean > 0) and d != 0)
    return (f"{mean:+.1f} ± {float(np.std(differences, ddof=1)):.1f} ({same_sign} of {len(differences)} {unit}s"
            f" {'>' if mean > 0 else '<'} 0)")
