"""``kind = \"images\"``: unlabelled photos to inspect a model on, optionally MTCNN face crops."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.errors import DataError
from reportgen.i18n import plural_msg
from reportgen.report_types import Msg
from reportgen.run.data.base import (
    RawData,
    RawPart,
    SourceImage,
    joined_notes,
    register_check,
    register_classes,
    register_loader,
    resolve_path,
)
from reportgen.run.data.decode import open_image
from reportgen.run.data.folders import IMAGE_EXTENSIONS, image_files
from reportgen.run.data.select import select_files

if TYPE_CHECKING:
    from reportgen.run.faces import Face


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
        elif not image_files(root):
            problems.append(f"path: no image files ({' '.join(IMAGE_EXTENSIONS)}) in {root}")
        elif not select_files(spec, image_files(root)):
            problems.append(f"include: no image file of {root} is left by include / exclude")
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
    where: list[str] = []  # for error messages
    where_msgs: list[Msg | str] = []  # for the description
    if spec.path is not None:
        root = resolve_path(base_dir, spec.path)
        if not root.is_dir():
            raise DataError(f"Dataset '{spec.name}': path folder not found: {root}.")
        files = select_files(spec, image_files(root))
        where.append(f"folder {root} ({len(files):,} image file{'s' if len(files) != 1 else ''})")
        where_msgs.append(plural_msg("folder {root} ({count:,} image file)",
                                     "folder {root} ({count:,} image files)",
                                     {"root": str(root), "count": len(files)}))
        for path in files:
            inputs.append((path.relative_to(root).as_posix(), path,
                           lambda path=path: np.asarray(open_image(path, "RGB"), dtype=np.uint8)))
    if spec.samples:
        for name in spec.samples:
            problem = _sample_problem(name)
            if problem:
                raise DataError(f"Dataset '{spec.name}': {problem}.")
            inputs.append((name, None, lambda name=name: _sample_photo(name)))
        plural = "s" if len(spec.samples) != 1 else ""
        where.append(f"scikit-image sample{plural} {', '.join(spec.samples)}")
        where_msgs.append(plural_msg("scikit-image sample {names}", "scikit-image samples {names}",
                                     {"names": ", ".join(spec.samples), "count": len(spec.samples)}))
    from reportgen.run.faces import as_rgb_uint8  # light: mtcnn loads on first detection

    if spec.face_crop:
        from reportgen.run.faces import crop_box, crop_face

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
        photos = plural_msg("{count:,} photo", "{count:,} photos", {"count": len(sources)})
        made = plural_msg("{count:,} face crop from {photos} (MTCNN, confidence ≥ {confidence})",
                          "{count:,} face crops from {photos} (MTCNN, confidence ≥ {confidence})",
                          {"count": n, "photos": photos, "confidence": f"{spec.min_face_confidence:g}"})
    else:
        made = plural_msg("{count:,} image", "{count:,} images", {"count": n})
    if limited:
        made = Msg("{made} (max_samples: {count:,} used)", {"made": made, "count": n})
    return RawData(
        classes=[],
        description=Msg("unlabelled images, {where}: {made}",
                        {"where": joined_notes(where_msgs), "made": made}),
        test=RawPart(y=np.full(n, -1, dtype=np.int64), images=images),
        labelled=False,
        sources=sources,
        source_index=np.asarray(source_index, dtype=np.int64),
        face_index=np.asarray(face_index, dtype=np.int64),
        skipped=skipped,
    )


def _find_faces(spec: Any, photo: np.ndarray) -> list[Face]:
    try:
        from reportgen.run.faces import detect_faces

        return detect_faces(photo, min_confidence=spec.min_face_confidence)
    except ImportError as exc:
        raise DataError(f"Dataset '{spec.name}': face_crop needs face detection: {exc}.") from None
