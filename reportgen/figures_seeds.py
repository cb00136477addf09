"""Drawing the training curves of seeded repeats: the mean over the seeds with a band, per epoch.

Kept apart from :mod:`reportgen.figures` (whose matplotlib setup and saving it shares) so each
module stays small; like it, this module only draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reportgen.figures import _pyplot, _save, epoch_axis


def _values(series: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in series], dtype=float)


def training_curves_band(bands: dict[str, dict[str, list[float | None]]], path: Path, *,
                         titles: tuple[str, str], xlabel: str, train_label: str, val_label: str,
                         band_label: str, best_label: str, best_epoch: int | None,
                         stage_starts: Sequence[tuple[int, str]] = ()) -> Path:
    """Accuracy and loss per epoch: the mean over the seeds (``bands[key]["mean"]``) with the band
    from ``low`` to ``high`` shaded (no band where it is None: one run left), train vs validation;
    the representative run's lowest validation-loss epoch and stage starts marked as in
    :func:`reportgen.figures.training_curves`."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.6))
    longest = 0
    for ax, key, title in ((axes[0], "accuracy", titles[0]), (axes[1], "loss", titles[1])):
        for name, label, marker, color in ((key, train_label, "o", "tab:blue"),
                                           (f"val_{key}", val_label, "s", "tab:orange")):
            band = bands.get(name)
            if band is None:
                continue
            epochs = np.arange(1, len(band["mean"]) + 1)
            longest = max(longest, len(epochs))
            ax.plot(epochs, band["mean"], marker=marker, markersize=3, color=color, label=label)
            # One legend entry for the bands (the train band's colour stands for both).
            ax.fill_between(epochs, _values(band["low"]), _values(band["high"]), color=color,
                            alpha=0.2, linewidth=0, label=band_label if name == key else None)
        epoch_axis(ax, title, xlabel, best_epoch, best_label, stage_starts, longest, legend_size=7)
    fig.tight_layout()
    return _save(fig, path)
