"""Face crops and centre crops for labelled data (``face_crop``, ``center_crop`` on any dataset kind).

A dataset loader builds one :class:`Cropper` with :func:`make_cropper` and passes every decoded
image (uint8 RGB at its source resolution) through it before resizing:

1. ``face_crop = true``: MTCNN (``reportgen.run.faces``) finds the faces; the **most confident**
   face with confidence ≥ ``min_face_confidence`` is cut out as a square: the detected box made
   square around its centre (its longer side), plus ``face_margin`` × that side on each side
   (default 0: tight), shifted inside the image where it would cross a border (so the crop stays
   square; see ``faces.crop_box``). An image with no such face is kept whole
   (``no_face = "keep"``) or left out (``"skip"``); both are counted in :attr:`Cropper.stats`.
2. ``center_crop = s`` (0 < s ≤ 1): the central ``round(s × side)`` pixels of each side are kept
   (of the face crop when both are given: the face crop comes first); when the pixels left over
   are odd, the extra one is cut at the bottom / right.

Face boxes are cached on disk under ``cache_dir / "faces"``, one small JSON file per image,
named by a BLAKE2 hash of the image's pixels and shape plus the detector's identity
(:data:`DETECTOR_ID`). The pixels, not the file name, are the key, so a renamed or copied file
hits the cache and a rebuild detects nothing again. Every face MTCNN reports is stored, so a
different ``min_face_confidence`` reuses the boxes too (MTCNN's own last-stage threshold, 0.8,
is the lowest confidence it ever reports). Files are written atomically (temporary file and
rename), so builds running at the same time can share the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reportgen import progress
from reportgen.errors import ConfigError, DataError
from reportgen.report_types import Msg
from reportgen.run.faces import UPSCALE_BELOW, Face, as_rgb_uint8, crop_box

CACHE_RULES = 1
"""Bump when detection changes in a way the boxes depend on (it is part of every cache key)."""

MIN_FACE_SIZE = 20
"""MTCNN's smallest face side in pixels (its default), after the enlargement of small images."""


def _mtcnn_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mtcnn")
    except PackageNotFoundError:
        return "missing"


DETECTOR_ID = (f"mtcnn {_mtcnn_version()}; min_face_size {MIN_FACE_SIZE}; "
               f"upscale below {UPSCALE_BELOW}; rules {CACHE_RULES}")
"""Everything besides the pixels that decides which boxes MTCNN returns."""


def image_digest(image: np.ndarray) -> str:
    """The cache key of one image: a hash of its shape, dtype and pixels plus :data:`DETECTOR_ID`."""
    pixels = np.ascontiguousarray(image)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{DETECTOR_ID}|{pixels.shape}|{pixels.dtype.str}|".encode())
    digest.update(memoryview(pixels).cast("B"))
    return digest.hexdigest()


def _face_to_json(face: Face) -> dict[str, Any]:
    return {"box": list(face.box), "confidence": face.confidence,
            "keypoints": {k: list(v) for k, v in face.keypoints.items()}}


def _face_from_json(item: dict[str, Any]) -> Face:
    return Face(box=tuple(int(v) for v in item["box"]), confidence=float(item["confidence"]),  # type: ignore[arg-type]
                keypoints={str(k): (int(v[0]), int(v[1])) for k, v in item.get("keypoints", {}).items()})


class FaceBoxCache:
    """Every face MTCNN finds in an image, by :func:`image_digest`; on disk when ``root`` is given."""

    def __init__(self, root: Path | None) -> None:
        self.root = Path(root) if root is not None else None
        self._memory: dict[str, list[Face]] = {}
        self.disk_reads = 0
        """Images whose faces were read from disk (not searched again)."""

    def _path(self, digest: str) -> Path:
        assert self.root is not None
        return self.root / digest[:2] / f"{digest}.json"

    def get(self, digest: str) -> list[Face] | None:
        """The stored faces (possibly none found), or None when this image was never searched."""
        if digest in self._memory:
            return self._memory[digest]
        if self.root is None:
            return None
        try:
            data = json.loads(self._path(digest).read_text(encoding="utf-8"))
            faces = [_face_from_json(item) for item in data["faces"]]
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None  # absent, or cut short / foreign: detect again and overwrite
        self._memory[digest] = faces
        self.disk_reads += 1
        return faces

    def put(self, digest: str, faces: list[Face]) -> None:
        self._memory[digest] = faces
        if self.root is None:
            return
        path = self._path(digest)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump({"detector": DETECTOR_ID, "faces": [_face_to_json(f) for f in faces]}, out)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            pass  # a read-only or full cache only costs a detection next time; the build goes on


class FaceFinder:
    """Faces (most confident first, confidence ≥ ``min_confidence``) of many images, batched and cached."""

    def __init__(self, cache: FaceBoxCache, min_confidence: float = 0.9, name: str = "") -> None:
        self.cache, self.min_confidence, self.name = cache, float(min_confidence), name
        self.detected = 0
        """Images searched by MTCNN (cache misses) so far."""

    def faces(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        rgbs = [as_rgb_uint8(image) for image in images]
        digests = [image_digest(rgb) for rgb in rgbs]
        found: list[list[Face] | None] = [self.cache.get(d) for d in digests]
        missing: dict[str, int] = {}  # digest → first image with it (duplicates detected once)
        for i, (digest, faces) in enumerate(zip(digests, found)):
            if faces is None:
                missing.setdefault(digest, i)
        if missing:
            self._detect(missing, rgbs)
            found = [self.cache.get(d) for d in digests]
        return [[f for f in (faces or []) if f.confidence >= self.min_confidence] for faces in found]

    def _detect(self, missing: dict[str, int], rgbs: list[np.ndarray]) -> None:
        try:
            from reportgen.run.faces import detect_faces_batch
            order = list(missing.items())
            label = f"detecting faces in {self.name}" if self.name else "detecting faces"
            todo = [rgbs[i] for _, i in order]
            if len(todo) == 1:  # a cropper called image by image: no progress bar flashing per image
                boxes = detect_faces_batch(todo, min_confidence=0.0, min_face_size=MIN_FACE_SIZE)
            else:
                with progress.task(label, total=len(todo), unit="images") as task:
                    boxes = detect_faces_batch(todo, min_confidence=0.0, min_face_size=MIN_FACE_SIZE,
                                               on_batch=task.advance)
        except ImportError as exc:
            where = f"Dataset '{self.name}'" if self.name else "Face detection"
            raise DataError(f"{where}: face_crop needs face detection: {exc}.") from None
        for (digest, _), faces in zip(order, boxes):
            self.cache.put(digest, faces)
        self.detected += len(order)


def center_crop(image: np.ndarray, share: float) -> np.ndarray:
    """The central ``round(share × side)`` pixels of each side (at least 1; an odd leftover pixel
    is cut at the bottom / right)."""
    height, width = image.shape[:2]
    new_h, new_w = max(1, round(height * share)), max(1, round(width * share))
    top, left = (height - new_h) // 2, (width - new_w) // 2
    return np.ascontiguousarray(image[top : top + new_h, left : left + new_w])


class Cropper:
    """``cropper(image, key)`` → the cropped image, or None to leave the image out (see module doc)."""

    def __init__(self, name: str, face_crop: bool, face_margin: float, no_face: str,
                 min_confidence: float, center_crop: float | None, cache_dir: Path | None) -> None:
        self.name, self.face_crop, self.face_margin = name, face_crop, float(face_margin)
        self.no_face, self.min_confidence, self.center_crop = no_face, float(min_confidence), center_crop
        self.finder = FaceFinder(FaceBoxCache(cache_dir / "faces" if cache_dir is not None else None),
                                 min_confidence, name)
        self.stats: dict[str, int] = {"faces": 0, "no_face_kept": 0, "no_face_skipped": 0}
        self.no_face_keys: list[str] = []
        """The ``key`` of every image with no face, in the order they came."""

    def prepare(self, images: Sequence[np.ndarray], keys: Sequence[str] | None = None) -> None:
        """Find the faces of many images at once (batched MTCNN, cache first); later calls of the
        cropper on these images only read the boxes. Optional: a cropper detects one by one otherwise."""
        if self.face_crop and len(images):
            self.finder.faces(images)

    def crop_many(self, images: Sequence[np.ndarray], keys: Sequence[str]) -> list[np.ndarray | None]:
        """``[self(image, key) …]`` with the faces found in batches first."""
        found = self.finder.faces(images) if self.face_crop else [[] for _ in images]
        return [self._apply(np.asarray(image), key, faces) for image, key, faces in zip(images, keys, found)]

    def __call__(self, image: np.ndarray, key: str) -> np.ndarray | None:
        image = np.asarray(image)
        return self._apply(image, key, self.finder.faces([image])[0] if self.face_crop else [])

    def _apply(self, image: np.ndarray, key: str, faces: list[Face]) -> np.ndarray | None:
        if self.face_crop:
            if faces:
                self.stats["faces"] += 1
                left, top, side, _ = crop_box(faces[0], image.shape, self.face_margin)
                image = image[top : top + side, left : left + side]
            else:
                self.no_face_keys.append(key)
                if self.no_face == "skip":
                    self.stats["no_face_skipped"] += 1
                    return None
                self.stats["no_face_kept"] += 1
        if self.center_crop is not None:
            image = center_crop(image, self.center_crop)
        return np.ascontiguousarray(image)

    def describe(self) -> Msg:
        """One line for the dataset description."""
        parts = []
        if self.face_crop:
            seen = sum(self.stats.values())
            head = Msg("MTCNN face crops (most confident face, margin {margin}, confidence ≥ {confidence})",
                       {"margin": f"{self.face_margin:g}", "confidence": f"{self.min_confidence:g}"})
            if self.stats["no_face_skipped"]:
                head = Msg("{crops}: {count:,} of {seen:,} images had no face and were left out",
                           {"crops": head, "count": self.stats["no_face_skipped"], "seen": seen})
            elif self.stats["no_face_kept"]:
                head = Msg("{crops}: {count:,} of {seen:,} images had no face and were kept whole",
                           {"crops": head, "count": self.stats["no_face_kept"], "seen": seen})
            elif seen:
                head = Msg("{crops}: a face in all {seen:,} images", {"crops": head, "seen": seen})
            parts.append(head)
        if self.center_crop is not None:
            share = {"share": f"{self.center_crop:.0%}"}
            parts.append(Msg("centre crop: the central {share} of each side of each crop", share)
                         if self.face_crop else
                         Msg("centre crop: the central {share} of each side of each image", share))
        if len(parts) == 2:
            return Msg("{first}; then {second}", {"first": parts[0], "second": parts[1]})
        return parts[0]


def spec_problems(spec: Any) -> list[str]:
    """One line per crop key of ``spec`` that has a value :func:`make_cropper` refuses."""
    name = str(getattr(spec, "name", "") or "")
    where = f"datasets '{name}'" if name else "dataset"
    share = getattr(spec, "center_crop", None)
    margin = getattr(spec, "face_margin", 0.0)
    confidence = getattr(spec, "min_face_confidence", 0.9)
    problems = []
    if share is not None and not (isinstance(share, (int, float)) and 0 < share <= 1):
        problems.append(f"{where}: center_crop must be a share of each side, 0 < center_crop ≤ 1 "
                        f"(0.7 keeps the central 70%), got {share!r}")
    if not (isinstance(margin, (int, float)) and margin >= 0):
        problems.append(f"{where}: face_margin must be ≥ 0 (0 = the tight detected box, 0.2 adds "
                        f"a fifth of its side on each side), got {margin!r}")
    if getattr(spec, "no_face", "keep") not in ("keep", "skip"):
        problems.append(f'{where}: no_face must be "keep" (use the whole image) or "skip" (leave it '
                        f"out) for an image in which face_crop finds no face, got {spec.no_face!r}")
    if not (isinstance(confidence, (int, float)) and 0 <= confidence <= 1):
        problems.append(f"{where}: min_face_confidence must be between 0 and 1, got {confidence!r}")
    return problems


def make_cropper(spec: Any, cache_dir: Path | None) -> Cropper | None:
    """The cropper a dataset spec asks for, or None without ``face_crop`` or ``center_crop``.

    Reads ``face_crop``, ``face_margin``, ``no_face``, ``min_face_confidence``, ``center_crop``
    and ``name`` with defaults, so any object with those attributes will do; a value out of
    range is a :class:`ConfigError` (see :func:`spec_problems`).
    """
    face_crop = bool(getattr(spec, "face_crop", False))
    share = getattr(spec, "center_crop", None)
    if not face_crop and share is None:
        return None
    problems = spec_problems(spec)
    if problems:
        raise ConfigError("manifest", problems)
    return Cropper(str(getattr(spec, "name", "") or ""), face_crop, float(getattr(spec, "face_margin", 0.0)),
                   getattr(spec, "no_face", "keep"), float(getattr(spec, "min_face_confidence", 0.9)),
                   float(share) if share is not None else None, cache_dir)
