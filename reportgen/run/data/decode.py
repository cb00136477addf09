"""Image decoding, colour conversion and resizing (Pillow), shared by every loader.

:func:`resize_image` is the one place images are resized to the model's input size: images
decoded from files (held in memory or streamed), array datasets (CSV, npz, digits) and crops
all go through it, with the dataset's ``resize`` filter.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.errors import DataError

DEFAULT_RESIZE = "bilinear"
RESIZE_FILTERS = ("bilinear", "bicubic", "area", "nearest", "lanczos")
"""``resize`` values → Pillow filters (see :func:`resize_image`); "area" is Pillow's BOX."""


def _pillow_filter(method: str) -> Any:
    from PIL import Image

    filters = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
               "area": Image.Resampling.BOX, "nearest": Image.Resampling.NEAREST,
               "lanczos": Image.Resampling.LANCZOS}
    if method not in filters:
        raise ValueError(f"resize must be one of {', '.join(RESIZE_FILTERS)}, got {method!r}")
    return filters[method]


def resize_image(image: Any, size: tuple[int, int], method: str = DEFAULT_RESIZE) -> np.ndarray:
    """One image (a PIL image, or uint8 (H, W) / (H, W, C) array) → uint8 (height, width, C).

    Pillow's filters (antialiased when shrinking); no resampling at all at the right size.
    """
    from PIL import Image

    height, width = size
    if isinstance(image, np.ndarray):
        channels = 1 if image.ndim == 2 else image.shape[-1]
        if image.shape[:2] == (height, width):
            return image.reshape(height, width, channels)
        image = Image.fromarray(image[..., 0] if image.ndim == 3 and channels == 1 else image)
    else:
        channels = len(image.getbands())
        if image.size != (width, height):
            image = image.resize((width, height), _pillow_filter(method))
        return np.asarray(image, dtype=np.uint8).reshape(height, width, channels)
    resized = image.resize((width, height), _pillow_filter(method))
    return np.asarray(resized, dtype=np.uint8).reshape(height, width, channels)


def decode_files(paths: Sequence[Path | str | bytes], shape: tuple[int, int, int],
                 resize: str = DEFAULT_RESIZE) -> np.ndarray:
    """Decode image files → uint8 (n, H, W, C), exactly as when loading into memory.

    Raises DataError naming the first file that cannot be decoded.
    """
    height, width, channels = shape
    out = np.empty((len(paths), height, width, channels), dtype=np.uint8)
    for i, path in enumerate(paths):
        path = Path(os.fsdecode(path))
        try:
            out[i] = decode_image(path, (height, width), channels, resize)
        except Exception as exc:  # noqa: BLE001 - any decoding failure
            raise DataError(f"Image file {path} could not be decoded ({type(exc).__name__}: {exc}); "
                            "fix or remove it.") from None
    return out


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma exactly as Pillow's RGB→"L" conversion (fixed point, rounded)."""
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)[..., None]


def as_channels(x: np.ndarray, channels: int, repeat: bool = True) -> np.ndarray:
    """uint8 (..., C) with C in 1..4 → (..., channels): alpha dropped, RGB→gray by Pillow's luma,
    gray→RGB by repeating the channel (unless ``repeat`` is False: then gray stays gray)."""
    if x.shape[-1] == 4:
        x = x[..., :3]
    elif x.shape[-1] == 2:
        x = x[..., :1]
    if channels == 1 and x.shape[-1] == 3:
        return _luma(x)
    if channels == 3 and x.shape[-1] == 1 and repeat:
        return np.repeat(x, 3, axis=-1)
    return x


def convert_images(x: np.ndarray, size: tuple[int, int], channels: int,
                   resize: str = DEFAULT_RESIZE) -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, C≤4) → uint8 (N, height, width, channels).

    RGB→gray uses Pillow's ITU-R 601 luma, gray→RGB repeats the channel, alpha is dropped;
    resizing is :func:`resize_image` with the ``resize`` filter, skipped at the right size.
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {x.dtype}")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"expected images shaped (N, H, W) or (N, H, W, C≤4), got {x.shape}")
    # Gray conversion before resizing (fewer channels to resample), RGB repetition after.
    x = as_channels(x, channels, repeat=False)
    height, width = size
    if x.shape[1:3] != (height, width):
        out = np.empty((x.shape[0], height, width, x.shape[-1]), dtype=np.uint8)
        for i, img in enumerate(x):
            out[i] = resize_image(img, size, resize)
        x = out
    if channels == 3 and x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return np.ascontiguousarray(x, dtype=np.uint8)


_NO_EXIF_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "PPM"})
"""Formats whose EXIF (orientation) Pillow exposes only as ``info["exif"]``."""


def open_image(path: Path, mode: str) -> Any:
    """Decode one image file with Pillow into a loaded PIL image of ``mode`` ("L" or "RGB").

    EXIF orientation is applied; 16-bit and float images are scaled to 0..255; palette images
    (e.g. some JAFFE TIFFs) are converted through their palette.
    """
    from PIL import Image, ImageFile, ImageOps

    # WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES = True when it is imported,
    # after which a truncated file decodes silently with gray padding; a dataset image must
    # fail loudly instead (it is skipped or named), whatever was imported before.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(path) as opened:
            opened.load()
            img = opened
            # Reading EXIF costs more than decoding a small JPEG: only where it can be.
            if opened.format not in _NO_EXIF_FORMATS or "exif" in opened.info:
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


def decode_image(path: Path, size: tuple[int, int], channels: int,
                 resize: str = DEFAULT_RESIZE) -> np.ndarray:
    """Decode one image file with Pillow → uint8 (height, width, channels). Raises on bad files."""
    img = open_image(path, "L" if channels == 1 else "RGB")
    return resize_image(img, size, resize)
