"""``load_dataset``: subsample (``max_samples``), split (stratified, seeded), decode/resize/convert.

Splits are chosen on labels before anything is decoded, and only the requested splits are
decoded (``splits=("test",)`` for a model evaluated as loaded). Image files of a streamed
training split (``stream``) are not decoded here: the split keeps their paths, and the training
input pipeline decodes them batch by batch. Loaded datasets are memoised for the build (see
``memo.py``). Heavy libraries (scikit-learn, Pillow) are imported lazily so ``reportgen
validate`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reportgen.errors import DataError
from reportgen.i18n import plural_msg
from reportgen.report_types import Msg
from reportgen.run.data.base import (
    CHECKERS,
    CLASS_LISTERS,
    LOADERS,
    SPLIT_LISTERS,
    LoadedData,
    RawData,
    RawPart,
    available_memory_bytes,
    registered,
    with_notes,
)
from reportgen.run.data.decode import decode_image  # noqa: F401 - tests patch it to prove nothing decodes
from reportgen.run.data.memo import lookup, memo_key, store
from reportgen.run.data.parts import PartDecoder
from reportgen.run.data.split import allocate, split_indices, stratified_pick

ALL_SPLITS = ("train", "val", "test")


def dataset_classes(spec: Any, base_dir: Path) -> list[str]:
    """Class names in label order, without decoding any image (raises DataError if unknowable)."""
    return list(registered(CLASS_LISTERS, spec)(spec, Path(base_dir)))


def dataset_splits(spec: Any, base_dir: Path) -> set[str]:
    """The splits a dataset can give, cheaply: {"train", "val", "test"}, or {"test"} for
    evaluate-only data (an image folder with test_dir alone, a FER2013 folder without train/)."""
    lister = SPLIT_LISTERS.get(getattr(spec, "kind", None))
    if getattr(spec, "kind", None) == "images":
        return {"test"}
    return set(lister(spec, Path(base_dir))) if lister is not None else set(ALL_SPLITS)


def check_dataset(spec: Any, base_dir: Path) -> list[str]:
    """Cheap validation: one line per problem, starting with the field name (no "datasets[i].")."""
    checker = CHECKERS.get(getattr(spec, "kind", None))
    if checker is None:
        kind = getattr(spec, "kind", None)
        return [f"kind: unknown dataset kind {kind!r}; known kinds: {', '.join(sorted(LOADERS))}"]
    try:
        problems = list(checker(spec, Path(base_dir)))
    except (OSError, DataError) as exc:  # e.g. a folder that cannot be listed
        return [f"path: {exc}"]
    from reportgen.run.data.crops_glue import crop_problems

    return problems + crop_problems(spec)


def load_dataset(
    spec: Any, image_size: tuple[int, int], channels: int, seed: int, base_dir: Path, *,
    splits: tuple[str, ...] = ALL_SPLITS, cache_dir: Path | None = None,
) -> LoadedData:
    """Load ``spec`` as uint8 (N, H, W, C) arrays at ``image_size`` = (height, width).

    Order: pick ``max_samples`` (stratified, seeded) → split (stratified, seeded, on labels) →
    decode/crop/convert/resize the requested ``splits`` only (the others are empty). The same
    spec and seed always give identical arrays, whichever splits are asked for. Results are
    shared within the process: their arrays are read-only. ``cache_dir`` holds face boxes.
    """
    height, width = (int(v) for v in image_size)
    if height <= 0 or width <= 0:
        raise ValueError(f"image_size must be positive (height, width), got {tuple(image_size)}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    wanted = frozenset(splits)
    if not wanted or not wanted <= set(ALL_SPLITS):
        raise ValueError(f"splits must be a non-empty subset of {ALL_SPLITS}, got {splits}")
    size = (height, width)
    seed = int(seed) % (2**32)
    key = memo_key(spec, size, channels, seed, Path(base_dir))
    found = lookup(key, wanted)
    if found is not None:
        return found
    from reportgen.run.data.crops_glue import cropper_for

    decoder = PartDecoder(spec, size, channels, [], cropper_for(spec, cache_dir))
    raw = registered(LOADERS, spec)(spec, Path(base_dir))
    if not raw.labelled:
        return store(key, wanted, _load_unlabelled(spec, raw, decoder))
    return store(key, wanted, _load_labelled(spec, raw, decoder, seed, wanted))


def split_labels(spec: Any, base_dir: Path, seed: int) -> tuple[list[str], dict[str, np.ndarray]] | None:
    """(classes, labels of each split) as a build chooses them, without opening any image (a
    build first leaves out files whose header is unreadable; here they are counted); None for
    unlabelled data. ``validate`` checks with it that every class is in every split."""
    raw = registered(LOADERS, spec)(spec, Path(base_dir))
    if not raw.labelled:
        return None
    parts, _ = _choose_parts(spec, raw, int(seed) % (2**32), frozenset(ALL_SPLITS),
                             lambda part, what: part)
    return list(raw.classes), {name: np.asarray(part.y, dtype=np.int64) for name, part in parts.items()}


def _choose_parts(spec: Any, raw: RawData, seed: int, wanted: frozenset[str],
                  readable: Any) -> tuple[dict[str, RawPart], list[Msg | str]]:
    """The raw part of each split, chosen on labels (``readable`` first drops unreadable files)."""
    for part in (raw.pool, raw.train, raw.val, raw.test):
        if part is not None:
            _check_label_range(spec, part.y, len(raw.classes))
    max_samples = getattr(spec, "max_samples", None)
    notes: list[Msg | str] = []
    parts: dict[str, RawPart]
    if raw.pool is not None:
        pool = raw.pool
        if max_samples is not None and max_samples < len(pool):
            pool = pool.take(stratified_pick(pool.y, max_samples, seed))
            notes.append(Msg("max_samples: {count:,} used", {"count": len(pool)}))
        pool = readable(pool, "")
        rest, test_idx = split_indices(spec, np.arange(len(pool)), pool.y, raw.split.test, seed)
        val_share = raw.split.val / (1.0 - raw.split.test)
        train_idx, val_idx = split_indices(spec, rest, pool.y[rest], val_share, seed)
        parts = {"train": pool.take(train_idx), "val": pool.take(val_idx), "test": pool.take(test_idx)}
    else:
        if raw.test is None:
            raise DataError(f"Dataset '{spec.name}': the loader gave neither a pool nor a test part.")
        present = {k: p for k, p in (("train", raw.train), ("val", raw.val), ("test", raw.test))
                   if p is not None}
        total = sum(len(p) for p in present.values())
        if max_samples is not None and max_samples < total:
            quotas = allocate(max_samples, {k: len(p) for k, p in present.items()})
            present = {k: p.take(stratified_pick(p.y, quotas[k], seed)) for k, p in present.items()}
            notes.append(Msg("max_samples: {count:,} used", {"count": sum(len(p) for p in present.values())}))
        parts = dict(present)
        if "train" in present and "val" not in present and wanted & {"train", "val"}:
            train = readable(present["train"], "training")
            keep, carved = split_indices(spec, np.arange(len(train)), train.y, raw.split.val, seed)
            parts["train"], parts["val"] = train.take(keep), train.take(carved)
    return parts, notes


def _load_labelled(spec: Any, raw: RawData, decoder: PartDecoder, seed: int,
                   wanted: frozenset[str]) -> LoadedData:
    classes = list(raw.classes)
    decoder.classes = classes
    parts, notes = _choose_parts(spec, raw, seed, wanted, decoder.readable)
    lacking = sorted(wanted - set(parts), key=ALL_SPLITS.index)
    if lacking:
        have = "/".join(_SPLIT_WORD[k] for k in ALL_SPLITS if k in parts)
        raise DataError(
            f"Dataset '{spec.name}' has no {' or '.join(_SPLIT_WORD[k] for k in lacking)} images "
            f"(only {have}: evaluate-only data), which training needs. Evaluate a model as loaded "
            "on it (an experiment without train), or add training data.")

    stream = "train" in wanted and decoder.cropper is None and _streams(spec, parts["train"], decoder)
    loaded = {}
    for name in ALL_SPLITS:
        if name not in wanted:
            loaded[name] = decoder.empty()
        elif name == "train" and stream:
            loaded[name] = decoder.on_disk(parts[name])
        else:
            loaded[name] = decoder.memory(parts[name], _SPLIT_WORD[name])
    for name in ALL_SPLITS:
        if name in wanted and len(loaded[name]) == 0:
            counts = " / ".join(f"{len(loaded[k])} {_SPLIT_WORD[k]}" for k in ALL_SPLITS if k in wanted)
            raise DataError(
                f"Dataset '{spec.name}': the {_SPLIT_WORD[name]} split is empty after loading "
                f"({counts} images); give more data or a larger max_samples."
            )
    skipped = decoder.skipped
    if skipped:
        notes.append(_unreadable(len(skipped)))
    notes += _crop_notes(decoder)
    if loaded["train"].streamed:
        notes.append(Msg("training images streamed from disk"))
    if wanted == {"test"}:
        notes.append(Msg("test split only"))
    return LoadedData(classes=classes, train=loaded["train"], val=loaded["val"], test=loaded["test"],
                      skipped=skipped, description=with_notes(raw.description, notes))


_SPLIT_WORD = {"train": "train", "val": "validation", "test": "test"}


def _unreadable(count: int) -> Msg:
    return plural_msg("{count:,} unreadable file skipped", "{count:,} unreadable files skipped",
                      {"count": count})


def _crop_notes(decoder: PartDecoder) -> list[Msg | str]:
    notes: list[Msg | str] = []
    if decoder.cropper is not None:
        describe = getattr(decoder.cropper, "describe", None)
        if describe is not None:
            notes.append(describe())
    if decoder.no_face_skipped:
        n = decoder.no_face_skipped
        notes.append(plural_msg("{count:,} image without a face skipped",
                                "{count:,} images without a face skipped", {"count": n}))
    return notes


def _check_label_range(spec: Any, y: np.ndarray, n_classes: int) -> None:
    if y.size and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        bad = sorted({int(v) for v in y[(y < 0) | (y >= n_classes)]})[:10]
        raise DataError(
            f"Dataset '{spec.name}': labels {bad} are outside the class list; "
            f"expected 0..{n_classes - 1} for {n_classes} classes."
        )


STREAM_MEMORY_SHARE = 0.25
"""``stream = "auto"`` streams training images that would fill more than this share of the
memory available when the dataset is loaded."""


def _streams(spec: Any, part: RawPart, decoder: PartDecoder) -> bool:
    """Whether the training images of ``part`` stay on disk (see ImageFolderDataset.stream).
    Cropped datasets are always decoded into memory (the crop is found once, at load time)."""
    choice = getattr(spec, "stream", False)
    if part.files is None or choice is False:
        return False
    if choice is True:
        return True
    available = available_memory_bytes()
    height, width = decoder.size
    return available is not None and len(part) * height * width * decoder.channels > \
        STREAM_MEMORY_SHARE * available


def _load_unlabelled(spec: Any, raw: RawData, decoder: PartDecoder) -> LoadedData:
    """Finish an unlabelled dataset: every image is a test image with label -1, nothing split."""
    if raw.test is None or len(raw.test) == 0:
        raise DataError(f"Dataset '{spec.name}': the loader found no images.")
    test = decoder.memory(raw.test, "images")
    skipped = list(raw.skipped) + decoder.skipped
    notes = _crop_notes(decoder)
    if skipped:
        notes.insert(0, _unreadable(len(skipped)))
    description = with_notes(raw.description, notes)
    return LoadedData(
        classes=[], train=decoder.empty(), val=decoder.empty(), test=test, skipped=skipped,
        description=description, labelled=False, sources=list(raw.sources),
        source_index=raw.source_index, face_index=raw.face_index,
    )
