"""``load_dataset``: subsample (``max_samples``), decode/resize/convert, split (stratified, seeded).

Image files of a streamed training split (``stream``) are not decoded here: the split keeps
their paths, and the training input pipeline decodes them batch by batch. Heavy libraries
(scikit-learn, Pillow) are imported lazily so ``reportgen validate`` stays fast.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.errors import DataError
from reportgen.run.data.base import CHECKERS, CLASS_LISTERS, LOADERS, ImageSet, LoadedData, RawData, RawPart, registered
from reportgen.run.data.decode import convert_images, decode_image


def dataset_classes(spec: Any, base_dir: Path) -> list[str]:
    """Class names in label order, without decoding any image (raises DataError if unknowable)."""
    return list(registered(CLASS_LISTERS, spec)(spec, Path(base_dir)))


def check_dataset(spec: Any, base_dir: Path) -> list[str]:
    """Cheap validation: one line per problem, starting with the field name (no "datasets[i].")."""
    checker = CHECKERS.get(getattr(spec, "kind", None))
    if checker is None:
        kind = getattr(spec, "kind", None)
        return [f"kind: unknown dataset kind {kind!r}; known kinds: {', '.join(sorted(LOADERS))}"]
    try:
        return list(checker(spec, Path(base_dir)))
    except (OSError, DataError) as exc:  # e.g. a folder that cannot be listed
        return [f"path: {exc}"]


def load_dataset(
    spec: Any, image_size: tuple[int, int], channels: int, seed: int, base_dir: Path
) -> LoadedData:
    """Load ``spec`` as uint8 (N, H, W, C) arrays at ``image_size`` = (height, width).

    Order: pick ``max_samples`` (stratified, seeded) → decode/resize/convert → split
    (stratified, seeded). The same spec and seed always give identical arrays.
    """
    height, width = (int(v) for v in image_size)
    if height <= 0 or width <= 0:
        raise ValueError(f"image_size must be positive (height, width), got {tuple(image_size)}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    size = (height, width)
    seed = int(seed) % (2**32)
    raw = registered(LOADERS, spec)(spec, Path(base_dir))
    if not raw.labelled:
        return _load_unlabelled(spec, raw, size, channels)
    classes = list(raw.classes)
    for part in (raw.pool, raw.train, raw.val, raw.test):
        if part is not None:
            _check_label_range(spec, part.y, len(classes))
    max_samples = getattr(spec, "max_samples", None)
    skipped: list[tuple[str, str]] = []
    notes: list[str] = []

    if raw.pool is not None:
        pool = raw.pool
        if max_samples is not None and max_samples < len(pool):
            pool = pool.take(_stratified_pick(pool.y, max_samples, seed))
            notes.append(f"max_samples: {len(pool):,} used")
        train_share = 1.0 - raw.split.test - raw.split.val
        stream = _streams(spec, pool, round(len(pool) * train_share), size, channels)
        load = _on_disk if stream else _materialize
        full = load(spec, pool, size, channels, classes, skipped)
        rest, test_idx = _split_indices(spec, np.arange(len(full)), full.y, raw.split.test, seed)
        val_share = raw.split.val / (1.0 - raw.split.test)
        train_idx, val_idx = _split_indices(spec, rest, full.y[rest], val_share, seed)
        train, val, test = (_subset(full, i) for i in (train_idx, val_idx, test_idx))
        if stream:
            val, test = (_into_memory(spec, s, pool.root, classes, skipped) for s in (val, test))
    else:
        if raw.train is None or raw.test is None:
            raise DataError(
                f"Dataset '{spec.name}': the loader gave neither a pool nor train and test parts."
            )
        parts = {"train": raw.train, "val": raw.val, "test": raw.test}
        present = {k: p for k, p in parts.items() if p is not None}
        total = sum(len(p) for p in present.values())
        if max_samples is not None and max_samples < total:
            quotas = _allocate(max_samples, {k: len(p) for k, p in present.items()})
            present = {k: p.take(_stratified_pick(p.y, quotas[k], seed)) for k, p in present.items()}
            notes.append(f"max_samples: {sum(len(p) for p in present.values()):,} used")
        stream = _streams(spec, present["train"], len(present["train"]), size, channels)
        loaded = {k: (_on_disk if stream and k == "train" else _materialize)(
            spec, p, size, channels, classes, skipped) for k, p in present.items()}
        train, test = loaded["train"], loaded["test"]
        if "val" in loaded:
            val = loaded["val"]
        else:
            keep, carved = _split_indices(spec, np.arange(len(train)), train.y, raw.split.val, seed)
            train, val = _subset(train, keep), _subset(train, carved)
            if stream:
                val = _into_memory(spec, val, present["train"].root, classes, skipped)

    for name, part in (("train", train), ("validation", val), ("test", test)):
        if len(part) == 0:
            raise DataError(
                f"Dataset '{spec.name}': the {name} split is empty after loading "
                f"({len(train)} train / {len(val)} validation / {len(test)} test images); "
                "give more data or a larger max_samples."
            )
    if skipped:
        notes.append(f"{len(skipped)} unreadable file{'s' if len(skipped) != 1 else ''} skipped")
    if train.streamed:
        notes.append("training images streamed from disk")
    description = raw.description + (f" ({'; '.join(notes)})" if notes else "")
    return LoadedData(
        classes=classes, train=train, val=val, test=test, skipped=skipped, description=description
    )


def _check_label_range(spec: Any, y: np.ndarray, n_classes: int) -> None:
    if y.size and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        bad = sorted({int(v) for v in y[(y < 0) | (y >= n_classes)]})[:10]
        raise DataError(
            f"Dataset '{spec.name}': labels {bad} are outside the class list; "
            f"expected 0..{n_classes - 1} for {n_classes} classes."
        )


def _stratified_pick(y: np.ndarray, k: int, seed: int) -> np.ndarray:
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


def _split_indices(
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


def _allocate(total: int, sizes: dict[str, int]) -> dict[str, int]:
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


def _subset(images: ImageSet, idx: np.ndarray) -> ImageSet:
    if images.files is not None:
        return ImageSet(x=images.x, y=np.ascontiguousarray(images.y[idx]),
                        files=[images.files[i] for i in idx])
    return ImageSet(x=np.ascontiguousarray(images.x[idx]), y=np.ascontiguousarray(images.y[idx]))


STREAM_MEMORY_SHARE = 0.25
"""``stream = "auto"`` streams training images that would fill more than this share of the
memory available when the dataset is loaded."""


def available_memory_bytes() -> int | None:
    """Memory available to new allocations (Linux MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _streams(spec: Any, part: RawPart, n_train: int, size: tuple[int, int], channels: int) -> bool:
    """Whether the training images of ``part`` stay on disk (see ImageFolderDataset.stream)."""
    choice = getattr(spec, "stream", False)
    if part.files is None or choice is False:
        return False
    if choice is True:
        return True
    available = available_memory_bytes()
    return available is not None and n_train * size[0] * size[1] * channels > STREAM_MEMORY_SHARE * available


def _on_disk(
    spec: Any, part: RawPart, size: tuple[int, int], channels: int, classes: list[str],
    skipped: list[tuple[str, str]],
) -> ImageSet:
    """A streamed ImageSet of ``part``'s files; files whose header Pillow cannot read are skipped
    (a file that fails later, while training, stops the build with its name)."""
    from PIL import Image

    keep = np.zeros(len(part.files), dtype=bool)
    for i, path in enumerate(part.files):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(path):
                    pass
        except Exception as exc:  # noqa: BLE001 - any failure means "unreadable"
            skipped.append((str(path), f"{type(exc).__name__}: {exc}"))
            continue
        keep[i] = True
    y = np.asarray(part.y, dtype=np.int64)
    _require_every_class(spec, part, y, keep, classes)
    return ImageSet(x=np.zeros((0, *size, channels), np.uint8), y=y[keep],
                    files=[f for f, k in zip(part.files, keep) if k])


def _into_memory(spec: Any, images: ImageSet, root: Path | None, classes: list[str],
                 skipped: list[tuple[str, str]]) -> ImageSet:
    """Decode a streamed ImageSet's files into memory (validation and test images)."""
    height, width, channels = images.image_shape
    part = RawPart(y=images.y, files=images.files, root=root)
    return _materialize(spec, part, (height, width), channels, classes, skipped)


def _load_unlabelled(spec: Any, raw: RawData, size: tuple[int, int], channels: int) -> LoadedData:
    """Finish an unlabelled dataset: every image is a test image with label -1, nothing split."""
    if raw.test is None or len(raw.test) == 0:
        raise DataError(f"Dataset '{spec.name}': the loader found no images.")
    test = _materialize(spec, raw.test, size, channels, [], [])
    height, width = size

    def empty() -> ImageSet:
        return ImageSet(x=np.zeros((0, height, width, channels), np.uint8), y=np.zeros(0, np.int64))

    skipped = list(raw.skipped)
    description = raw.description
    if skipped:
        description += f" ({len(skipped)} unreadable file{'s' if len(skipped) != 1 else ''} skipped)"
    return LoadedData(
        classes=[],
        train=empty(),
        val=empty(),
        test=test,
        skipped=skipped,
        description=description,
        labelled=False,
        sources=list(raw.sources),
        source_index=raw.source_index,
        face_index=raw.face_index,
    )


def _materialize(
    spec: Any, part: RawPart, size: tuple[int, int], channels: int, classes: list[str],
    skipped: list[tuple[str, str]],
) -> ImageSet:
    height, width = size
    if part.images is not None:
        x = np.empty((len(part.images), height, width, channels), dtype=np.uint8)
        for i, img in enumerate(part.images):
            x[i] = convert_images(np.asarray(img)[None], size, channels)[0]
        return ImageSet(x=x, y=np.asarray(part.y, dtype=np.int64))
    if part.files is None:
        if part.x is None:
            raise DataError(f"Dataset '{spec.name}': the loader gave labels without images.")
        x = convert_images(part.x, size, channels)
        return ImageSet(x=x, y=np.asarray(part.y, dtype=np.int64))
    out = np.empty((len(part.files), height, width, channels), dtype=np.uint8)
    keep = np.zeros(len(part.files), dtype=bool)
    for i, path in enumerate(part.files):
        try:
            out[i] = decode_image(path, size, channels)
        except Exception as exc:  # noqa: BLE001 - any decoding failure means "unreadable"
            skipped.append((str(path), f"{type(exc).__name__}: {exc}"))
            continue
        keep[i] = True
    y = np.asarray(part.y, dtype=np.int64)
    _require_every_class(spec, part, y, keep, classes)
    return ImageSet(x=out[keep], y=y[keep])


def _require_every_class(spec: Any, part: RawPart, y: np.ndarray, keep: np.ndarray,
                         classes: list[str]) -> None:
    lost = sorted(set(np.unique(y).tolist()) - set(np.unique(y[keep]).tolist()))
    if lost:
        folders = ", ".join(str((part.root or Path(".")) / classes[c]) for c in lost)
        raise DataError(
            f"Dataset '{spec.name}': no readable image in class folder {folders}; every file there "
            "failed to decode (see the skipped files). Each class needs at least one readable image."
        )
