"""Image decoding, colour conversion and resizing (Pillow), shared by every loader."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.errors import DataError


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


def open_image(path: Path, mode: str) -> Any:
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
    img = open_image(path, "L" if channels == 1 else "RGB")
    if img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    return arr.reshape(height, width, channels)
