"""The course datasets in their distributed forms, each on small files written in exactly that
format (real LFW faces from scikit-image as pixels): FER2013's image-folder release, FERPlus
vote CSV over a FER2013 CSV, RAF-DB basic, JAFFE TIFFs (one palette TIFF), and the generic
include / exclude / labels keys of image folders."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reportgen.config.datasets import (
    FERPLUS_CLASSES,
    RAFDB_CLASSES,
    Fer2013FolderDataset,
    FerPlusDataset,
    ImageFolderDataset,
    JaffeDataset,
    RafDbDataset,
)
from reportgen.errors import DataError
from reportgen.i18n import translate_msg
from reportgen.run.data import check_dataset, dataset_classes, dataset_splits, load_dataset
from reportgen.run.data.ferplus import majority_labels

FER_FOLDERS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def _en(description) -> str:
    """A dataset description in English."""
    return translate_msg(description, "en")


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    """scikit-image's 200 real LFW faces at 48×48 gray (uint8)."""
    from skimage.data import lfw_subset

    small = np.rint(lfw_subset() * 255).astype(np.uint8)
    return np.stack([np.asarray(Image.fromarray(f).resize((48, 48), Image.Resampling.BILINEAR))
                     for f in small])


def _save(path: Path, pixels: np.ndarray, **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **kwargs)


# --------------------------------------------------------------------------- FER2013 folders


def _fer_folders(root: Path, faces: np.ndarray, counts=(6, 2, 3)) -> dict[str, list[tuple[str, str]]]:
    """train/<class>/Training_*.jpg, test/<class>/PublicTest_*.jpg and PrivateTest_*.jpg."""
    written: dict[str, list[tuple[str, str]]] = {"Training": [], "PublicTest": [], "PrivateTest": []}
    k = 0
    for cls in FER_FOLDERS:
        for usage, n, folder in (("Training", counts[0], "train"), ("PublicTest", counts[1], "test"),
                                 ("PrivateTest", counts[2], "test")):
            for _ in range(n):
                name = f"{usage}_{1000 + k}.jpg"
                _save(root / folder / cls / name, faces[k % len(faces)], quality=95)
                written[usage].append((cls, name))
                k += 1
    return written


def test_fer2013_folder_release(tmp_path, faces):
    written = _fer_folders(tmp_path / "fer", faces)
    spec = Fer2013FolderDataset(kind="fer2013_folder", name="fer", path=Path("fer"))
    assert check_dataset(spec, tmp_path) == []
    assert dataset_classes(spec, tmp_path) == FER_FOLDERS  # alphabetical folder names
    assert dataset_splits(spec, tmp_path) == {"train", "val", "test"}
    d = load_dataset(spec, (48, 48), 1, 0, tmp_path)
    assert (len(d.train), len(d.val), len(d.test)) == (42, 14, 21)
    for part, usage in ((d.train, "Training"), (d.val, "PublicTest"), (d.test, "PrivateTest")):
        expected = Counter(FER_FOLDERS.index(c) for c, _ in written[usage])
        assert Counter(part.y.tolist()) == expected
    # the pixels are the JPEGs as Pillow decodes them, class by class in file order
    first = tmp_path / "fer" / "test" / "angry" / written["PrivateTest"][0][1]
    assert np.array_equal(d.test.x[0, ..., 0], np.asarray(Image.open(first).convert("L")))
    assert "14 PublicTest" in _en(d.description) and "21 PrivateTest" in _en(d.description)


def test_fer2013_folder_without_validation_files_carves_from_training(tmp_path, faces):
    _fer_folders(tmp_path / "fer", faces, counts=(10, 0, 3))
    spec = Fer2013FolderDataset(kind="fer2013_folder", name="fer", path=Path("fer"))
    d = load_dataset(spec, (48, 48), 1, 0, tmp_path)
    assert len(d.test) == 21 and len(d.train) + len(d.val) == 70
    assert len(d.val) == 11  # ceil(15 % of 70), scikit-learn's rounding
    assert set(d.val.y.tolist()) == set(range(7))  # stratified
    assert "validation carved from Training" in _en(d.description)


def test_fer2013_folder_private_test_only_is_evaluate_only(tmp_path, faces):
    written = _fer_folders(tmp_path / "fer", faces)
    import shutil

    shutil.rmtree(tmp_path / "fer" / "train")
    spec = Fer2013FolderDataset(kind="fer2013_folder", name="fer", path=Path("fer"))
    assert check_dataset(spec, tmp_path) == [] and dataset_splits(spec, tmp_path) == {"test"}
    d = load_dataset(spec, (48, 48), 1, 0, tmp_path, splits=("test",))
    assert len(d.test) == len(written["PrivateTest"]) and len(d.train) == len(d.val) == 0
    with pytest.raises(DataError, match="no train images"):
        load_dataset(spec, (48, 48), 1, 0, tmp_path)
    # image_folder with include = ["PrivateTest_*"] on the test folder gives the same images
    folder = ImageFolderDataset(kind="image_folder", name="t", test_dir=Path("fer/test"),
                                include=["PrivateTest_*"])
    same = load_dataset(folder, (48, 48), 1, 0, tmp_path, splits=("test",))
    assert np.array_equal(same.test.x, d.test.x) and np.array_equal(same.test.y, d.test.y)
    bad = Fer2013FolderDataset(kind="fer2013_folder", name="fer", path=Path("fer"), test_usage="Private")
    d2 = load_dataset(bad, (48, 48), 1, 0, tmp_path, splits=("test",))
    assert len(d2.test) == len(written["PrivateTest"])  # a prefix, like "Private"
    wrong = Fer2013FolderDataset(kind="fer2013_folder", name="fer", path=Path("fer"), test_usage="Final")
    with pytest.raises(DataError, match="test_usage"):
        load_dataset(wrong, (48, 48), 1, 0, tmp_path, splits=("test",))


# --------------------------------------------------------------------------- FERPlus


VOTES = [  # neutral happiness surprise sadness anger disgust fear contempt unknown NF
    ("Training", "fer0000000.png", [0, 10, 0, 0, 0, 0, 0, 0, 0, 0], 1),           # happiness
    ("Training", "fer0000001.png", [6, 0, 1, 1, 1, 0, 0, 0, 1, 0], 0),            # neutral: 1-votes dropped
    ("Training", "fer0000002.png", [4, 4, 0, 0, 0, 0, 0, 0, 2, 0], None),         # no majority
    ("Training", "fer0000003.png", [0, 0, 0, 0, 0, 0, 0, 0, 0, 10], None),        # NF
    ("Training", "fer0000004.png", [1, 1, 1, 1, 1, 1, 1, 1, 2, 0], None),         # unknown wins
    ("Training", "", [0, 0, 0, 0, 0, 0, 0, 0, 0, 10], None),                      # no image
    ("Training", "fer0000006.png", [0, 0, 0, 0, 8, 2, 0, 0, 0, 0], 4),            # anger
    ("Training", "fer0000007.png", [0, 0, 0, 0, 0, 0, 0, 7, 3, 0], 7),            # contempt
    ("Training", "fer0000008.png", [0, 0, 3, 0, 0, 0, 7, 0, 0, 0], 6),            # fear
    ("PublicTest", "fer0000009.png", [0, 0, 9, 0, 0, 0, 0, 0, 1, 0], 2),          # surprise
    ("PublicTest", "fer0000010.png", [0, 0, 0, 6, 0, 0, 0, 0, 4, 0], 3),          # sadness 6 > 5
    ("PublicTest", "fer0000011.png", [5, 0, 0, 5, 0, 0, 0, 0, 0, 0], None),       # 5 is not > 5
    ("PrivateTest", "fer0000012.png", [0, 0, 0, 0, 0, 10, 0, 0, 0, 0], 5),        # disgust
    ("PrivateTest", "fer0000013.png", [2, 8, 0, 0, 0, 0, 0, 0, 0, 0], 1),         # happiness
]


def test_ferplus_majority_rule_matches_by_hand():
    winner, keep = majority_labels(np.asarray([v for _, _, v, _ in VOTES]))
    got = [int(w) if k and w < 8 else None for w, k in zip(winner, keep)]
    assert got == [label for _, _, _, label in VOTES]  # the no-name row's votes say NF anyway


def _write_fer_csv(path: Path, faces: np.ndarray, usages: list[str]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        for i, usage in enumerate(usages):
            writer.writerow([i % 7, " ".join(map(str, faces[i].ravel())), usage])


def test_ferplus_labels_splits_and_counts(tmp_path, faces):
    _write_fer_csv(tmp_path / "fer2013.csv", faces, [u for u, _, _, _ in VOTES])
    with open(tmp_path / "fer2013new.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Usage", "Image name", *FERPLUS_CLASSES, "unknown", "NF"])
        for usage, name, votes, _ in VOTES:
            writer.writerow([usage, name, *votes])
    spec = FerPlusDataset(kind="ferplus", name="ferplus", path=Path("fer2013new.csv"),
                          fer2013_path=Path("fer2013.csv"))
    assert check_dataset(spec, tmp_path) == [] and dataset_classes(spec, tmp_path) == FERPLUS_CLASSES
    d = load_dataset(spec, (48, 48), 1, 0, tmp_path)
    kept = [(i, u, lab) for i, (u, _, _, lab) in enumerate(VOTES) if lab is not None]
    for part, usage in ((d.train, "Training"), (d.val, "PublicTest"), (d.test, "PrivateTest")):
        rows = [(i, lab) for i, u, lab in kept if u == usage]
        assert part.y.tolist() == [lab for _, lab in rows]
        assert np.array_equal(part.x[..., 0], faces[[i for i, _ in rows]])  # pixels of the same row
    assert "1 without an image name" in _en(d.description) and "2 without a majority" in _en(d.description)
    assert "1 voted unknown" in _en(d.description) and "1 voted not a face (NF)" in _en(d.description)
    # rows must align one for one with fer2013.csv
    _write_fer_csv(tmp_path / "short.csv", faces, [u for u, _, _, _ in VOTES][:-1])
    short = spec.model_copy(update={"fer2013_path": Path("short.csv")})
    with pytest.raises(DataError, match="one for one"):
        load_dataset(short, (48, 48), 1, 0, tmp_path)
    missing = spec.model_copy(update={"fer2013_path": Path("none.csv")})
    assert [p.split(":")[0] for p in check_dataset(missing, tmp_path)] == ["fer2013_path"]


# --------------------------------------------------------------------------- RAF-DB


def _rafdb(root: Path, faces: np.ndarray, aligned: bool = True) -> list[tuple[str, int]]:
    rng = np.random.default_rng(0)
    lines = [(f"train_{i + 1:05d}.jpg", int(lab)) for i, lab in enumerate(np.tile(np.arange(1, 8), 6))]
    lines += [(f"test_{i + 1:04d}.jpg", int(lab)) for i, lab in enumerate(np.tile(np.arange(1, 8), 2))]
    rng.shuffle(lines)
    (root / "EmoLabel").mkdir(parents=True)
    (root / "EmoLabel" / "list_patition_label.txt").write_text(
        "".join(f"{name} {lab}\n" for name, lab in lines))
    for k, (name, _) in enumerate(lines):
        stem = name[:-4]
        face = np.stack([faces[k]] * 3, axis=-1)  # RAF-DB images are RGB
        if aligned:
            _save(root / "Image" / "aligned" / f"{stem}_aligned.jpg", face, quality=95)
        else:
            _save(root / "Image" / "original" / name, face, quality=95)
    return lines


def test_rafdb_aligned_and_original(tmp_path, faces):
    lines = _rafdb(tmp_path / "raf", faces)
    spec = RafDbDataset(kind="rafdb", name="raf", path=Path("raf"))
    assert check_dataset(spec, tmp_path) == [] and dataset_classes(spec, tmp_path) == RAFDB_CLASSES
    d = load_dataset(spec, (48, 48), 1, 0, tmp_path)
    assert len(d.test) == 14 and len(d.train) + len(d.val) == 42 and len(d.val) == 7
    test_labels = [lab - 1 for name, lab in lines if name.startswith("test")]
    assert d.test.y.tolist() == test_labels  # list order, labels 1–7 → 0–6
    assert Counter(d.val.y.tolist()) == {c: 1 for c in range(7)}
    # the explicit form and the original photos
    explicit = RafDbDataset(kind="rafdb", name="raf", images_dir=Path("raf/Image/aligned"),
                            labels_file=Path("raf/EmoLabel/list_patition_label.txt"))
    assert np.array_equal(load_dataset(explicit, (48, 48), 1, 0, tmp_path).test.x, d.test.x)
    original = RafDbDataset(kind="rafdb", name="raf", path=Path("raf"), aligned=False)
    problems = check_dataset(original, tmp_path)
    assert len(problems) == 1 and problems[0].startswith("path: image folder not found")
    _rafdb(tmp_path / "raf2", faces, aligned=False)
    orig = load_dataset(original.model_copy(update={"path": Path("raf2")}), (48, 48), 1, 0, tmp_path)
    assert np.array_equal(orig.test.x, d.test.x)
    (tmp_path / "raf" / "Image" / "aligned" / "test_0003_aligned.jpg").unlink()
    problems = check_dataset(spec, tmp_path)
    assert problems and "test_0003_aligned.jpg" in problems[0] and problems[0].startswith("path:")


# --------------------------------------------------------------------------- JAFFE


def test_jaffe_names_and_palette_tiff(tmp_path, faces):
    root = tmp_path / "jaffe"
    codes = ["AN", "DI", "FE", "HA", "NE", "SA", "SU"]
    big = np.stack([np.asarray(Image.fromarray(f).resize((256, 256), Image.Resampling.BICUBIC))
                    for f in faces[:70]])
    names = []
    for k in range(70):
        subject = ["KA", "KL", "KM", "KR", "MK", "NA", "NM", "TM", "UY", "YM"][k % 10]
        name = f"{subject}.{codes[k % 7]}{k // 7 % 3 + 1}.{k + 1}.tiff"
        names.append(name)
        _save(root / name, big[k])
    palette = Image.fromarray(big[3]).convert("RGB").quantize(64)  # some JAFFE files are palette TIFFs
    palette.save(root / names[3])
    with Image.open(root / names[3]) as check:
        assert check.mode == "P"
    (root / "README").write_text("not an image")
    spec = JaffeDataset(kind="jaffe", name="jaffe", path=Path("jaffe"))
    assert check_dataset(spec, tmp_path) == []
    assert dataset_classes(spec, tmp_path) == FER_FOLDERS  # JAFFE's codes, alphabetical
    d = load_dataset(spec, (64, 64), 1, 0, tmp_path)
    assert sum(map(len, (d.train, d.val, d.test))) == 70 and d.skipped == []
    all_y = np.concatenate([d.train.y, d.val.y, d.test.y])
    assert Counter(all_y.tolist()) == {c: 10 for c in range(7)}
    test_counts = Counter(d.test.y.tolist())
    assert len(d.test) == 11 and len(test_counts) == 7 and max(test_counts.values()) <= 2  # stratified
    # the palette TIFF decodes through its palette (as Pillow's convert("L"), then resized)
    ref = np.asarray(palette.convert("L").resize((64, 64), Image.Resampling.BILINEAR))
    matches = [np.array_equal(img[..., 0], ref) for part in (d.train, d.val, d.test) for img in part.x]
    assert sum(matches) == 1
    (root / "KA.XX1.99.tiff").write_bytes((root / names[0]).read_bytes())
    problems = check_dataset(spec, tmp_path)
    assert len(problems) == 1 and "'XX'" in problems[0] and "KA.XX1.99.tiff" in problems[0]
    assert problems[0].startswith("path")
    assert check_dataset(spec.model_copy(update={"exclude": ["*.XX*"]}), tmp_path) == []


# --------------------------------------------------------------------------- generic keys


def test_image_folder_labels_from_pattern_and_list_file(tmp_path, faces):
    flat = tmp_path / "flat"
    codes = {"AN": "angry", "HA": "happy", "SU": "surprise"}
    order = ["SU", "AN", "HA"]
    for k in range(30):
        _save(flat / f"S{k % 5}.{order[k % 3]}{k}.png", faces[k])
    labels = {"pattern": r"^\w+\.([A-Z]{2})\d", "map": {"SU": "surprise", "AN": "angry", "HA": "happy"}}
    spec = ImageFolderDataset(kind="image_folder", name="flat", path=Path("flat"), labels=labels)
    assert check_dataset(spec, tmp_path) == []
    assert dataset_classes(spec, tmp_path) == ["surprise", "angry", "happy"]  # map value order
    d = load_dataset(spec, (48, 48), 1, 0, tmp_path)
    every = {tuple(img.ravel()): int(lab)
             for part in (d.train, d.val, d.test) for img, lab in zip(part.x, part.y)}
    for k in range(30):
        assert every[tuple(faces[k].ravel())] == ["surprise", "angry", "happy"].index(codes[order[k % 3]])
    ordered = spec.model_copy(update={"classes": ["angry", "happy", "surprise"]})
    assert load_dataset(ordered, (48, 48), 1, 0, tmp_path).classes == ["angry", "happy", "surprise"]
    # a name that does not match: the field and an example file name
    _save(flat / "stray.png", faces[40])
    problems = check_dataset(spec, tmp_path)
    assert len(problems) == 1 and problems[0].startswith("labels.pattern:") and "'stray.png'" in problems[0]
    with pytest.raises(DataError, match="stray.png"):
        load_dataset(spec, (48, 48), 1, 1, tmp_path)
    assert check_dataset(spec.model_copy(update={"exclude": ["stray*"]}), tmp_path) == []
    # a list file, e.g. for a train and a test folder
    (tmp_path / "labels.txt").write_text("".join(f"S{k % 5}.{order[k % 3]}{k}.png {codes[order[k % 3]]}\n"
                                                for k in range(30)) + "stray.png happy\n")
    listed = ImageFolderDataset(kind="image_folder", name="flat", path=Path("flat"),
                                labels={"file": "labels.txt"}, include=["S*"])
    assert check_dataset(listed, tmp_path) == []
    d2 = load_dataset(listed, (48, 48), 1, 0, tmp_path)
    assert d2.classes == ["angry", "happy", "surprise"]  # sorted label names
    assert sum(map(len, (d2.train, d2.val, d2.test))) == 30
    (tmp_path / "labels.txt").write_text("S0.SU0.png surprise\n")
    problems = check_dataset(listed, tmp_path)
    assert problems[0].startswith("labels.file:") and "not listed" in problems[0]


def test_include_exclude_on_class_folders(tmp_path, faces):
    for k in range(24):
        cls = ["a", "b"][k % 2]
        prefix = ["PublicTest", "PrivateTest", "Other"][k % 3]
        _save(tmp_path / "test" / cls / f"{prefix}_{k}.png", faces[k])
    only_private = ImageFolderDataset(kind="image_folder", name="t", test_dir=Path("test"),
                                      include=["PrivateTest_*"])
    d = load_dataset(only_private, (48, 48), 1, 0, tmp_path, splits=("test",))
    assert len(d.test) == 8
    not_other = ImageFolderDataset(kind="image_folder", name="t", test_dir=Path("test"), exclude=["Other_*"])
    assert len(load_dataset(not_other, (48, 48), 1, 0, tmp_path, splits=("test",)).test) == 16
    nothing = ImageFolderDataset(kind="image_folder", name="t", test_dir=Path("test"), include=["Final_*"])
    problems = check_dataset(nothing, tmp_path)
    assert problems and all(p.startswith("test_dir:") and "include/exclude" in p for p in problems)
