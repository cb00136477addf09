"""Tests for reportgen.run.data on real images (scikit-learn digits, scikit-image LFW faces)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from reportgen.config.schema import (
    FER2013_CLASSES,
    DigitsDataset,
    Fer2013CsvDataset,
    ImageFolderDataset,
    ImagesDataset,
    NpzDataset,
    SplitSpec,
)
from reportgen.errors import DataError
from reportgen.i18n import translate_msg
from reportgen.run import data
from reportgen.run.data import check_dataset, dataset_classes, load_dataset


def _en(description) -> str:
    """A dataset description in English."""
    return translate_msg(description, "en")


# --------------------------------------------------------------------------- real image sources


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)
    return x, d.target.astype(np.int64)


@pytest.fixture(scope="module")
def faces48() -> np.ndarray:
    """The 200 real 25×25 LFW faces of scikit-image, resized to 48×48 uint8."""
    from skimage.data import lfw_subset

    faces = np.rint(lfw_subset() * 255).astype(np.uint8)
    resized = [Image.fromarray(f).resize((48, 48), Image.Resampling.BILINEAR) for f in faces]
    return np.stack([np.asarray(img) for img in resized])


@pytest.fixture(scope="module")
def digits_small_x8(digits):
    """digits at 8×8 gray, 1,797 images — the reference for round-trip checks."""
    return load_dataset(DigitsDataset(name="d", kind="digits"), (8, 8), 1, 42, Path("."))


# --------------------------------------------------------------------------- digits


def test_registry_has_all_kinds():
    for kind in ("digits", "fer2013_csv", "image_folder", "npz", "images"):
        assert kind in data.LOADERS and kind in data.CLASS_LISTERS and kind in data.CHECKERS


def test_digits_counts_and_stratified_split(digits_small_x8):
    d = digits_small_x8
    sizes = len(d.train), len(d.val), len(d.test)
    assert sum(sizes) == 1797
    assert d.classes == [str(i) for i in range(10)]
    assert abs(len(d.test) / 1797 - 0.15) < 0.01
    assert abs(len(d.val) / 1797 - 0.15) < 0.01
    overall = Counter(np.concatenate([d.train.y, d.val.y, d.test.y]).tolist())
    for part in (d.train, d.val, d.test):
        counts = Counter(part.y.tolist())
        for cls, total in overall.items():
            assert abs(counts[cls] - total * len(part) / 1797) <= 2, (cls, counts[cls])
    # every split holds real digits images: pixel scale 0..16 mapped to 0..255
    assert d.train.x.max() == 255 and d.train.x.min() == 0
    allowed = set(np.rint(np.arange(17) * 255 / 16).astype(int).tolist())
    assert set(np.unique(d.test.x).tolist()) <= allowed
    assert "1,797" in _en(d.description) and d.skipped == []


def test_digits_split_ratios_follow_spec():
    spec = DigitsDataset(name="d", kind="digits", split=SplitSpec(val=0.1, test=0.3))
    d = load_dataset(spec, (8, 8), 1, 0, Path("."))
    assert abs(len(d.test) / 1797 - 0.3) < 0.01
    assert abs(len(d.val) / 1797 - 0.1) < 0.01


def test_digits_shapes_and_dtype():
    spec = DigitsDataset(name="d", kind="digits")
    gray = load_dataset(spec, (16, 16), 1, 42, Path("."))
    rgb = load_dataset(spec, (32, 32), 3, 42, Path("."))
    for part in (gray.train, gray.val, gray.test):
        assert part.x.shape[1:] == (16, 16, 1) and part.x.dtype == np.uint8
        assert part.y.dtype == np.int64 and part.y.shape == (part.x.shape[0],)
    for part in (rgb.train, rgb.val, rgb.test):
        assert part.x.shape[1:] == (32, 32, 3) and part.x.dtype == np.uint8
        # gray → RGB repeats the channel
        assert np.array_equal(part.x[..., 0], part.x[..., 2])
    assert gray.train.x.max() >= 250 and rgb.train.x.max() >= 250
    # the same split regardless of the target size
    assert np.array_equal(gray.train.y, rgb.train.y)


def test_digits_resize_matches_pillow(digits_small_x8):
    spec = DigitsDataset(name="d", kind="digits")
    big = load_dataset(spec, (20, 12), 1, 42, Path("."))
    small = digits_small_x8
    assert np.array_equal(big.test.y, small.test.y)
    for img8, img_big in zip(small.test.x[:20], big.test.x[:20]):
        ref = np.asarray(Image.fromarray(img8[..., 0]).resize((12, 20), Image.Resampling.BILINEAR))
        assert np.array_equal(img_big[..., 0], ref)


def test_digits_deterministic_per_seed(digits_small_x8):
    spec = DigitsDataset(name="d", kind="digits")
    again = load_dataset(spec, (8, 8), 1, 42, Path("."))
    other = load_dataset(spec, (8, 8), 1, 7, Path("."))
    for a, b in ((digits_small_x8.train, again.train), (digits_small_x8.test, again.test)):
        assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(digits_small_x8.train.y, other.train.y)
    assert len(other.train) == len(again.train)


def test_digits_max_samples_stratified():
    spec = DigitsDataset(name="d", kind="digits", max_samples=300)
    d = load_dataset(spec, (8, 8), 1, 1, Path("."))
    y = np.concatenate([d.train.y, d.val.y, d.test.y])
    assert len(y) == 300
    assert all(abs(c - 30) <= 2 for c in Counter(y.tolist()).values())
    assert "300" in _en(d.description)


def test_digits_wrong_class_count():
    spec = DigitsDataset(name="d", kind="digits", classes=["a", "b", "c"])
    assert any(m.startswith("classes:") for m in check_dataset(spec, Path(".")))
    with pytest.raises(DataError, match="10 classes"):
        load_dataset(spec, (8, 8), 1, 0, Path("."))


def test_rgb_to_gray_matches_pillow_luma():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 33, 31, 3), dtype=np.uint8)
    ref = np.stack([np.asarray(Image.fromarray(i).convert("L")) for i in x])
    assert np.array_equal(data.convert_images(x, (33, 31), 1)[..., 0], ref)


# --------------------------------------------------------------------------- FER2013 CSV

USAGES = ["Training"] * 140 + ["PublicTest"] * 30 + ["PrivateTest"] * 30


def write_fer_csv(path: Path, faces: np.ndarray, labels, usages, header=("emotion", "pixels", "Usage")):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for face, label, usage in zip(faces, labels, usages):
            writer.writerow([label, " ".join(map(str, face.ravel().tolist())), usage])


@pytest.fixture()
def fer_csv(tmp_path, faces48):
    labels = np.arange(200) % 7
    order = np.random.default_rng(3).permutation(200)  # interleave the usages
    usages = [USAGES[i] for i in order]
    path = tmp_path / "fer2013.csv"
    write_fer_csv(path, faces48, labels, usages)
    return path, labels, np.array(usages)


def test_fer_splits_and_round_trip(fer_csv, faces48, tmp_path):
    path, labels, usages = fer_csv
    spec = Fer2013CsvDataset(name="fer", kind="fer2013_csv", path=Path("fer2013.csv"))
    d = load_dataset(spec, (48, 48), 1, 0, tmp_path)  # relative to base_dir
    assert d.classes == FER2013_CLASSES
    assert (len(d.train), len(d.val), len(d.test)) == (140, 30, 30)
    for part, usage in ((d.train, "Training"), (d.val, "PublicTest"), (d.test, "PrivateTest")):
        rows = np.flatnonzero(usages == usage)
        assert np.array_equal(part.x[..., 0], faces48[rows])  # file order kept, pixels exact
        assert np.array_equal(part.y, labels[rows])
    assert "200" in _en(d.description)


def test_fer_resized_rgb_and_custom_usage(tmp_path, faces48):
    usages = ["train"] * 10 + ["val"] * 5 + ["test"] * 5
    path = tmp_path / "custom.csv"
    write_fer_csv(path, faces48[:20], [i % 3 for i in range(20)], usages)
    spec = Fer2013CsvDataset(
        name="fer", kind="fer2013_csv", path=path, classes=["a", "b", "c"],
        train_usage="train", val_usage="val", test_usage="test",
    )
    d = load_dataset(spec, (24, 24), 3, 0, tmp_path / "elsewhere")  # absolute path ignores base_dir
    assert d.classes == ["a", "b", "c"]
    assert d.train.x.shape == (10, 24, 24, 3) and d.val.x.shape == (5, 24, 24, 3)


def test_fer_bad_pixel_count_names_line(tmp_path, faces48):
    path = tmp_path / "bad.csv"
    write_fer_csv(path, faces48[:10], [0] * 10, ["Training"] * 4 + ["PublicTest"] * 3 + ["PrivateTest"] * 3)
    lines = path.read_text().splitlines()
    lines[4] = lines[4].rsplit(" ", 1)[0] + ",Training"  # drop one pixel on line 5
    path.write_text("\n".join(lines) + "\n")
    spec = Fer2013CsvDataset(name="fer", kind="fer2013_csv", path=path)
    with pytest.raises(DataError) as info:
        load_dataset(spec, (48, 48), 1, 0, tmp_path)
    message = str(info.value)
    assert "line 5" in message and "2303" in message and "2304" in message and str(path) in message


def test_fer_label_out_of_range_names_line(tmp_path, faces48):
    path = tmp_path / "labels.csv"
    labels = [0, 1, 2, 9, 3, 4]
    usages = ["Training", "Training", "PublicTest", "Training", "PrivateTest", "Training"]
    write_fer_csv(path, faces48[:6], labels, usages)
    spec = Fer2013CsvDataset(name="fer", kind="fer2013_csv", path=path)
    with pytest.raises(DataError) as info:
        load_dataset(spec, (48, 48), 1, 0, tmp_path)
    message = str(info.value)
    assert "line 5" in message and "0..6" in message and str(path) in message


def test_fer_check_dataset(fer_csv, tmp_path, faces48):
    spec = Fer2013CsvDataset(name="fer", kind="fer2013_csv", path=Path("fer2013.csv"))
    assert check_dataset(spec, tmp_path) == []
    missing = Fer2013CsvDataset(name="fer", kind="fer2013_csv", path=Path("nope.csv"))
    problems = check_dataset(missing, tmp_path)
    assert problems == [f"path: file not found: {tmp_path / 'nope.csv'}"]
    wrong = tmp_path / "wrong.csv"
    write_fer_csv(wrong, faces48[:3], [0, 1, 2], ["Training"] * 3, header=("label", "pixels", "split"))
    problems = check_dataset(Fer2013CsvDataset(name="fer", kind="fer2013_csv", path=wrong), tmp_path)
    assert len(problems) == 1 and problems[0].startswith("path:") and "emotion,pixels,Usage" in problems[0]
    with pytest.raises(DataError, match="emotion,pixels,Usage"):
        load_dataset(Fer2013CsvDataset(name="fer", kind="fer2013_csv", path=wrong), (48, 48), 1, 0, tmp_path)
    assert dataset_classes(missing, tmp_path) == FER2013_CLASSES  # no file access needed


# --------------------------------------------------------------------------- image folders


def write_class_folders(root: Path, x: np.ndarray, y: np.ndarray, classes, per_class: int, rgb_class=None):
    """``per_class`` real digit PNGs per class (one class optionally stored as RGB)."""
    written = {}
    for label, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True)
        picks = np.flatnonzero(y == label)[:per_class]
        for k, i in enumerate(picks):
            img = Image.fromarray(x[i])
            if name == rgb_class:
                img = img.convert("RGB")
            img.save(folder / f"img{k:03d}.png")
        written[name] = x[picks]
    return written


def test_image_folder_split_and_corrupt_file(tmp_path, digits):
    x, y = digits
    root = tmp_path / "faces"
    classes = ["0", "1", "2"]
    write_class_folders(root, x, y, classes, 20, rgb_class="2")
    corrupt = root / "1" / "broken.PNG"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes())
    (root / "2" / "notes.txt").write_text("not an image")
    spec = ImageFolderDataset(name="f", kind="image_folder", path=Path("faces"))
    d = load_dataset(spec, (8, 8), 1, 0, tmp_path)
    assert d.classes == classes
    assert [p for p, _ in d.skipped] == [str(corrupt)] and d.skipped[0][1]
    assert len(d.train) + len(d.val) + len(d.test) == 60
    assert all(Counter(part.y.tolist()) == {0: c, 1: c, 2: c} for part, c in ((d.test, 3), (d.val, 3)))
    # pixels round-trip (the RGB-stored class converts back to the same gray values)
    picked = np.concatenate([np.flatnonzero(y == c)[:20] for c in range(3)])
    stored = {tuple(img.ravel()) for img in x[picked]}
    loaded = {tuple(img.ravel()) for part in (d.train, d.val, d.test) for img in part.x[..., 0]}
    assert loaded == stored
    assert "skipped" in _en(d.description)
    again = load_dataset(spec, (8, 8), 1, 0, tmp_path)
    assert np.array_equal(again.train.x, d.train.x)
    rgb = load_dataset(spec, (12, 12), 3, 0, tmp_path)
    assert rgb.train.x.shape[1:] == (12, 12, 3)
    assert check_dataset(spec, tmp_path) == []


def test_image_folder_empty_class(tmp_path, digits):
    x, y = digits
    write_class_folders(tmp_path / "data", x, y, ["a", "b"], 5)
    (tmp_path / "data" / "c").mkdir()
    spec = ImageFolderDataset(name="f", kind="image_folder", path=tmp_path / "data")
    with pytest.raises(DataError, match=str(tmp_path / "data" / "c")):
        load_dataset(spec, (8, 8), 1, 0, tmp_path)
    problems = check_dataset(spec, tmp_path)
    assert len(problems) == 1 and problems[0].startswith("path:")
    assert str(tmp_path / "data" / "c") in problems[0]


def test_image_folder_class_with_only_corrupt_files(tmp_path, digits):
    x, y = digits
    write_class_folders(tmp_path / "data", x, y, ["a", "b"], 5)
    (tmp_path / "data" / "c").mkdir()
    (tmp_path / "data" / "c" / "x.jpg").write_bytes(b"\x00garbage" * 20)
    spec = ImageFolderDataset(name="f", kind="image_folder", path=tmp_path / "data")
    with pytest.raises(DataError, match="no readable image"):
        load_dataset(spec, (8, 8), 1, 0, tmp_path)


def test_image_folder_classes_mismatch(tmp_path, digits):
    x, y = digits
    write_class_folders(tmp_path / "data", x, y, ["0", "1", "2"], 5)
    spec = ImageFolderDataset(name="f", kind="image_folder", path=tmp_path / "data", classes=["0", "1", "9"])
    with pytest.raises(DataError) as info:
        load_dataset(spec, (8, 8), 1, 0, tmp_path)
    assert "missing ['9']" in str(info.value) and "extra ['2']" in str(info.value)
    assert any("missing ['9']" in m for m in check_dataset(spec, tmp_path))
    # a matching class list sets the label order
    ordered = ImageFolderDataset(
        name="f", kind="image_folder", path=tmp_path / "data", classes=["2", "0", "1"]
    )
    d = load_dataset(ordered, (8, 8), 1, 0, tmp_path)
    assert d.classes == ["2", "0", "1"]
    label_of_two = np.flatnonzero(y == 2)[:5]
    assert {tuple(i.ravel()) for i in x[label_of_two]} == {
        tuple(i.ravel()) for p in (d.train, d.val, d.test) for i in p.x[p.y == 0][..., 0]
    }


def test_image_folder_train_test_dirs(tmp_path, digits):
    x, y = digits
    classes = ["0", "1", "2", "3"]
    write_class_folders(tmp_path / "train", x[:1000], y[:1000], classes, 25)
    test_written = write_class_folders(tmp_path / "test", x[1000:], y[1000:], classes, 6)
    spec = ImageFolderDataset(name="f", kind="image_folder", train_dir=Path("train"), test_dir=Path("test"))
    d = load_dataset(spec, (8, 8), 1, 0, tmp_path)
    assert len(d.test) == 24 and len(d.train) + len(d.val) == 100
    assert len(d.val) == 15  # 15 % of train carved for validation
    expected_test = np.concatenate([test_written[c] for c in classes])
    assert np.array_equal(d.test.x[..., 0], expected_test)  # predefined split keeps file order
    assert np.array_equal(d.test.y, np.repeat(np.arange(4), 6))
    # explicit val_dir
    write_class_folders(tmp_path / "val", x[1200:], y[1200:], classes, 4)
    spec_val = ImageFolderDataset(
        name="f", kind="image_folder", train_dir=Path("train"), val_dir=Path("val"), test_dir=Path("test")
    )
    d = load_dataset(spec_val, (8, 8), 1, 0, tmp_path)
    assert (len(d.train), len(d.val), len(d.test)) == (100, 16, 24)
    # max_samples scales each predefined split proportionally
    small = ImageFolderDataset(
        name="f", kind="image_folder", train_dir=Path("train"), val_dir=Path("val"), test_dir=Path("test"),
        max_samples=70,
    )
    d = load_dataset(small, (8, 8), 1, 0, tmp_path)
    assert (len(d.train), len(d.val), len(d.test)) == (50, 8, 12)
    # a test_dir whose classes differ from train_dir's
    (tmp_path / "test" / "3").rename(tmp_path / "test" / "x")
    problems = check_dataset(spec, tmp_path)
    assert len(problems) == 1 and problems[0].startswith("test_dir:") and "missing ['3']" in problems[0]
    with pytest.raises(DataError, match="extra \\['x'\\]"):
        load_dataset(spec, (8, 8), 1, 0, tmp_path)


def test_folder_classes_and_check_do_not_decode(tmp_path, monkeypatch):
    for name in ("cat", "dog"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        (tmp_path / "pets" / name / "a.jpg").write_bytes(b"not really a jpeg")

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded an image")

    monkeypatch.setattr(data.load, "decode_image", no_decoding)
    monkeypatch.setattr(data.decode, "decode_image", no_decoding)
    spec = ImageFolderDataset(name="f", kind="image_folder", path=Path("pets"))
    assert dataset_classes(spec, tmp_path) == ["cat", "dog"]
    assert check_dataset(spec, tmp_path) == []
    missing = ImageFolderDataset(name="f", kind="image_folder", path=Path("nowhere"))
    assert check_dataset(missing, tmp_path) == [f"path: folder not found: {tmp_path / 'nowhere'}"]
    with pytest.raises(DataError, match="nowhere"):
        dataset_classes(missing, tmp_path)


# --------------------------------------------------------------------------- npz


def test_npz_round_trip_without_val(tmp_path, digits):
    x, y = digits
    np.savez(tmp_path / "d.npz", x_train=x[:1000], y_train=y[:1000], x_test=x[1000:1200], y_test=y[1000:1200])
    spec = NpzDataset(name="n", kind="npz", path=Path("d.npz"))
    assert check_dataset(spec, tmp_path) == []
    assert dataset_classes(spec, tmp_path) == [str(i) for i in range(10)]
    d = load_dataset(spec, (8, 8), 1, 0, tmp_path)
    assert d.classes == [str(i) for i in range(10)]
    assert len(d.test) == 200 and len(d.val) == 150 and len(d.train) == 850
    assert np.array_equal(d.test.x[..., 0], x[1000:1200]) and np.array_equal(d.test.y, y[1000:1200])
    stored = {tuple(i.ravel()) for i in x[:1000]}
    assert {tuple(i.ravel()) for p in (d.train, d.val) for i in p.x[..., 0]} <= stored


def test_npz_round_trip_with_val_float_and_channels(tmp_path, digits):
    x, y = digits
    xf = (x[..., None] / 255.0).astype(np.float32)  # float in [0, 1], (N, H, W, 1)
    np.savez_compressed(
        tmp_path / "d.npz",
        x_train=xf[:500], y_train=y[:500],
        x_val=xf[500:600], y_val=y[500:600],
        x_test=xf[600:700], y_test=y[600:700],
    )
    spec = NpzDataset(name="n", kind="npz", path=tmp_path / "d.npz", classes=[f"digit{i}" for i in range(10)])
    d = load_dataset(spec, (8, 8), 3, 0, tmp_path)
    assert (len(d.train), len(d.val), len(d.test)) == (500, 100, 100)
    assert np.array_equal(d.train.x[..., 1], x[:500]) and np.array_equal(d.val.y, y[500:600])
    assert d.classes[3] == "digit3"


def test_npz_label_out_of_range(tmp_path, digits):
    x, y = digits
    np.savez(tmp_path / "d.npz", x_train=x[:100], y_train=y[:100], x_test=x[100:150], y_test=y[100:150])
    spec = NpzDataset(name="n", kind="npz", path=tmp_path / "d.npz", classes=["0", "1", "2"])
    with pytest.raises(DataError) as info:
        load_dataset(spec, (8, 8), 1, 0, tmp_path)
    assert "0..2" in str(info.value) and "d.npz" in str(info.value)


def test_npz_check_dataset(tmp_path, digits):
    x, y = digits
    np.savez(tmp_path / "partial.npz", x_train=x[:10], y_train=y[:10])
    spec = NpzDataset(name="n", kind="npz", path=Path("partial.npz"))
    problems = check_dataset(spec, tmp_path)
    assert len(problems) == 1 and problems[0].startswith("path:") and "x_test" in problems[0]
    missing = NpzDataset(name="n", kind="npz", path=Path("none.npz"))
    assert check_dataset(missing, tmp_path) == [f"path: file not found: {tmp_path / 'none.npz'}"]
    with pytest.raises(DataError, match="y_test"):
        load_dataset(spec, (8, 8), 1, 0, tmp_path)


# --------------------------------------------------------------------------- plug-in kinds


def test_new_kind_plugs_in(monkeypatch, digits):
    x, y = digits
    monkeypatch.setitem(data.LOADERS, "toy", lambda spec, base: data.RawData(
        classes=[str(i) for i in range(10)], description="toy", pool=data.RawPart(y=y, x=x)))
    spec = SimpleNamespace(kind="toy", name="t", max_samples=None)
    d = load_dataset(spec, (8, 8), 1, 0, Path("."))
    assert len(d.train) + len(d.val) + len(d.test) == 1797 and d.description == "toy"
    with pytest.raises(DataError, match="unknown kind"):
        load_dataset(SimpleNamespace(kind="nope", name="t"), (8, 8), 1, 0, Path("."))


# --------------------------------------------------------------------------- unlabelled images


def test_images_astronaut_face_crop():
    from skimage.data import astronaut

    spec = ImagesDataset(name="photos", kind="images", samples=["astronaut"], face_crop=True)
    assert check_dataset(spec, Path(".")) == [] and dataset_classes(spec, Path(".")) == []
    d = load_dataset(spec, (64, 64), 1, 0, Path("."))
    assert d.labelled is False and d.classes == []
    assert d.test.x.shape == (1, 64, 64, 1) and d.test.x.dtype == np.uint8
    assert d.test.y.dtype == np.int64 and d.test.y.tolist() == [-1]
    assert len(d.train) == 0 and len(d.val) == 0 and d.train.x.shape[1:] == (64, 64, 1)
    assert len(d.sources) == 1 and d.sources[0].name == "astronaut"
    assert np.array_equal(d.sources[0].image, astronaut())
    assert len(d.sources[0].faces) == 1 and d.sources[0].faces[0].confidence >= 0.9
    assert d.source_index.tolist() == [0] and d.face_index.tolist() == [0]
    # the test image is the face crop, not the whole photo, converted like every dataset
    from reportgen.run.faces import crop_face

    crop = crop_face(astronaut(), d.sources[0].faces[0], 0.2)
    assert np.array_equal(d.test.x, data.convert_images(crop[None], (64, 64), 1))
    assert "1 face crop" in _en(d.description) and "astronaut" in _en(d.description)


def test_images_folder_whole_photos_with_corrupt_file(tmp_path):
    from skimage.data import camera, coffee

    folder = tmp_path / "photos" / "nested"
    folder.mkdir(parents=True)
    Image.fromarray(coffee()).save(folder / "b_coffee.jpg", quality=95)
    Image.fromarray(camera()).save(tmp_path / "photos" / "a_camera.png")
    corrupt = folder / "c_broken.png"
    corrupt.write_bytes(b"\x89PNG not really" * 10)
    spec = ImagesDataset(name="p", kind="images", path=Path("photos"), samples=["chelsea"])
    assert check_dataset(spec, tmp_path) == []
    d = load_dataset(spec, (48, 40), 3, 0, tmp_path)
    assert [p for p, _ in d.skipped] == [str(corrupt)] and "skipped" in _en(d.description)
    assert [s.name for s in d.sources] == ["a_camera.png", "nested/b_coffee.jpg", "chelsea"]
    assert d.test.x.shape == (3, 48, 40, 3) and (d.test.y == -1).all()
    assert d.face_index.tolist() == [-1, -1, -1] and all(s.faces == [] for s in d.sources)
    assert np.array_equal(d.sources[0].image, np.repeat(camera()[..., None], 3, axis=-1))  # gray → RGB
    assert np.array_equal(d.test.x[0], data.convert_images(camera()[None], (48, 40), 3)[0])
    one = load_dataset(spec.model_copy(update={"max_samples": 1}), (48, 40), 1, 0, tmp_path)
    assert one.test.x.shape == (1, 48, 40, 1) and len(one.sources) == 1
    assert "max_samples" in _en(one.description)
    # include / exclude pick photos by file name (the nested folder's photo by its own name).
    picked = spec.model_copy(update={"include": ["b_*", "c_*"], "exclude": ["c_*"], "samples": []})
    assert check_dataset(picked, tmp_path) == []
    assert [s.name for s in load_dataset(picked, (48, 40), 3, 0, tmp_path).sources] == ["nested/b_coffee.jpg"]
    none_left = spec.model_copy(update={"include": ["zzz*"]})
    assert any(p.startswith("include:") for p in check_dataset(none_left, tmp_path))


def test_images_face_crop_without_faces(tmp_path):
    from skimage.data import coffee

    (tmp_path / "in").mkdir()
    Image.fromarray(coffee()).save(tmp_path / "in" / "mug.png")
    spec = ImagesDataset(name="p", kind="images", path=tmp_path / "in", samples=["rocket"], face_crop=True)
    with pytest.raises(DataError) as info:
        load_dataset(spec, (64, 64), 1, 0, tmp_path)
    assert "no face" in str(info.value) and "mug.png" in str(info.value) and "rocket" in str(info.value)


def test_images_check_dataset(tmp_path):
    missing = ImagesDataset(name="p", kind="images", path=Path("nowhere"))
    assert check_dataset(missing, tmp_path) == [f"path: folder not found: {tmp_path / 'nowhere'}"]
    with pytest.raises(DataError, match="nowhere"):
        load_dataset(missing, (8, 8), 1, 0, tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no pictures")
    empty = ImagesDataset(name="p", kind="images", path=Path("empty"))
    assert check_dataset(empty, tmp_path)[0].startswith("path: no image files")
    labelled = ImagesDataset(name="p", kind="images", samples=["coffee"], classes=["a", "b"])
    assert [m.split(":")[0] for m in check_dataset(labelled, tmp_path)] == ["classes"]
    assert dataset_classes(labelled, tmp_path) == []
    # a gray sample photo becomes an RGB source and a gray model input
    camera = ImagesDataset(name="p", kind="images", samples=["camera"])
    d = load_dataset(camera, (16, 16), 1, 0, tmp_path)
    assert d.test.x.shape == (1, 16, 16, 1) and d.sources[0].image.shape[2] == 3
