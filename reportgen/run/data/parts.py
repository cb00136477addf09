"""Decoding a loader's parts (files, arrays, lazy rows) into ImageSets at the model's size.

The order of work per image is fixed: decode at the source resolution → crop (``face_crop`` /
``center_crop``, on RGB) → convert to the model's channels → resize with the dataset's filter.
Without a cropper, files are decoded straight to the model's channels (Pillow's conversion).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.errors import DataError
from reportgen.progress import track
from reportgen.run.data.base import ImageSet, RawPart
from reportgen.run.data.decode import as_channels, convert_images, decode_image, open_image, resize_image

DECODE_THREADS = min(4, os.cpu_count() or 1)
"""Files decoded in parallel: Pillow releases the GIL while decoding and resizing."""
DECODE_CHUNK = 256
"""Files handed to the thread pool at a time (results stay in file order)."""


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
        x = np.empty((len(y), *self.size, self.channels), dtype=np.uint8)
        keep = np.ones(len(y), dtype=bool)
        for i, img in enumerate(arrays):
            fitted = self._fit(np.asarray(img), None)
            if fitted is None:
                keep[i] = False
            else:
                x[i] = fitted
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

    def _one_file(self, path: Path) -> np.ndarray | str | None:
        """The fitted image, the reason it is unreadable (str), or None (no face: skip)."""
        try:
            if self.cropper is None:
                return decode_image(path, self.size, self.channels, self.resize)
            photo = np.asarray(open_image(path, "RGB"), dtype=np.uint8)
        except Exception as exc:  # noqa: BLE001 - any decoding failure means "unreadable"
            return f"{type(exc).__name__}: {exc}"
        stat = path.stat()
        return self._fit(photo, f"{path}:{stat.st_size}:{stat.st_mtime_ns}")

    def _fit(self, image: np.ndarray, key: str | None) -> np.ndarray | None:
        """Crop (when a cropper is set), convert and resize one source image; None = skip."""
        if image.ndim == 2:
            image = image[..., None]
        if self.cropper is not None:
            rgb = np.ascontiguousarray(as_channels(image, 3))
            if key is None:  # an array image: its content is its identity
                key = hashlib.sha1(rgb.tobytes() + str(rgb.shape).encode()).hexdigest()
            cropped = self.cropper(rgb, key)
            if cropped is None:
                self.no_face_skipped += 1
                return None
            image = cropped
        fitted = resize_image(as_channels(image, self.channels, repeat=False), self.size, self.resize)
        return as_channels(fitted, self.channels)

    def _files(self, files: list[Path], what: str) -> tuple[np.ndarray, np.ndarray]:
        out = np.empty((len(files), *self.size, self.channels), dtype=np.uint8)
        keep = np.zeros(len(files), dtype=bool)
        # The cropper (MTCNN, its disk cache) is not shared across threads: one at a time then.
        threads = DECODE_THREADS if self.cropper is None else 1
        label = f"decoding {self.spec.name} {what}"
        with ThreadPoolExecutor(threads) if threads > 1 else _Serial() as pool:
            chunks = [files[s:s + DECODE_CHUNK] for s in range(0, len(files), DECODE_CHUNK)]
            done = track(_ahead(pool, self._one_file, chunks), label, total=len(files), unit="files")
            for i, result in enumerate(done):
                if isinstance(result, str):
                    self.skipped.append((str(files[i]), result))
                elif result is not None:
                    out[i] = result
                    keep[i] = True
        return out, keep

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


def Image_open(path: Path) -> Any:  # noqa: N802 - Pillow's Image.open, imported lazily
    from PIL import Image

    return Image.open(path)


def _ahead(pool: Any, func: Any, chunks: list[list[Path]]) -> Any:
    """``func`` of every item in order, the next chunk already submitted while one is consumed."""
    pending = pool.map(func, chunks[0]) if chunks else iter(())
    for k in range(len(chunks)):
        current = pending
        if k + 1 < len(chunks):
            pending = pool.map(func, chunks[k + 1])
        yield from current


class _Serial:
    """A stand-in for a one-thread pool: map runs in the calling thread."""

    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def map(self, func: Any, items: Any) -> Any:
        return map(func, items)
