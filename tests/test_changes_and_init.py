"""`--compare-to` / `--fail-on-drop` against a doctored previous metrics.json, and `reportgen init`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from statsmodels.stats.proportion import proportion_confint

from reportgen.errors import ConfigError
from tests.conftest import run_cli, run_reportgen

MANIFEST = """\
[report]
title = { "zh-TW" = "回歸測試", en = "Regression test" }
seed = 4
formats = ["html"]

[[datasets]]
name = "digits"
kind = "digits"
max_samples = 300

[[models]]
name = "cnn"
kind = "cnn"
input_shape = [12, 12, 1]
conv_blocks = [{ filters = 4 }]
dense = [16]

[[experiments]]
name = "a"
dataset = "digits"
model = "cnn"
analyses = ["accuracy"]
train = { epochs = 2 }

[[experiments]]
name = "b"
dataset = "digits"
model = "cnn"
analyses = ["accuracy"]
train = { epochs = 3 }
"""


@pytest.mark.slow
def test_compare_to_reports_deltas_and_fails_on_a_drop(tmp_path):
    manifest = tmp_path / "experiments.toml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    first = run_cli("build", manifest, "-q")
    assert first.returncode == 0, first.stderr
    first_metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    now = first_metrics["experiments"]
    # A doctored previous run (its metrics.json only, so the gate judges by this run's Wilson
    # interval): a was better than the top of this run's interval (a significant drop), b 3
    # points better (a drop within the noise of this small test set).
    images = sum(v["support"] for v in now["a"]["per_class"].values())
    high = proportion_confint(round(now["a"]["accuracy"] * images), images, alpha=0.05,
                              method="wilson")[1]
    assert high + 0.01 <= 1 and now["b"]["accuracy"] + 0.03 <= 1, (now["a"]["accuracy"], images)
    previous = {"experiments": {
        "a": {"accuracy": high + 0.01, "macro_avg": {"f1": now["a"]["macro_avg"]["f1"]}},
        "b": {"accuracy": now["b"]["accuracy"] + 0.03, "macro_avg": {"f1": now["b"]["macro_avg"]["f1"]}},
        "gone": {"accuracy": 0.5, "macro_avg": {"f1": 0.5}}},
        # The previous run had another Keras: the gate names it beside the drop.
        "environment": {**first_metrics["environment"], "keras": "3.0.0"}}
    previous_path = tmp_path / "previous.json"
    previous_path.write_text(json.dumps(previous), encoding="utf-8")
    drop_a = (high + 0.01 - now["a"]["accuracy"]) * 100

    done = run_reportgen("build", manifest, "-q", "--compare-to", previous_path, "--fail-on-drop", "2")
    assert done.returncode == 3, done.stderr
    assert f"a: accuracy dropped {drop_a:.1f} points" in done.stderr and "Traceback" not in done.stderr
    keras = first_metrics["environment"]["keras"]
    assert f"; Keras 3.0.0 → {keras} changed in between" in done.stderr
    assert "outside this run's 95% Wilson interval" in done.stderr and "b: accuracy" not in done.stderr
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    records = {r["experiment"]: r for r in metrics["comparison"]["changes"]["experiments"]}
    assert set(records) == {"a", "b"}
    assert records["a"]["accuracy"]["delta_points"] == pytest.approx(-drop_a)
    assert records["b"]["accuracy"]["delta_points"] == pytest.approx(-3.0)
    assert records["a"]["macro_f1"]["delta_points"] == pytest.approx(0.0)
    assert records["a"]["evidence"]["kind"] == "interval" and records["a"]["accuracy"]["significant"]
    assert not records["b"]["accuracy"]["significant"]
    assert records["a"]["regression"] and not records["b"]["regression"]
    assert metrics["comparison"]["changes"]["environment_changes"] == [
        {"entry": "keras", "previous": "3.0.0", "now": keras}]
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert f"-{drop_a:.1f}" in html and "-3.0" in html

    assert run_cli("build", manifest, "-q", "--compare-to", previous_path,
                      "--fail-on-drop", f"{drop_a + 1:.0f}").returncode == 0
    missing = run_cli("build", manifest, "-q", "--compare-to", tmp_path / "nope.json")
    assert missing.returncode == 2 and "--compare-to" in missing.stderr and "nope.json" in missing.stderr
    alone = run_cli("build", manifest, "-q", "--fail-on-drop", "2")
    assert alone.returncode == 2 and "needs --compare-to" in alone.stderr


def _faces(root: Path, classes: list[str], count: int = 6) -> None:
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, (30, 30), dtype=np.uint8)).save(root / c / f"{i}.png")


def test_init_writes_a_manifest_that_validates(tmp_path):
    _faces(tmp_path / "my faces", ["happy", "angry", "sad"])
    (tmp_path / "my faces" / "empty").mkdir()
    out = tmp_path / "experiments.toml"
    refused = run_reportgen("init", tmp_path / "my faces", "--output", out)
    assert refused.returncode == 2 and "['empty']" in refused.stderr and not out.exists()
    (tmp_path / "my faces" / "empty").rmdir()
    done = run_cli("init", tmp_path / "my faces", "--output", out)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert 'classes = ["angry", "happy", "sad"]' in text and 'path = "my faces"' in text
    assert "學號" in text and "student ID" in text
    checked = run_cli("validate", out)
    assert checked.returncode == 0, checked.stderr
    again = run_cli("init", tmp_path / "my faces", "--output", out)
    assert again.returncode == 2 and "--force" in again.stderr
    # Written into the image folder itself, the manifest sends its report outside the images
    # (out/ there would be read as a class folder).
    inside = tmp_path / "my faces" / "experiments.toml"
    assert run_cli("init", tmp_path / "my faces", "--output", inside).returncode == 0
    assert 'output_dir = "../my faces-report"' in inside.read_text(encoding="utf-8")
    checked = run_cli("validate", inside)
    assert checked.returncode == 0, checked.stderr


def test_init_on_webp_images_unzipped_on_a_mac(tmp_path):
    """A zip made on macOS unpacks with a ``__MACOSX`` folder of AppleDouble ``._name`` files
    (not images, whatever their ending); copies to other disks leave ``._name`` beside files."""
    root = tmp_path / "faces"
    rng = np.random.default_rng(1)
    for c in ["happy", "sad"]:
        (root / c).mkdir(parents=True)
        (root / "__MACOSX" / c).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(root / c / f"{i}.webp")
            (root / "__MACOSX" / c / f"._{i}.webp").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
        (root / c / "._0.webp").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (root / "__MACOSX" / "._happy").write_bytes(b"\x00\x05\x16\x07")
    with Image.open(root / "happy" / "0.webp") as image:
        assert image.format == "WEBP"
    out = tmp_path / "experiments.toml"
    done = run_cli("init", root, "--output", out)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert 'classes = ["happy", "sad"]' in text and "__MACOSX" not in text
    checked = run_cli("validate", out)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_init_with_train_and_test_folders_and_bad_input(tmp_path):
    _faces(tmp_path / "ck" / "train", ["anger", "contempt"])
    _faces(tmp_path / "ck" / "test", ["anger", "contempt"], count=2)
    out = tmp_path / "m.toml"
    assert run_cli("init", tmp_path / "ck", "-o", out).returncode == 0
    text = out.read_text(encoding="utf-8")
    assert 'train_dir = "ck/train"' in text and 'test_dir = "ck/test"' in text
    assert run_cli("validate", out).returncode == 0
    bad = run_cli("init", tmp_path / "nothing", "-o", tmp_path / "x.toml")
    assert bad.returncode == 2 and "not a folder" in bad.stderr


def test_init_quotes_toml_strings_readably():
    import tomllib

    from reportgen.init import _toml_string

    for value in ['C:\\data\\臉 "faces"', "énfant", "tab\there", "new\nline", "bell\x07",
                  "del\x7f", 'end\\"', "😀 e\u0301"]:
        assert tomllib.loads(f"x = {_toml_string(value)}")["x"] == value
    assert _toml_string("臉") == '"臉"'
    with pytest.raises(ConfigError, match="not valid UTF-8"):  # undecodable bytes in a file name
        _toml_string(b"caf\xe9".decode("utf-8", "surrogateescape"))
