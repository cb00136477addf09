"""Drawing: arrays and numbers → PNG files. Analyses compute; this module only draws.

Every function takes already-translated label strings, so figures carry the report's
languages (Chinese drawn with the CJK font from :mod:`reportgen.fonts`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

DPI = 144


@lru_cache(maxsize=1)
def _pyplot():
    """Import matplotlib headless, with the CJK font as fallback behind DejaVu Sans."""
    import logging

    import matplotlib

    matplotlib.use("Agg")
    # WenQuanYi Zen Hei has only a "medium" weight; matplotlib logs each substitution.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    from reportgen.fonts import find_cjk_font

    cjk = find_cjk_font()
    font_manager.fontManager.addfont(str(cjk.path))
    family = font_manager.FontProperties(fname=str(cjk.path)).get_name()
    plt.rcParams.update({
        # Per-glyph fallback: Latin from DejaVu Sans, Chinese from the CJK font.
        "font.family": ["DejaVu Sans", family],
        "axes.unicode_minus": False,
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
        "savefig.bbox": "tight",
        "axes.spines.top": False,
        "axes.spines.right": False,
    })
    return plt


def _save(fig, path: Path) -> Path:
    plt = _pyplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, format="png")
    plt.close(fig)
    tmp.replace(path)
    return path


def confusion_matrices(counts: np.ndarray, classes: Sequence[str], path: Path, *,
                       titles: tuple[str, str], xlabel: str, ylabel: str) -> Path:
    """Two panels: raw counts and row-normalised shares, class names on both axes."""
    plt = _pyplot()
    k = len(classes)
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros_like(counts, dtype=float), where=rows > 0)
    size = max(3.6, 0.42 * k + 1.6)
    fig, axes = plt.subplots(1, 2, figsize=(2 * size + 0.8, size))
    for ax, data, title, fmt in ((axes[0], counts, titles[0], "d"), (axes[1], shares, titles[1], ".2f")):
        image = ax.imshow(data, cmap="Blues", vmin=0, vmax=data.max() if data.max() > 0 else 1)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(k), classes, rotation=45 if max(map(len, classes)) > 2 else 0,
                      ha="right" if max(map(len, classes)) > 2 else "center", fontsize=8)
        ax.set_yticks(range(k), classes, fontsize=8)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        threshold = data.max() / 2 if data.max() > 0 else 0.5
        font = 7 if k <= 10 else 5
        for i in range(k):
            for j in range(k):
                value = data[i, j]
                ax.text(j, i, format(value, fmt), ha="center", va="center", fontsize=font,
                        color="white" if value > threshold else "black")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return _save(fig, path)


def training_curves(history: dict[str, list[float]], path: Path, *, titles: tuple[str, str],
                    xlabel: str, train_label: str, val_label: str, best_label: str,
                    best_epoch: int | None) -> Path:
    """Accuracy and loss per epoch, train vs validation, the best validation-loss epoch marked."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.6))
    for ax, key, title in ((axes[0], "accuracy", titles[0]), (axes[1], "loss", titles[1])):
        train = history.get(key, [])
        val = history.get(f"val_{key}", [])
        epochs = np.arange(1, len(train) + 1)
        ax.plot(epochs, train, marker="o", markersize=3, label=train_label)
        if val:
            ax.plot(np.arange(1, len(val) + 1), val, marker="s", markersize=3, label=val_label)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="gray", linestyle="--", linewidth=1, label=best_label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if len(epochs) <= 20:
            ax.set_xticks(epochs)
    fig.tight_layout()
    return _save(fig, path)
