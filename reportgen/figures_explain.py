"""Drawing the comparisons of explanation methods: deletion / insertion curves and the share of
attribution in each facial region.

Kept apart from :mod:`reportgen.figures` (whose matplotlib setup and saving it shares) so each
module stays small; like it, this module only draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reportgen.figures import _pyplot, _save


def faithfulness_curves(fractions: Sequence[float], deletion: dict[str, Sequence[float]],
                        insertion: dict[str, Sequence[float]], path: Path, *, titles: tuple[str, str],
                        xlabel: str, ylabel: str, random_label: str) -> Path:
    """Two panels, deletion and insertion: the mean target probability against the share of
    pixels removed / inserted, one line per method; the random attribution dashed gray."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.4), sharey=True)
    for ax, curves, title in ((axes[0], deletion, titles[0]), (axes[1], insertion, titles[1])):
        for name, values in curves.items():
            random = name == random_label
            ax.plot(fractions, values, label=name, linewidth=1.2,
                    linestyle="--" if random else "-", color="0.5" if random else None)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel, fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, ncol=min(4, len(labels)), loc="lower center",
               bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def share_table(shares: np.ndarray, rows: Sequence[str], columns: Sequence[str], path: Path, *,
                xlabel: str, counts: Sequence[int] | None = None) -> Path:
    """A heat table of shares (rows × columns, each row summing to 1), the percentage written in
    every cell; ``counts`` (images per row) are appended to the row names."""
    plt = _pyplot()
    shares = np.asarray(shares, dtype=float)
    names = [f"{r} (n={n})" for r, n in zip(rows, counts)] if counts is not None else list(rows)
    fig, ax = plt.subplots(figsize=(1.0 * len(columns) + 2.4, 0.42 * len(rows) + 1.2))
    ax.imshow(shares, cmap="Reds", vmin=0.0, vmax=max(0.5, float(np.nanmax(shares, initial=0.0))),
              aspect="auto")
    for (i, j), value in np.ndenumerate(shares):
        ax.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=8,
                color="white" if value > 0.35 else "black")
    ax.set_xticks(range(len(columns)), columns, fontsize=8)
    ax.set_yticks(range(len(rows)), names, fontsize=8)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return _save(fig, path)
