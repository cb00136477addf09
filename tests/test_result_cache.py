"""The result cache: a rebuild with nothing changed trains nothing, computes no analysis and
gives the same report; a changed option recomputes only its analysis; --force recomputes all;
a damaged entry is computed again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from reportgen.analyses import registry
from reportgen.report_types import AnalysisResult, Figure, Msg, Table
from reportgen.result_cache import ResultCache, analysis_key, evaluation_key
from tests.conftest import TINY_STUDENT, frameworks_loaded_by_build, run_cli, tiny_digits_cnn

pytestmark = pytest.mark.slow

ANALYSES = """analyses = ["accuracy", "confusion_matrix", "training_curves",
            { method = "saliency", examples = 2 }, { method = "gradcam", examples = 2 }]"""

MANIFEST = """\
[report]
title = { "zh-TW" = "快取測試", en = "Cache test" }
""" + TINY_STUDENT + """\
seed = 5
formats = ["html"]
""" + tiny_digits_cnn(300) + """
[[experiments]]
name = "small"
dataset = "digits"
model = "cnn"
train = { epochs = 2, batch_size = 32 }
""" + ANALYSES + "\n"

VOLATILE = {"timings", "generation", "created", "reused", "cache", "setup", "computed_seconds"}
"""Keys that differ between a computing and a reusing build by design."""


def _stable(value):
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


class Calls:
    """Counts analysis runs and training calls by wrapping them."""

    def __init__(self, monkeypatch) -> None:
        import reportgen.run.train as train_module

        self.analyses: list[str] = []
        self.trained = 0
        for name, cls in registry.available().items():
            original = cls.run

            def counted(this, ctx, params, _original=original, _name=name):
                self.analyses.append(_name)
                return _original(this, ctx, params)

            monkeypatch.setattr(cls, "run", counted)
        original_train = train_module.train

        def counted_train(*args, **kwargs):
            self.trained += 1
            return original_train(*args, **kwargs)

        monkeypatch.setattr(train_module, "train", counted_train)


@pytest.fixture(scope="module")
def cold(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    manifest = root / "experiments.toml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    result = run_cli("build", manifest, "-q")
    assert result.returncode == 0, result.stderr
    return {"root": root, "manifest": manifest, "out": root / "out", "metrics": _metrics(root / "out")}


def _copy(cold, tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the cold build (manifest + output folder) for one test to change."""
    root = tmp_path / "project"
    shutil.copytree(cold["root"], root, symlinks=True)
    return root / "experiments.toml", root / "out"


def test_rebuild_with_nothing_changed_computes_nothing(cold, tmp_path, monkeypatch):
    manifest, out = _copy(cold, tmp_path)
    calls = Calls(monkeypatch)
    result = run_cli("build", manifest)
    assert result.returncode == 0, result.stderr
    assert calls.analyses == [] and calls.trained == 0
    assert "reused from the result cache: training, evaluation and 5 analyses" in result.stderr
    first, second = cold["metrics"]["experiments"]["small"], _metrics(out)["experiments"]["small"]
    assert second["reused"] is True and first["reused"] is False
    assert all(a["reused"] for a in second["analyses"].values())
    assert not any(a["reused"] for a in first["analyses"].values())
    # Same numbers, notes, tables and figure captions as the build that computed them.
    assert _stable(second) == _stable(first)
    # The figures are the computed ones, byte for byte.
    for analysis in first["analyses"].values():
        for figure in analysis["figures"]:
            assert (out / figure["path"]).read_bytes() == (cold["out"] / figure["path"]).read_bytes()
    with np.load(out / "experiments/small/predictions.npz") as new, \
            np.load(cold["out"] / "experiments/small/predictions.npz") as old:
        np.testing.assert_array_equal(new["probabilities"], old["probabilities"])
    html = (out / "report.html").read_text()
    assert "all 5 analyses were reused from the result cache (nothing changed)" in html
    assert "分析結果" in html


def test_changed_option_recomputes_only_that_analysis(cold, tmp_path, monkeypatch):
    manifest, out = _copy(cold, tmp_path)
    manifest.write_text(manifest.read_text().replace('method = "saliency", examples = 2',
                                                     'method = "saliency", examples = 3'))
    calls = Calls(monkeypatch)
    result = run_cli("build", manifest, "-q")
    assert result.returncode == 0, result.stderr
    assert calls.analyses == ["saliency"] and calls.trained == 0
    analyses = _metrics(out)["experiments"]["small"]["analyses"]
    assert [n for n, a in analyses.items() if not a["reused"]] == ["saliency"]
    assert len(analyses["saliency"]["metrics"]["examples"]) == 3
    html = (out / "report.html").read_text()
    assert "; computed in this build: Saliency maps</span>" in html
    assert "all 5 analyses were computed in this build" in (cold["out"] / "report.html").read_text()
    computed = cold["metrics"]["experiments"]["small"]["analyses"]["gradcam"]
    assert analyses["gradcam"] == {**computed, "reused": True}


def test_force_recomputes_everything(cold, tmp_path, monkeypatch):
    manifest, out = _copy(cold, tmp_path)
    calls = Calls(monkeypatch)
    result = run_cli("build", manifest, "-q", "--force")
    assert result.returncode == 0, result.stderr
    assert sorted(calls.analyses) == sorted(["accuracy", "confusion_matrix", "training_curves",
                                             "saliency", "gradcam"])
    assert calls.trained == 1
    assert not _metrics(out)["experiments"]["small"]["reused"]


def test_damaged_entry_is_computed_again(cold, tmp_path, monkeypatch):
    manifest, out = _copy(cold, tmp_path)
    results = sorted((out / "cache" / "analyses").glob("*/result.json"))
    assert len(results) == 5
    gradcam = next(p for p in results if '"layer"' in p.read_text())
    gradcam.write_text(gradcam.read_text()[:40])  # truncated: not JSON
    calls = Calls(monkeypatch)
    result = run_cli("build", manifest, "-q")
    assert result.returncode == 0, result.stderr
    assert calls.analyses == ["gradcam"] and calls.trained == 0
    assert json.loads(gradcam.read_text())["metrics"]["layer"]  # stored again, whole


def test_a_language_change_redraws_the_figures(cold, tmp_path, monkeypatch):
    """Figure labels are drawn in the report's languages: another language set is another key."""
    manifest, out = _copy(cold, tmp_path)
    manifest.write_text(manifest.read_text().replace('seed = 5', 'seed = 5\nlanguages = ["en"]'))
    calls = Calls(monkeypatch)
    assert run_cli("build", manifest, "-q").returncode == 0
    assert sorted(calls.analyses) == sorted(["accuracy", "confusion_matrix", "training_curves",
                                             "saliency", "gradcam"])
    assert calls.trained == 0


def test_warm_rebuild_imports_no_tensorflow(cold, tmp_path):
    """In a fresh process (as a user runs it): nothing to compute, so TensorFlow is never loaded."""
    manifest, out = _copy(cold, tmp_path)
    assert frameworks_loaded_by_build(manifest) == []
    assert _metrics(out)["experiments"]["small"]["reused"] is True


def test_store_is_whole_or_absent(tmp_path, monkeypatch):
    """An entry interrupted while being written leaves no entry (and no temporary folder)."""
    figure = tmp_path / "figures" / "a.png"
    figure.parent.mkdir()
    figure.write_bytes(b"png bytes")
    result = AnalysisResult(metrics={"x": 1.5, "nan": float("nan")},
                            figures=[Figure(figure, Msg("A {n}", {"n": 2}), wide=True)],
                            tables=[Table([Msg("Column")], [[1, "b"]], Msg("Caption"))],
                            notes=[Msg("note {v}", {"v": Msg("nested")})])
    cache = ResultCache(tmp_path / "cache")
    key = analysis_key("e", "m", {"p": 1}, ["en"])

    def broken_copy(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "copyfile", broken_copy)
    with pytest.raises(KeyboardInterrupt):
        cache.store_analysis(key, result, 1.0)
    monkeypatch.undo()
    assert list((tmp_path / "cache" / "analyses").iterdir()) == []
    cache.store_analysis(key, result, 1.25)
    loaded, seconds = cache.load_analysis(key, tmp_path / "elsewhere")
    assert seconds == 1.25
    assert loaded.notes == result.notes and loaded.tables == result.tables
    assert loaded.metrics["x"] == 1.5 and np.isnan(loaded.metrics["nan"])
    assert loaded.figures == [Figure(tmp_path / "elsewhere" / "a.png", Msg("A {n}", {"n": 2}), True)]
    assert (tmp_path / "elsewhere" / "a.png").read_bytes() == b"png bytes"


def test_keys_follow_what_determines_a_result():
    # Two experiments with the same inputs never share a result (captions name the experiment).
    assert len({evaluation_key("a", "inputs", None), evaluation_key("b", "inputs", None),
                evaluation_key("a", "inputs2", None), evaluation_key("a", "inputs", "sha")}) == 4
    base = analysis_key("eval", "gradcam", {"examples": 2}, ["zh-TW", "en"])
    assert base == analysis_key("eval", "gradcam", {"examples": 2}, ["zh-TW", "en"])
    assert len({base, analysis_key("eval2", "gradcam", {"examples": 2}, ["zh-TW", "en"]),
                analysis_key("eval", "saliency", {"examples": 2}, ["zh-TW", "en"]),
                analysis_key("eval", "gradcam", {"examples": 3}, ["zh-TW", "en"]),
                analysis_key("eval", "gradcam", {"examples": 2}, ["en"])}) == 5
