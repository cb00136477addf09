"""The link to ``crops.py`` (``face_crop`` / ``center_crop`` on every kind), guarded so data
loading works while crops are unavailable: only a dataset that asks for a crop needs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reportgen.errors import DataError


def wants_crop(spec: Any) -> bool:
    """``face_crop`` or ``center_crop`` set. An ``images`` dataset crops faces itself (one image
    per face), so for it only ``center_crop`` goes through the cropper."""
    face = bool(getattr(spec, "face_crop", False)) and getattr(spec, "kind", None) != "images"
    return face or getattr(spec, "center_crop", None) is not None


def _maker() -> Any:
    try:
        from reportgen.run.data.crops import make_cropper
    except ImportError:
        return None
    return make_cropper


def crop_problems(spec: Any) -> list[str]:
    if wants_crop(spec) and _maker() is None:
        field = "face_crop" if getattr(spec, "face_crop", False) else "center_crop"
        return [f"{field}: crops are not supported by this installation (reportgen.run.data.crops "
                "is missing)"]
    return []


def cropper_for(spec: Any, cache_dir: Path | None) -> Any:
    """The dataset's cropper (``crops.make_cropper``), or None without a crop key."""
    if not wants_crop(spec):
        return None
    make_cropper = _maker()
    if make_cropper is None:
        raise DataError(f"Dataset '{getattr(spec, 'name', '?')}': " + crop_problems(spec)[0] + ".")
    if getattr(spec, "kind", None) == "images" and getattr(spec, "face_crop", False):
        spec = spec.model_copy(update={"face_crop": False})
    return make_cropper(spec, cache_dir)
