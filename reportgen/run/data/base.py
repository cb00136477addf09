"""The loader contract: result types, the per-kind registries and small shared helpers.

Every ``kind`` plugs in through three registries keyed on the kind string:

* ``@register_loader(kind)``  — ``(spec, base_dir) -> RawData``: the class list plus either one
  ``pool`` (split by ``spec.split``) or predefined ``train``/``test`` (+ optional ``val``)
  parts, at the source resolution. A part holds either an image array or a list of image files
  that are decoded later (after ``max_samples`` has picked which ones are needed).
* ``@register_classes(kind)`` — ``(spec, base_dir) -> list[str]``: class names, cheaply.
* ``@register_check(kind)``   — ``(spec, base_dir) -> list[str]``: cheap validation problems.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from reportgen.config.common import SplitSpec
from reportgen.errors import DataError
from reportgen.package_paths import PackagePathError, is_package_path, package_resource
from reportgen.report_types import Msg

if TYPE_CHECKING:
    from reportgen.run.faces import Face


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
    resize: str = "bilinear"
    """Streamed split only: the dataset's ``resize`` filter, used when decoding ``files``."""

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
        return self.decode_paths([self.files[i] for i in picked])

    def decode_paths(self, paths: Any) -> np.ndarray:
        """Decode image files of this (streamed) split exactly as when held in memory (its size,
        channels and ``resize`` filter); the training input pipeline calls this per batch."""
        from reportgen.run.data.decode import decode_files

        return decode_files(paths, self.image_shape, self.resize)

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
    description: Msg
    """One short line describing the source, e.g. "scikit-learn digits: 1,797 images, 8×8 gray"
    (translated in the report; ``translate_msg(d.description, "en")`` is the English)."""
    labelled: bool = True
    """False for ``kind = "images"``: train/val are empty, every test label is -1."""
    sources: list[SourceImage] = field(default_factory=list)
    """Unlabelled data only: the original photos the test images come from."""
    source_index: np.ndarray | None = None
    """Unlabelled data only: int64 (N,), the ``sources`` entry of each test image."""
    face_index: np.ndarray | None = None
    """Unlabelled data only: int64 (N,), which of its source's ``faces`` each test image is
    cropped from, or -1 for a whole photo (no face_crop)."""


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
    lazy: LazyImages | None = None
    """Images read only when needed (e.g. CSV pixel rows), one per label."""

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
            lazy=None if self.lazy is None else self.lazy.take(idx),
        )


class LazyImages(Protocol):
    """Images a loader has located but not read (e.g. FER2013 CSV pixel rows): ``read`` gives
    uint8 (N, H, W) or (N, H, W, C), raising DataError naming the bad row or file."""

    def __len__(self) -> int: ...

    def take(self, idx: np.ndarray) -> LazyImages: ...

    def read(self) -> np.ndarray: ...


@dataclass(eq=False)
class RawData:
    classes: list[str]
    description: Msg
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
SplitLister = Callable[[Any, Path], set[str]]
ClassLister = Callable[[Any, Path], list[str]]
Checker = Callable[[Any, Path], list[str]]

LOADERS: dict[str, Loader] = {}
CLASS_LISTERS: dict[str, ClassLister] = {}
CHECKERS: dict[str, Checker] = {}
SPLIT_LISTERS: dict[str, SplitLister] = {}
"""Kinds whose data may lack a split (evaluate-only data); every other kind has all three."""


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


def register_splits(kind: str) -> Callable[[SplitLister], SplitLister]:
    def decorate(func: SplitLister) -> SplitLister:
        SPLIT_LISTERS[kind] = func
        return func

    return decorate


def registered(registry: dict[str, Any], spec: Any) -> Any:
    kind = getattr(spec, "kind", None)
    if kind not in registry:
        known = ", ".join(sorted(registry))
        name = getattr(spec, "name", "?")
        raise DataError(f"Dataset '{name}': unknown kind {kind!r}; known kinds: {known}.")
    return registry[kind]


def resolve_path(base_dir: Path, path: Path | str) -> Path:
    """``path`` made absolute against ``base_dir`` (``~`` expanded, symlinks kept);
    ``pkg:PACKAGE/RESOURCE`` is the folder or file inside that installed package."""
    if is_package_path(path):
        try:
            return package_resource(path)
        except PackagePathError as exc:
            raise DataError(str(exc)) from None
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path(base_dir) / p
    return Path(os.path.abspath(p))


def shape_msg(height: int, width: int, channels: int | None) -> Msg:
    """The image size and colour of a dataset, e.g. "48×48 gray"."""
    size = {"height": height, "width": width}
    match channels or 1:
        case 1:
            return Msg("{height}×{width} gray", size)
        case 2:
            return Msg("{height}×{width} gray+alpha", size)
        case 3:
            return Msg("{height}×{width} RGB", size)
        case 4:
            return Msg("{height}×{width} RGBA", size)
    return Msg("{height}×{width} {channels}-channel", {**size, "channels": channels})


def joined_notes(notes: list[Msg | str]) -> Msg | str:
    """Several notes as one text, "first; second; third" (a chain of Msgs, translated as one)."""
    out = notes[0]
    for note in notes[1:]:
        out = Msg("{first}; {second}", {"first": out, "second": note})
    return out


def with_notes(description: Msg | str, notes: list[Msg | str]) -> Msg | str:
    """A description followed by its notes in parentheses: "… (note; note)"."""
    if not notes:
        return description
    return Msg("{description} ({notes})", {"description": description, "notes": joined_notes(notes)})


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


def fixed_classes(spec: Any, own: list[str], source: str) -> list[str]:
    """The classes of a format that fixes them (FERPlus, RAF-DB): its own names, or the
    manifest's ``classes`` renaming them one for one (DataError when the count differs)."""
    problem = fixed_classes_problem(spec, own, source)
    if problem:
        raise DataError(f"Dataset '{spec.name}': {problem}.")
    return list(spec.classes or own)


def fixed_classes_problem(spec: Any, own: list[str], source: str) -> str | None:
    """``classes: …`` when the manifest's ``classes`` does not rename ``own`` one for one."""
    if spec.classes is not None and len(spec.classes) != len(own):
        return (f"classes: {source} has {len(own)} classes ({', '.join(own)}), "
                f"got {len(spec.classes)} names")
    return None
