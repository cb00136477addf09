"""Seeded, stratified choices on labels alone: ``max_samples`` picks and train/val/test splits.

They run before any image is decoded, so a split is the same whichever splits are decoded
(an evaluate-only experiment gets exactly the test images a training experiment gets).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from reportgen.errors import DataError


def stratified_pick(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Indices of ``k`` samples (stratified when possible), in their original order."""
    n = len(y)
    if k >= n:
        return np.arange(n)
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    try:
        picked, _ = train_test_split(idx, train_size=k, stratify=y, random_state=seed)
    except ValueError:  # a class with a single sample, or k smaller than the class count
        picked = np.random.default_rng(seed).permutation(n)[:k]
    return np.sort(np.asarray(picked, dtype=np.int64))


def split_indices(
    spec: Any, idx: np.ndarray, y: np.ndarray, share: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into (rest, taken) with ``share`` taken, stratified on ``y`` when possible."""
    from sklearn.model_selection import train_test_split

    try:
        rest, taken = train_test_split(idx, test_size=share, stratify=y, random_state=seed)
    except ValueError:
        try:
            rest, taken = train_test_split(idx, test_size=share, random_state=seed)
        except ValueError as exc:
            raise DataError(
                f"Dataset '{spec.name}': cannot split {len(idx)} images into parts of "
                f"{1 - share:.0%} and {share:.0%} ({exc}); give more data or a larger max_samples."
            ) from None
    return np.asarray(rest, dtype=np.int64), np.asarray(taken, dtype=np.int64)


def allocate(total: int, sizes: dict[str, int]) -> dict[str, int]:
    """Share ``total`` among parts proportionally to ``sizes`` (largest remainder, ≥1 each)."""
    n = sum(sizes.values())
    exact = {k: total * s / n for k, s in sizes.items()}
    quotas = {k: int(math.floor(v)) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - quotas[k], reverse=True)[: total - sum(quotas.values())]:
        quotas[k] += 1
    for k in quotas:
        if quotas[k] == 0 and sizes[k] > 0:
            donor = max(quotas, key=lambda d: quotas[d])
            if quotas[donor] > 1:
                quotas[donor] -= 1
            quotas[k] = 1
    return {k: min(q, sizes[k]) for k, q in quotas.items()}
