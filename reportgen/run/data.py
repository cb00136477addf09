"""Dataset loading: a manifest dataset spec → uint8 image arrays split into train/val/test.

Every ``kind`` plugs in through three registries keyed on the kind string:

* ``@register_loader(kind)``  — ``(spec, base_dir) -> RawData``: the class list plus either one
  ``pool`` (split here by ``spec.split``) or predefined ``train``/``test`` (+ optional ``val``)
  parts, at the source resolution. A part holds either an image array or a list of image files
  that are decoded later (after ``max_samples`` has picked which ones are needed).
* ``@register_classes(kind)`` — ``(spec, base_dir) -> list[str]``: class names, cheaply.
* ``@register_check(kind)``   — ``(spec, base_dir) -> list[str]``: cheap validation problems.

The shared pipeline in :func:`load_dataset` then subsamples (``max_samples``), decodes,
resizes/converts to the target size and channel count, and splits (stratified, seeded).
Image files of a streamed training split (``stream``) are not decoded here: the split keeps
their paths, and the training input pipeline decodes them batch by batch.

Heavy libraries (scikit-learn, Pillow) are imported lazily so ``reportgen validate`` stays fast.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.config.schema import FER2013_CLASSES, SplitSpec
from reportgen.errors import DataError

if TYPE_CHECKING:
    from reportgen.explain.faces import Face

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".gif")
FER2013_COLUMNS = ("emotion", "pixels", "Usage")
FER2013_SIDE = 48
DIGITS_CLASSES = [str(i) for i in range(10)]


# --------------------------------------------------------------------------- public results


@dataclass(eq=False)
class ImageSet:
    """One split: ``x`` uint8 (N, H, W, C) at the target size, ``y`` int64 (N,) class indices.

    A streamed split (image folders with ``stream``) keeps ``files`` instead of pixels: ``x`` is
    then empty, (0, H, W, C), and :meth:`pixels` / :meth:`chunks` decode from disk.
    """

    x: np.ndarray
    y: np.ndarray
    files: list[Path] | None = None
    """Streamed split only: the image file of each label, decoded when needed."""

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def streamed(self) -> bool:
        return self.files is not None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of every image."""
        return tuple(int(v) for v in self.x.shape[1:])  # type: ignore[return-value]

    def pixels(self, idx: np.ndarray | slice) -> np.ndarray:
        """uint8 (n, H, W, C) images at ``idx`` (decoded from disk when streamed)."""
        if self.files is None:
            return self.x[idx]
        picked = np.arange(len(self))[idx]
        return decode_files([self.files[i] for i in picked], self.image_shape)

    def chunks(self, size: int) -> Iterator[np.ndarray]:
        """All images in order, ``size`` at a time (all at once when held in memory)."""
        if self.files is None:
            yield self.x
            return
        for start in range(0, len(self), size):
            yield self.pixels(slice(start, start + size))


@dataclass(eq=False)
class SourceImage:
    """An original photo of an unlabelled (``images``) dataset, for face panels."""

    name: str
    """The sample name (``astronaut``) or the file path relative to the dataset folder."""
    image: np.ndarray
    """uint8 RGB (H, W, 3), shrunk to at most ``SOURCE_MAX_SIDE`` pixels on its longer side."""
    faces: list[Face]
    """Faces found in ``image`` (its coordinates), most confident first; empty without face_crop."""
    crops: list[tuple[int, int, int, int]] = field(default_factory=list)
    """The square (x, y, side, side) cut around each face for the model (see faces.crop_box)."""

    def face_box_in_crop(self, k: int) -> tuple[float, float, float, float]:
        """Face k's detected box inside its crop, as shares of the crop side: (x0, y0, x1, y1)."""
        left, top, side, _ = self.crops[k]
        x, y, w, h = self.faces[k].box
        return tuple(float(np.clip(v, 0.0, 1.0)) for v in
                     ((x - left) / side, (y - top) / side, (x + w - left) / side, (y + h - top) / side))


@dataclass(eq=False)
class LoadedData:
    classes: list[str]
    """Label names; empty for unlabelled data (the model's classes name the outputs then)."""
    train: ImageSet
    val: ImageSet
    test: ImageSet
    skipped: list[tuple[str, str]]
    """(file path, reason) for every unreadable image file that was left out."""
    description: str
    """One short English line describing the source, e.g. "scikit-learn digits: 1,797 images, 8×8 gray"."""
    labelled: bool = True
    """False for ``kind = "images"``: train/val are empty, every test label is -1."""
    sources: list[SourceImage] = field(default_factory=list)
    """Unlabelled data only: the original photos the test images come from."""
    source_index: np.ndarray | None = None
    """Unlabelled data only: int64 (N,), the ``sources`` entry of each test image."""
    face_index: np.ndarray | None = None
    """Unlabelled data only: int64 (N,), which of its source's ``faces`` each test image is
    cropped from, or -1 for a whole photo (no face_crop)."""


# --------------------------------------------------------------------------- loader contract


@dataclass(eq=False)
class RawPart:
    """Labels plus either source images (``x``) or image files to decode (``files``)."""

    y: np.ndarray
    x: np.ndarray | None = None
    """uint8 (N, H, W) or (N, H, W, C) with C in 1..4, any source size."""
    files: list[Path] | None = None
    root: Path | None = None
    """For ``files``: the folder holding one sub-folder per class (named in error messages)."""
    images: list[np.ndarray] | None = None
    """Already decoded uint8 images of differing sizes (e.g. face crops), one per label."""

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def take(self, idx: np.ndarray) -> RawPart:
        idx = np.asarray(idx, dtype=np.int64)
        return RawPart(
            y=self.y[idx],
            x=None if self.x is None else self.x[idx],
            files=None if self.files is None else [self.files[i] for i in idx],
            root=self.root,
            images=None if self.images is None else [self.images[i] for i in idx],
        )


@dataclass(eq=False)
class RawData:
    classes: list[str]
    description: str
    pool: RawPart | None = None
    """Everything in one part, split by ``split`` (test first, then val from the rest)."""
    train: RawPart | None = None
    val: RawPart | None = None
    """Predefined validation part; if None (and ``pool`` is None) it is carved from train."""
    test: RawPart | None = None
    split: SplitSpec = field(default_factory=SplitSpec)
    labelled: bool = True
    """False: ``test`` holds every image with label -1, nothing is split or subsampled here
    (the loader applies ``max_samples``), and ``classes`` is empty."""
    sources: list[SourceImage] = field(default_factory=list)
    source_index: np.ndarray | None = None
    face_index: np.ndarray | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """Files the loader itself failed to decode."""


Loader = Callable[[Any, Path], RawData]
ClassLister = Callable[[Any, Path], list[str]]
Checker = Callable[[Any, Path], list[str]]

LOADERS: dict[str, Loader] = {}
CLASS_LISTERS: dict[str, ClassLister] = {}
CHECKERS: dict[str, Checker] = {}


def register_loader(kind: str) -> Callable[[Loader], Loader]:
    def decorate(func: Loader) -> Loader:
        LOADERS[kind] = func
        return func

    return decorate


def register_classes(kind: str) -> Callable[[ClassLister], ClassLister]:
    def decorate(func: ClassLister) -> ClassLister:
        CLASS_LISTERS[kind] = func
        return func

    return decorate


def register_check(kind: str) -> Callable[[Checker], Checker]:
    def decorate(func: Checker) -> Checker:
        CHECKERS[kind] = func
        return func

    return decorate


def _registered(registry: dict[str, Any], spec: Any) -> Any:
    kind = getattr(spec, "kind", None)
    if kind not in registry:
        known = ", ".join(sorted(registry))
        name = getattr(spec, "name", "?")
        raise DataError(f"Dataset '{name}': unknown kind {kind!r}; known kinds: {known}.")
    return registry[kind]


# --------------------------------------------------------------------------- public API


def dataset_classes(spec: Any, base_dir: Path) -> list[str]:
    """Class names in label order, without decoding any image (raises DataError if unknowable)."""
    return list(_registered(CLASS_LISTERS, spec)(spec, Path(base_dir)))


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
    raw = _registered(LOADERS, spec)(spec, Path(base_dir))
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


# --------------------------------------------------------------------------- shared helpers


def resolve_path(base_dir: Path, path: Path | str) -> Path:
    """``path`` made absolute against ``base_dir`` (``~`` expanded, symlinks kept)."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path(base_dir) / p
    return Path(os.path.abspath(p))


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


def decode_files(paths: Sequence[Path | str | bytes], shape: tuple[int, int, int]) -> np.ndarray:
    """Decode image files → uint8 (n, H, W, C), exactly as when loading into memory.

    Raises DataError naming the first file that cannot be decoded.
    """
    height, width, channels = shape
    out = np.empty((len(paths), height, width, channels), dtype=np.uint8)
    for i, path in enumerate(paths):
        path = Path(os.fsdecode(path))
        try:
            out[i] = decode_image(path, (height, width), channels)
        except Exception as exc:  # noqa: BLE001 - any decoding failure
            raise DataError(f"Image file {path} could not be decoded ({type(exc).__name__}: {exc}); "
                            "fix or remove it.") from None
    return out


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


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma exactly as Pillow's RGB→"L" conversion (fixed point, rounded)."""
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)[..., None]


def convert_images(x: np.ndarray, size: tuple[int, int], channels: int) -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, C≤4) → uint8 (N, height, width, channels).

    RGB→gray uses Pillow's ITU-R 601 luma, gray→RGB repeats the channel, alpha is dropped;
    resizing is Pillow bilinear (antialiased when shrinking) and skipped at the right size.
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {x.dtype}")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"expected images shaped (N, H, W) or (N, H, W, C≤4), got {x.shape}")
    if x.shape[-1] == 4:
        x = x[..., :3]
    elif x.shape[-1] == 2:
        x = x[..., :1]
    if channels == 1 and x.shape[-1] == 3:
        x = _luma(x)
    height, width = size
    if x.shape[1:3] != (height, width):
        from PIL import Image

        out = np.empty((x.shape[0], height, width, x.shape[-1]), dtype=np.uint8)
        for i, img in enumerate(x):
            pil = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
            resized = np.asarray(pil.resize((width, height), Image.Resampling.BILINEAR))
            out[i] = resized.reshape(height, width, x.shape[-1])
        x = out
    if channels == 3 and x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return np.ascontiguousarray(x, dtype=np.uint8)


def _open_image(path: Path, mode: str) -> Any:
    """Decode one image file with Pillow into a loaded PIL image of ``mode`` ("L" or "RGB").

    EXIF orientation is applied; 16-bit and float images are scaled to 0..255.
    """
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(path) as opened:
            opened.load()
            img = opened
            try:
                img = ImageOps.exif_transpose(opened)
            except Exception:  # noqa: BLE001 - broken EXIF: keep the pixels as stored
                img = opened
            if img.mode in ("I", "F") or img.mode.startswith("I;16"):
                arr = np.asarray(img, dtype=np.float64)
                top = float(arr.max()) if arr.size else 0.0
                if top <= 1.0 and img.mode == "F":
                    arr = arr * 255.0
                elif top > 255.0:
                    arr = arr * (255.0 / 65535.0)
                img = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))
            return img.convert(mode)


def decode_image(path: Path, size: tuple[int, int], channels: int) -> np.ndarray:
    """Decode one image file with Pillow → uint8 (height, width, channels). Raises on bad files."""
    from PIL import Image

    height, width = size
    img = _open_image(path, "L" if channels == 1 else "RGB")
    if img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    return arr.reshape(height, width, channels)


def _shape_text(height: int, width: int, channels: int | None) -> str:
    kind = {1: "gray", 3: "RGB", 4: "RGBA", 2: "gray+alpha"}.get(channels or 1, f"{channels}-channel")
    return f"{height}×{width} {kind}"


# --------------------------------------------------------------------------- digits


def _digit_labels(spec: Any) -> list[int]:
    return list(spec.digits) if spec.digits is not None else list(range(10))


@register_classes("digits")
def _digits_classes(spec: Any, base_dir: Path) -> list[str]:
    labels = _digit_labels(spec)
    classes = list(spec.classes or [str(d) for d in labels])
    if len(classes) != len(labels):
        raise DataError(
            f"Dataset '{spec.name}': the digits dataset has {len(labels)} classes here "
            f"({labels}), but classes lists {len(classes)} names: {classes}."
        )
    return classes


@register_check("digits")
def _digits_check(spec: Any, base_dir: Path) -> list[str]:
    labels = _digit_labels(spec)
    if spec.classes is not None and len(spec.classes) != len(labels):
        return [f"classes: the digits dataset has {len(labels)} classes here ({labels}), "
                f"got {len(spec.classes)} names"]
    return []


@register_loader("digits")
def _digits_load(spec: Any, base_dir: Path) -> RawData:
    from sklearn.datasets import load_digits

    classes = _digits_classes(spec, base_dir)
    labels = _digit_labels(spec)
    digits = load_digits()
    keep = np.isin(digits.target, labels)
    x = np.clip(np.rint(digits.images[keep] * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    # Class index = position of the digit in `digits` (the manifest's order).
    index_of = np.full(10, -1, dtype=np.int64)
    index_of[labels] = np.arange(len(labels))
    y = index_of[digits.target[keep]]
    h, w = x.shape[1:3]
    subset = "" if spec.digits is None else f" (digits {', '.join(map(str, labels))})"
    return RawData(
        classes=classes,
        description=f"scikit-learn digits{subset}: {len(y):,} images, {_shape_text(h, w, 1)}",
        pool=RawPart(y=y, x=x),
        split=spec.split,
    )


# --------------------------------------------------------------------------- FER2013 CSV


def _fer_header_problem(path: Path) -> str | None:
    """None if ``path`` starts with a header holding emotion, pixels and Usage."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return f"cannot read {path}: {exc}"
    found = [c.strip() for c in header] if header else []
    if not all(col in found for col in FER2013_COLUMNS):
        shown = ",".join(found) if found else "an empty file"
        return f"expected the CSV header {','.join(FER2013_COLUMNS)} in {path}, found {shown!r}"
    return None


@register_classes("fer2013_csv")
def _fer_classes(spec: Any, base_dir: Path) -> list[str]:
    return list(spec.classes or FER2013_CLASSES)


@register_check("fer2013_csv")
def _fer_check(spec: Any, base_dir: Path) -> list[str]:
    path = resolve_path(base_dir, spec.path)
    if not path.exists():
        return [f"path: file not found: {path}"]
    if not path.is_file():
        return [f"path: not a file: {path}"]
    problem = _fer_header_problem(path)
    return [f"path: {problem}"] if problem else []


@register_loader("fer2013_csv")
def _fer_load(spec: Any, base_dir: Path) -> RawData:
    path = resolve_path(base_dir, spec.path)
    if not path.is_file():
        raise DataError(f"Dataset '{spec.name}': FER2013 CSV file not found: {path}.")
    problem = _fer_header_problem(path)
    if problem:
        raise DataError(f"Dataset '{spec.name}': {problem}.")
    classes = _fer_classes(spec, base_dir)
    n_classes = len(classes)
    usages = [spec.train_usage, spec.val_usage, spec.test_usage]
    usage_part = {u: i for i, u in reversed(list(enumerate(usages)))}
    n_pixels = FER2013_SIDE * FER2013_SIDE
    labels: list[int] = []
    parts: list[int] = []
    pixels: list[np.ndarray] = []

    def fail(line: int, what: str) -> DataError:
        return DataError(f"Dataset '{spec.name}': {path}, line {line}: {what}.")

    with open(path, newline="", encoding="utf-8-sig") as fh, warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        reader = csv.reader(fh)
        header = [c.strip() for c in next(reader)]
        i_label, i_pixels, i_usage = (header.index(c) for c in FER2013_COLUMNS)
        width = max(i_label, i_pixels, i_usage) + 1
        try:
            for row in reader:
                line = reader.line_num
                if not row or not any(c.strip() for c in row):
                    continue
                if len(row) < width:
                    raise fail(line, f"expected {len(header)} columns ({','.join(header)}), found {len(row)}")
                try:
                    label = int(row[i_label])
                except ValueError:
                    raise fail(
                        line, f"emotion must be an integer class index, found {row[i_label]!r}"
                    ) from None
                if not 0 <= label < n_classes:
                    raise fail(line, f"emotion {label} is outside the allowed range 0..{n_classes - 1} "
                                     f"({n_classes} classes: {', '.join(classes)})")
                usage = row[i_usage].strip()
                if usage not in usage_part:
                    raise fail(line, f"Usage {usage!r} is none of the configured train/val/test usages "
                                     f"{usages} (train_usage, val_usage, test_usage)")
                try:
                    values = np.fromstring(row[i_pixels], dtype=np.int32, sep=" ")
                except (ValueError, DeprecationWarning):
                    raise fail(line, f"pixels must be {n_pixels} space-separated integers 0..255; "
                                     "found a non-numeric value") from None
                if values.size != n_pixels:
                    raise fail(line, f"expected {n_pixels} pixel values "
                                     f"({FER2013_SIDE}×{FER2013_SIDE} gray), "
                                     f"found {values.size}")
                if values.size and (values.min() < 0 or values.max() > 255):
                    raise fail(line, "pixel values must be within 0..255, "
                                     f"found {int(values.min())}..{int(values.max())}")
                labels.append(label)
                parts.append(usage_part[usage])
                pixels.append(values.astype(np.uint8))
        except csv.Error as exc:
            raise fail(reader.line_num, f"malformed CSV ({exc})") from None

    y = np.asarray(labels, dtype=np.int64)
    part = np.asarray(parts, dtype=np.int64)
    x = (np.stack(pixels) if pixels else np.zeros((0, n_pixels), np.uint8)).reshape(
        -1, FER2013_SIDE, FER2013_SIDE
    )
    counts = [int((part == i).sum()) for i in range(3)]
    for usage, field_name, count in zip(usages, ("train_usage", "val_usage", "test_usage"), counts):
        if count == 0:
            found = sorted({r for r in usage_part if (part == usage_part[r]).any()})
            raise DataError(
                f"Dataset '{spec.name}': {path} has no rows with Usage {usage!r} ({field_name}); "
                f"rows found for {found if found else 'no usage at all'}."
            )
    sel = [np.flatnonzero(part == i) for i in range(3)]
    return RawData(
        classes=classes,
        description=(
            f"FER2013 CSV {path.name}: {len(y):,} images, {_shape_text(FER2013_SIDE, FER2013_SIDE, 1)} "
            f"({counts[0]:,} {usages[0]} / {counts[1]:,} {usages[1]} / {counts[2]:,} {usages[2]})"
        ),
        train=RawPart(y=y[sel[0]], x=x[sel[0]]),
        val=RawPart(y=y[sel[1]], x=x[sel[1]]),
        test=RawPart(y=y[sel[2]], x=x[sel[2]]),
    )


# --------------------------------------------------------------------------- image folders


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _class_subfolders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not _is_hidden(p.name))


def _image_files(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively, hidden entries skipped), sorted by relative path."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not _is_hidden(d)]
        for name in filenames:
            if not _is_hidden(name) and name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _scan_folder(
    root: Path, expected: list[str] | None, expected_from: str
) -> tuple[list[str], list[str], dict[str, list[Path]]]:
    """(problems, classes, files per class) for one folder with a sub-folder per class."""
    if not root.exists():
        return [f"folder not found: {root}"], [], {}
    if not root.is_dir():
        return [f"not a folder: {root}"], [], {}
    found = _class_subfolders(root)
    if not found:
        return [f"no class sub-folders in {root}; expected one sub-folder per class"], [], {}
    if expected is not None:
        missing = [c for c in expected if c not in found]
        extra = [c for c in found if c not in expected]
        if missing or extra:
            detail = "; ".join(
                part for part in (
                    f"missing {missing}" if missing else "",
                    f"extra {extra}" if extra else "",
                ) if part
            )
            return [f"class sub-folders of {root} do not match {expected_from} {expected}: {detail}"], [], {}
    classes = list(expected) if expected is not None else found
    files = {c: _image_files(root / c) for c in classes}
    exts = " ".join(IMAGE_EXTENSIONS)
    problems = [f"class folder {root / c} has no image files ({exts})" for c in classes if not files[c]]
    return problems, classes, files


def _folder_layout(spec: Any, base_dir: Path) -> list[tuple[str, Path]]:
    if spec.path is not None:
        return [("path", resolve_path(base_dir, spec.path))]
    fields = [("train_dir", spec.train_dir), ("val_dir", spec.val_dir), ("test_dir", spec.test_dir)]
    return [(name, resolve_path(base_dir, value)) for name, value in fields if value is not None]


def _scan_layout(
    spec: Any, base_dir: Path
) -> tuple[list[str], list[str], dict[str, tuple[Path, dict[str, list[Path]]]]]:
    """(problems as "field: message", classes, {field: (root, files per class)})."""
    problems: list[str] = []
    scanned: dict[str, tuple[Path, dict[str, list[Path]]]] = {}
    classes: list[str] = list(spec.classes) if spec.classes is not None else []
    for field_name, root in _folder_layout(spec, base_dir):
        if spec.classes is not None:
            expected, source = list(spec.classes), "classes"
        elif field_name in ("path", "train_dir"):
            expected, source = None, ""
        else:
            if "train_dir" not in scanned:  # train_dir itself is broken: nothing to compare against
                expected, source = None, ""
            else:
                expected, source = classes, "the classes of train_dir"
        found_problems, found_classes, files = _scan_folder(root, expected, source)
        problems += [f"{field_name}: {p}" for p in found_problems]
        if not found_problems:
            scanned[field_name] = (root, files)
            if not classes:
                classes = found_classes
    return problems, classes, scanned


@register_classes("image_folder")
def _folder_classes(spec: Any, base_dir: Path) -> list[str]:
    if spec.classes is not None:
        return list(spec.classes)
    field_name, root = _folder_layout(spec, base_dir)[0]
    if not root.is_dir():
        raise DataError(f"Dataset '{spec.name}': {field_name} folder not found: {root}.")
    found = _class_subfolders(root)
    if not found:
        raise DataError(f"Dataset '{spec.name}': no class sub-folders in {root} ({field_name}); "
                        "expected one sub-folder per class.")
    return found


@register_check("image_folder")
def _folder_check(spec: Any, base_dir: Path) -> list[str]:
    return _scan_layout(spec, base_dir)[0]


@register_loader("image_folder")
def _folder_load(spec: Any, base_dir: Path) -> RawData:
    problems, classes, scanned = _scan_layout(spec, base_dir)
    if problems:
        raise DataError(f"Dataset '{spec.name}': " + "; ".join(problems) + ".")
    index = {c: i for i, c in enumerate(classes)}

    def part(field_name: str) -> RawPart:
        root, files = scanned[field_name]
        paths = [p for c in classes for p in files[c]]
        y = np.asarray([index[c] for c in classes for _ in files[c]], dtype=np.int64)
        return RawPart(y=y, files=paths, root=root)

    parts = {name: part(name) for name in scanned}
    total = sum(len(p) for p in parts.values())
    where = ", ".join(str(root) for root, _ in scanned.values())
    description = f"image folder {where}: {total:,} image files in {len(classes)} classes"
    if "path" in parts:
        return RawData(classes=classes, description=description, pool=parts["path"], split=spec.split)
    return RawData(
        classes=classes,
        description=description,
        train=parts["train_dir"],
        val=parts.get("val_dir"),
        test=parts["test_dir"],
        split=spec.split,
    )


# --------------------------------------------------------------------------- NumPy .npz

NPZ_REQUIRED = ("x_train", "y_train", "x_test", "y_test")


def _npz_keys(path: Path) -> list[str]:
    """The archive's keys; raises DataError-ready messages as ValueError."""
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path}")
    if not path.is_file():
        raise FileNotFoundError(f"not a file: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path} is not a NumPy .npz archive ({exc})") from None
    return [n[:-4] if n.endswith(".npy") else n for n in names]


def _npz_key_problems(path: Path, keys: Sequence[str]) -> list[str]:
    problems = []
    missing = [k for k in NPZ_REQUIRED if k not in keys]
    if missing:
        problems.append(f"{path} lacks the arrays {missing}; expected x_train, y_train, x_test, y_test "
                        f"(optionally x_val, y_val), found {sorted(keys)}")
    if ("x_val" in keys) != ("y_val" in keys):
        problems.append(f"{path} has only one of x_val and y_val; give both or neither")
    return problems


def _npz_labels(spec: Any, path: Path, key: str, y: np.ndarray, n: int | None) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2 and y.shape[1] > 1:
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            raise DataError(f"Dataset '{spec.name}': {path} array {key} has shape {y.shape}; expected "
                            "(N,) class indices or (N, K) one-hot rows.")
        y = y.argmax(axis=1)
    if y.ndim != 1:
        raise DataError(f"Dataset '{spec.name}': {path} array {key} has shape {y.shape}; "
                        "expected (N,) class indices.")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not (y == np.round(y)).all():
            raise DataError(f"Dataset '{spec.name}': {path} array {key} holds non-integer labels; "
                            "expected integer class indices.")
    elif y.dtype.kind not in "iub":
        raise DataError(f"Dataset '{spec.name}': {path} array {key} has dtype {y.dtype}; "
                        "expected integer class indices.")
    y = y.astype(np.int64)
    if n is not None and len(y) != n:
        x_key = "x_" + key[2:]
        raise DataError(
            f"Dataset '{spec.name}': {path} has {n} images in {x_key} but {len(y)} labels in {key}."
        )
    return y


def _npz_load_labels(spec: Any, path: Path) -> dict[str, np.ndarray]:
    try:
        keys = _npz_keys(path)
    except (FileNotFoundError, ValueError) as exc:
        raise DataError(f"Dataset '{spec.name}': {exc}.") from None
    problems = _npz_key_problems(path, keys)
    if problems:
        raise DataError(f"Dataset '{spec.name}': " + "; ".join(problems) + ".")
    with np.load(path, allow_pickle=False) as archive:
        return {
            k: _npz_labels(spec, path, k, archive[k], None)
            for k in ("y_train", "y_val", "y_test") if k in keys
        }


def _npz_class_names(spec: Any, path: Path, labels: dict[str, np.ndarray]) -> list[str]:
    if spec.classes is not None:
        classes = list(spec.classes)
    else:
        lowest = min((int(y.min()) for y in labels.values() if y.size), default=0)
        if lowest < 0:
            raise DataError(f"Dataset '{spec.name}': {path} has negative label {lowest}; "
                            "expected class indices 0..K-1.")
        top = max((int(y.max()) for y in labels.values() if y.size), default=0)
        classes = [str(i) for i in range(top + 1)]
    for key, y in labels.items():
        bad = y[(y < 0) | (y >= len(classes))]
        if bad.size:
            raise DataError(
                f"Dataset '{spec.name}': {path} array {key} has labels {sorted(set(bad.tolist()))[:10]} "
                f"outside the class list; expected 0..{len(classes) - 1} for classes {classes}."
            )
    return classes


@register_classes("npz")
def _npz_classes(spec: Any, base_dir: Path) -> list[str]:
    if spec.classes is not None:
        return list(spec.classes)
    path = resolve_path(base_dir, spec.path)
    return _npz_class_names(spec, path, _npz_load_labels(spec, path))


@register_check("npz")
def _npz_check(spec: Any, base_dir: Path) -> list[str]:
    path = resolve_path(base_dir, spec.path)
    try:
        keys = _npz_keys(path)
    except (FileNotFoundError, ValueError) as exc:
        return [f"path: {exc}"]
    return [f"path: {p}" for p in _npz_key_problems(path, keys)]


@register_loader("npz")
def _npz_load(spec: Any, base_dir: Path) -> RawData:
    path = resolve_path(base_dir, spec.path)
    labels = _npz_load_labels(spec, path)
    classes = _npz_class_names(spec, path, labels)
    names = [n for n in ("train", "val", "test") if f"y_{n}" in labels]
    with np.load(path, allow_pickle=False) as archive:
        xs = {n: np.asarray(archive[f"x_{n}"]) for n in names}
    for n, x in xs.items():
        if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] not in (1, 2, 3, 4)):
            raise DataError(f"Dataset '{spec.name}': {path} array x_{n} has shape {x.shape}; "
                            "expected (N, H, W) or (N, H, W, C) with C = 1 or 3.")
        if len(x) != len(labels[f"y_{n}"]):
            raise DataError(f"Dataset '{spec.name}': {path} has {len(x)} images in x_{n} "
                            f"but {len(labels[f'y_{n}'])} labels in y_{n}.")
        if x.dtype.kind not in "uif":
            raise DataError(f"Dataset '{spec.name}': {path} array x_{n} has dtype {x.dtype}; "
                            "expected uint8 or float pixels.")
    floats = [x for x in xs.values() if x.dtype.kind == "f" and x.size]
    scale = 1.0
    if floats:
        if not all(np.isfinite(x).all() for x in floats):
            raise DataError(f"Dataset '{spec.name}': {path} has NaN or infinite pixel values.")
        top = max(float(x.max()) for x in floats)
        scale = 255.0 if top <= 1.0 else 1.0
    for n, x in list(xs.items()):
        if x.dtype == np.uint8:
            continue
        if x.size:
            lo, hi = float(x.min()), float(x.max())
            limit = 1.0 if (x.dtype.kind == "f" and scale == 255.0) else 255.0
            if lo < 0 or hi > limit:
                raise DataError(f"Dataset '{spec.name}': {path} array x_{n} has pixel values {lo:g}..{hi:g}; "
                                "expected 0..255 (uint8 or float) or 0..1 (float).")
        factor = scale if x.dtype.kind == "f" else 1.0
        xs[n] = np.clip(np.rint(x.astype(np.float32) * factor), 0, 255).astype(np.uint8)
    ref = xs["train"]
    channels = ref.shape[3] if ref.ndim == 4 else 1
    total = sum(len(y) for y in labels.values())
    return RawData(
        classes=classes,
        description=(
            f"NumPy archive {path.name}: {total:,} images, "
            f"{_shape_text(ref.shape[1], ref.shape[2], channels)}"
        ),
        train=RawPart(y=labels["y_train"], x=xs["train"]),
        val=RawPart(y=labels["y_val"], x=xs["val"]) if "val" in xs else None,
        test=RawPart(y=labels["y_test"], x=xs["test"]),
        split=spec.split,
    )


# --------------------------------------------------------------------------- unlabelled images

SOURCE_MAX_SIDE = 1024
"""Photos of an ``images`` dataset are shrunk to this longer side before face detection and
cropping (keeps memory and MTCNN time bounded for camera photos; model inputs are far smaller)."""


def _sample_problem(name: str) -> str | None:
    import skimage.data

    if not callable(getattr(skimage.data, name, None)):
        return f"{name!r} is not a scikit-image sample photo (skimage.data.{name} does not exist)"
    return None


def _sample_photo(name: str) -> np.ndarray:
    import skimage.data

    return np.asarray(getattr(skimage.data, name)())


def _shrink(image: np.ndarray, max_side: int = SOURCE_MAX_SIDE) -> np.ndarray:
    height, width = image.shape[:2]
    if max(height, width) <= max_side:
        return image
    from PIL import Image

    scale = max_side / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(new_size, Image.Resampling.BILINEAR))


def _named_list(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


@register_classes("images")
def _images_classes(spec: Any, base_dir: Path) -> list[str]:
    """Always empty: unlabelled images have no classes; the model's ``classes`` name its outputs."""
    return []


@register_check("images")
def _images_check(spec: Any, base_dir: Path) -> list[str]:
    import importlib.util

    problems = []
    if spec.classes is not None:
        problems.append("classes: an images dataset has no labels; give the class names on the model "
                        "(models[].classes) instead")
    if spec.path is not None:
        root = resolve_path(base_dir, spec.path)
        if not root.exists():
            problems.append(f"path: folder not found: {root}")
        elif not root.is_dir():
            problems.append(f"path: not a folder: {root}")
        elif not _image_files(root):
            problems.append(f"path: no image files ({' '.join(IMAGE_EXTENSIONS)}) in {root}")
    if spec.samples:
        problems += [f"samples: {p}" for p in map(_sample_problem, spec.samples) if p]
    if spec.face_crop:
        missing = [m for m in ("mtcnn", "lz4", "joblib") if importlib.util.find_spec(m) is None]
        if missing:
            problems.append(f"face_crop: face detection needs the packages {missing} "
                            "(pip install mtcnn==1.0.0 lz4 joblib)")
    return problems


@register_loader("images")
def _images_load(spec: Any, base_dir: Path) -> RawData:
    """Photos from ``path`` (sorted, recursive) then ``samples`` (in order); with ``face_crop``
    every face found becomes one image. ``max_samples`` keeps the first images, stopping
    early so that no more photos are decoded or searched than needed."""
    inputs: list[tuple[str, Path | None, Callable[[], np.ndarray]]] = []  # (name, file | None, reader)
    where: list[str] = []
    if spec.path is not None:
        root = resolve_path(base_dir, spec.path)
        if not root.is_dir():
            raise DataError(f"Dataset '{spec.name}': path folder not found: {root}.")
        files = _image_files(root)
        where.append(f"folder {root} ({len(files):,} image file{'s' if len(files) != 1 else ''})")
        for path in files:
            inputs.append((path.relative_to(root).as_posix(), path,
                           lambda path=path: np.asarray(_open_image(path, "RGB"), dtype=np.uint8)))
    if spec.samples:
        for name in spec.samples:
            problem = _sample_problem(name)
            if problem:
                raise DataError(f"Dataset '{spec.name}': {problem}.")
            inputs.append((name, None, lambda name=name: _sample_photo(name)))
        plural = "s" if len(spec.samples) != 1 else ""
        where.append(f"scikit-image sample{plural} {', '.join(spec.samples)}")
    from reportgen.explain.faces import as_rgb_uint8  # light: mtcnn loads on first detection

    if spec.face_crop:
        from reportgen.explain.faces import crop_box, crop_face

    limit = spec.max_samples
    sources: list[SourceImage] = []
    images: list[np.ndarray] = []
    source_index: list[int] = []
    face_index: list[int] = []
    skipped: list[tuple[str, str]] = []
    searched: list[str] = []
    for name, path, read in inputs:
        if limit is not None and len(images) >= limit:
            break
        try:
            photo = _shrink(as_rgb_uint8(read()))
        except Exception as exc:  # noqa: BLE001 - any decoding failure means "unreadable"
            if path is not None:
                skipped.append((str(path), f"{type(exc).__name__}: {exc}"))
                continue
            raise DataError(f"Dataset '{spec.name}': cannot load the scikit-image sample {name!r} "
                            f"({type(exc).__name__}: {exc}).") from None
        faces, crops = [], []
        if spec.face_crop:
            faces = _find_faces(spec, photo)
            searched.append(name)
            for k, face in enumerate(faces):
                crops.append(crop_box(face, photo.shape, spec.face_margin))
                images.append(crop_face(photo, face, spec.face_margin))
                source_index.append(len(sources))
                face_index.append(k)
        else:
            images.append(photo)
            source_index.append(len(sources))
            face_index.append(-1)
        sources.append(SourceImage(name=name, image=photo, faces=faces, crops=crops))
    if not sources:
        detail = f" ({len(skipped)} unreadable file{'s' if len(skipped) != 1 else ''})" if skipped else ""
        raise DataError(f"Dataset '{spec.name}': no readable image in {'; '.join(where)}{detail}.")
    if not images:
        raise DataError(
            f"Dataset '{spec.name}': face_crop found no face with confidence ≥ "
            f"{spec.min_face_confidence:g} in {_named_list(searched)}; give photos with a visible "
            "face, lower min_face_confidence, or set face_crop = false to use the whole images."
        )
    limited = limit is not None and (
        len(images) > limit or len(sources) + len(skipped) < len(inputs)
    )
    if limit is not None:
        del images[limit:], source_index[limit:], face_index[limit:]
    n = len(images)
    if spec.face_crop:
        photos = f"{len(sources):,} photo{'s' if len(sources) != 1 else ''}"
        made = (f"{n:,} face crop{'s' if n != 1 else ''} from {photos} "
                f"(MTCNN, confidence ≥ {spec.min_face_confidence:g})")
    else:
        made = f"{n:,} image{'s' if n != 1 else ''}"
    if limited:
        made += f" (max_samples: {n:,} used)"
    return RawData(
        classes=[],
        description=f"unlabelled images, {'; '.join(where)}: {made}",
        test=RawPart(y=np.full(n, -1, dtype=np.int64), images=images),
        labelled=False,
        sources=sources,
        source_index=np.asarray(source_index, dtype=np.int64),
        face_index=np.asarray(face_index, dtype=np.int64),
        skipped=skipped,
    )


def _find_faces(spec: Any, photo: np.ndarray) -> list[Face]:
    try:
        from reportgen.explain.faces import detect_faces

        return detect_faces(photo, min_confidence=spec.min_face_confidence)
    except ImportError as exc:
        raise DataError(f"Dataset '{spec.name}': face_crop needs face detection: {exc}.") from None
