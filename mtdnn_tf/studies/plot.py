"""The study's domain-adaptation curve as a PNG (matplotlib, imported only when a plot is drawn)."""

import numpy as np


def plot_adaptation(table, target, path, metric="dev metric", chance=None):
    """Dev metric against training fraction, mean with min-max band, for both starting points,
    with the best constant guess (``chance``) drawn as a line."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots(figsize=(6, 4))
    if not any(k[0] == "adapt" for k in table):  # an interim report, before the first adaptation run
        axes.text(0.5, 0.5, "no adaptation run has finished yet", transform=axes.transAxes, ha="center")
    for init, label in [("mtdnn", "MT-DNN encoder"), ("pretrained", "pretrained encoder only")]:
        points = sorted((k[2], v) for k, v in table.items() if k[0] == "adapt" and k[3] == init)
        if not points:
            continue
        x = [100 * f for f, _ in points]
        values = [list(v.values()) for _, v in points]
        axes.plot(x, [np.mean(v) for v in values], marker="o", label=label)
        axes.fill_between(x, [np.min(v) for v in values], [np.max(v) for v in values], alpha=0.2)
    if chance is not None:
        axes.axhline(chance, color="grey", linestyle="--", label=f"majority class ({100 * chance:.1f}%)")
    axes.set_xscale("log")
    axes.set_xlabel(f"% of {target} training data")
    axes.set_ylabel(f"{target} dev {metric}")
    axes.set_title(f"Domain adaptation to {target}")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
