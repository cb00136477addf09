"""Decoding a loader's parts (files, arrays, lazy rows) into ImageSets at the model's size.

The order of work per image is fixed: decode at the source resolution → crop (``face_crop`` /
``center_crop``, on RGB) → convert to the model's channels → resize with the dataset's filter.
Without a cropper, files are decoded straight to the model's channels (Pillow's conversion).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.errors import DataError
from reportgen.progress import track
from reportgen.run.data.base import ImageSet, RawPart
from reportgen.run.data.decode import as_channels, convert_images, decode_image, open_image, resize_image

DECODE_CHUNK = 256
"""Images whose faces are found in one batch (``Cropper.prepare``)."""
# Files are decoded one after the other: a thread pool was measured slower (10,000 48×48 JPEGs:
# 2,530 images/s in one thread, 1,820/s with two), as Pillow's Python-level file parsing holds
# the GIL far longer than the C decoding that releases it.


@dataclass(eq=False)
class PartDecoder:
    """Decodes the parts of one dataset for one (size, channels), collecting what was left out."""

    spec: Any
    size: tuple[int, int]
    channels: int
    classes: list[str]
    cropper: Any = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(file, reason) of every unreadable file."""
    no_face_skipped: int = 0
    _checked: set[Path] = field(default_factory=set)
    """Files whose header was read already (``readable``)."""

    @property
    def resize(self) -> str:
        return getattr(self.spec, "resize", "bilinear")

    def empty(self) -> ImageSet:
        return ImageSet(x=np.zeros((0, *self.size, self.channels), np.uint8), y=np.zeros(0, np.int64))

    def memory(self, part: RawPart, what: str) -> ImageSet:
        """All images of ``part`` decoded into memory (unreadable files and, with ``no_face =
        "skip"``, images without a face left out with their labels)."""
        y = np.asarray(part.y, dtype=np.int64)
        if part.files is not None:
            x, keep = self._files(part.files, what)
            self._require_every_class(part, y, keep)
            return ImageSet(x=x[keep], y=y[keep])
        if part.lazy is not None:
            arrays: Any = part.lazy.read()
        elif part.images is not None:
            arrays = part.images
        elif part.x is not None:
            arrays = part.x
        else:
            raise DataError(f"Dataset '{self.spec.name}': the loader gave labels without images.")
        if self.cropper is None and part.images is None:
            return ImageSet(x=convert_images(arrays, self.size, self.channels, self.resize), y=y)
        if self.cropper is None:  # images of differing sizes
            results: Any = (self._fit(np.asarray(img), None) for img in arrays)
        else:
            results = self._cropped(_array_sources(arrays))
        x, keep = self._collect(results, [f"image {i}" for i in range(len(y))])
        self._require_every_class(part, y, keep)
        return ImageSet(x=x[keep], y=y[keep])

    def readable(self, part: RawPart, what: str) -> RawPart:
        """``part`` without the files whose header Pillow cannot read (listed as skipped).

        Runs before a part of files is split, so that unreadable files do not unbalance the
        stratified split, and so that the split is the same whichever splits are decoded."""
        if part.files is None:
            return part
        keep = np.zeros(len(part.files), dtype=bool)
        label = " ".join(w for w in ("checking", self.spec.name, what, "files") if w)
        for i, path in enumerate(track(part.files, label,
                                       total=len(part.files), unit="files")):
            if path in self._checked:
                keep[i] = True
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    with Image_open(path):
                        pass
            except Exception as exc:  # noqa: BLE001 - any failure means "unreadable"
                self.skipped.append((str(path), f"{type(exc).__name__}: {exc}"))
                continue
            keep[i] = True
            self._checked.add(path)
        y = np.asarray(part.y, dtype=np.int64)
        self._require_every_class(part, y, keep)
        return part.take(np.flatnonzero(keep))

    def on_disk(self, part: RawPart) -> ImageSet:
        """A streamed ImageSet of ``part``'s files; files whose header Pillow cannot read are
        skipped (a file that fails later, while training, stops the build with its name)."""
        part = self.readable(part, "training")
        return ImageSet(x=np.zeros((0, *self.size, self.channels), np.uint8),
                        y=np.asarray(part.y, dtype=np.int64), files=list(part.files), resize=self.resize)

    # ------------------------------------------------------------------ per image

    def _one_file(self, path: Path) -> np.ndarray | str:
        """The fitted image, or the reason it is unreadable (str)."""
        try:
            return decode_image(path, self.size, self.channels, self.resize)
        except Exception as exc:  # noqa: BLE001 - any decoding failure means "unreadable"
            return f"{type(exc).__name__}: {exc}"

    def _fit(self, image: np.ndarray, key: str | None) -> np.ndarray | None:
        """Crop (when a cropper is set), convert and resize one source image; None = skip."""
        if image.ndim == 2:
            image = image[..., None]
        if self.cropper is not None:
            cropped = self.cropper(np.ascontiguousarray(as_channels(image, 3)), key)
            if cropped is None:
                self.no_face_skipped += 1
                return None
            image = cropped
        fitted = resize_image(as_channels(image, self.channels, repeat=False), self.size, self.resize)
        return as_channels(fitted, self.channels)

    def _cropped(self, sources: Iterator[tuple[np.ndarray | str, str | None]]) -> Iterator[Any]:
        """Fitted images (or the unreadable reason, or None = skipped) of (RGB source, key) pairs;
        a chunk's faces are found in one batch first when the cropper can (``prepare``)."""
        prepare = getattr(self.cropper, "prepare", None)
        while chunk := list(islice(sources, DECODE_CHUNK)):
            if prepare is not None:
                ready = [(img, key) for img, key in chunk if not isinstance(img, str)]
                prepare([img for img, _ in ready], [key for _, key in ready])
            for img, key in chunk:
                yield img if isinstance(img, str) else self._fit(img, key)

    def _collect(self, results: Iterable[Any], names: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        out = np.empty((len(names), *self.size, self.channels), dtype=np.uint8)
        keep = np.zeros(len(names), dtype=bool)
        for i, result in enumerate(results):
            if isinstance(result, str):
                self.skipped.append((str(names[i]), result))
            elif result is not None:
                out[i] = result
                keep[i] = True
        return out, keep

    def _files(self, files: list[Path], what: str) -> tuple[np.ndarray, np.ndarray]:
        label = f"decoding {self.spec.name} {what}"
        if self.cropper is not None:  # MTCNN batches per chunk; the cropper is not thread-safe
            results = self._cropped(_file_sources(files))
            return self._collect(track(results, label, total=len(files), unit="files"), files)
        done = track((self._one_file(f) for f in files), label, total=len(files), unit="files")
        return self._collect(done, files)

    def _require_every_class(self, part: RawPart, y: np.ndarray, keep: np.ndarray) -> None:
        lost = sorted(set(np.unique(y).tolist()) - set(np.unique(y[keep]).tolist()))
        if not lost:
            return
        if part.files is not None and part.root is not None and all(
                f.is_relative_to(part.root / self.classes[y[i]]) for i, f in enumerate(part.files)):
            where = "class folder " + ", ".join(str(part.root / self.classes[c]) for c in lost)
        else:
            where = "class " + ", ".join(repr(self.classes[c]) for c in lost) + (
                f" in {part.root}" if part.root is not None else "")
        faces = (" or held no face (no_face = \"skip\")" if self.no_face_skipped else "")
        raise DataError(
            f"Dataset '{self.spec.name}': no readable image in {where}; every image there failed "
            f"to decode{faces} (see the skipped files). Each class needs at least one readable image."
        )


def _file_sources(files: list[Path]) -> Iterator[tuple[np.ndarray | str, str | None]]:
    """(RGB pixels at the source resolution or the unreadable reason, content key) per file."""
    for path in files:
        try:
            rgb = np.asarray(open_image(path, "RGB"), dtype=np.uint8)
        except Exception as exc:  # noqa: BLE001 - any decoding failure means "unreadable"
            yield f"{type(exc).__name__}: {exc}", None
            continue
        stat = path.stat()
        yield rgb, f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


def _array_sources(arrays: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray | str, str | None]]:
    for img in arrays:
        img = np.asarray(img)
        rgb = np.ascontiguousarray(as_channels(img[..., None] if img.ndim == 2 else img, 3))
        yield rgb, hashlib.sha1(rgb.tobytes() + str(rgb.shape).encode()).hexdigest()


def Image_open(path: Path) -> Any:  # noqa: N802 - Pillow's Image.open, imported lazily
    from PIL import Image

    return Image.open(path)
