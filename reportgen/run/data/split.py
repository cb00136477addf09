"""Seeded, stratified choices on labels alone: ``max_samples`` picks and train/val/test splits.

They run before any image is decoded, so a split is the same whichever splits are decoded
(an evaluate-only experiment gets exactly the test images a training experiment gets).
When scikit-learn cannot stratify (a class of one image, or fewer images taken than there are
classes), the choice is still made class by class (:func:`per_class_take`): every class keeps
an image on the training side, and each class gets one of the images taken while they last,
so one rare class does not turn the whole split into a random one.
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
        picked = per_class_take(y, k, seed, keep_one=False)
    return np.sort(np.asarray(picked, dtype=np.int64))


def per_class_take(y: np.ndarray, k: int, seed: int, keep_one: bool) -> np.ndarray:
    """Positions in ``y`` of ``k`` samples chosen class by class (at most as many as allowed).

    Each class first gets one sample (larger classes first, while ``k`` lasts), the rest is
    shared in proportion to class size. With ``keep_one`` every class keeps at least one
    sample out of the choice (the training side of a split), so fewer than ``k`` may be taken.
    """
    y = np.asarray(y)
    labels, counts = np.unique(y, return_counts=True)
    caps = counts - 1 if keep_one else counts.copy()
    k = int(min(k, caps.sum()))
    quota = np.zeros(len(labels), dtype=np.int64)
    for c in sorted(range(len(labels)), key=lambda c: (-counts[c], c)):
        if quota.sum() < k and caps[c] > 0:
            quota[c] = 1
    exact = k * counts / max(len(y), 1)
    while quota.sum() < k:  # the largest shortfall against the proportional share gets one more
        room = np.flatnonzero(quota < caps)
        quota[room[np.argmax(exact[room] - quota[room])]] += 1
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(y == label))[:q] for label, q in zip(labels, quota)]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def split_indices(
    spec: Any, idx: np.ndarray, y: np.ndarray, share: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into (rest, taken) with ``share`` taken, stratified on ``y`` when possible."""
    from sklearn.model_selection import train_test_split

    try:
        rest, taken = train_test_split(idx, test_size=share, stratify=y, random_state=seed)
    except ValueError:
        n_taken = math.ceil(share * len(idx)) if 0 < share < 1 else 0  # scikit-learn's count
        chosen = per_class_take(y, n_taken, seed, keep_one=True)
        if 0 < len(chosen) < len(idx):
            taken_mask = np.zeros(len(idx), dtype=bool)
            taken_mask[chosen] = True
            return np.asarray(idx[~taken_mask], dtype=np.int64), np.asarray(idx[taken_mask], dtype=np.int64)
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
