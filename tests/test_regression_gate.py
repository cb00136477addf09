"""The noise-aware regression gate (`--compare-to` with `--fail-on-drop` / `--fail-on-drop-any`):
constructed previous runs (metrics.json + predictions.npz) against constructed current records,
the p-values checked against SciPy / statsmodels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from reportgen.predictions import PREDICTIONS_FILE, RunPredictions, write_predictions
from reportgen.run.evaluate import evaluate
from reportgen.significance import paired_comparison
from reportgen.study.changes import (
    NO_CURRENT_PREDICTIONS,
    NO_PREVIOUS_PREDICTIONS,
    OTHER_TEST_SET,
    changes,
    load_previous,
)
from tests.conftest import run_cli

CLASSES = ["zero", "one", "two"]
KEY = "0123456789abcdef"


def _runs(n: int, right: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """True labels (3 classes in turn) and one row of predictions per mask: the true class where
    the mask is set, the next class elsewhere."""
    y = np.arange(n) % 3
    return y, np.stack([np.where(mask, y, (y + 1) % 3) for mask in right])


def _mask(n: int, *spans: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(n, bool)
    for start, stop in spans:
        mask[start:stop] = True
    return mask


def _record(y: np.ndarray, runs: np.ndarray, key: str = KEY) -> dict:
    """A record as a build writes it: the representative run's evaluation (with its intervals),
    the classes and the test set."""
    return {**evaluate(y, runs[0], CLASSES), "status": "ok", "classes": CLASSES,
            "test_set": {"key": key, "images": len(y)}, "repeats": None}


def _write_previous(folder: Path, experiments: dict[str, tuple[np.ndarray, np.ndarray]],
                    key: str = KEY, seeds: dict[str, tuple[int, ...]] | None = None) -> Path:
    """A previous build's output folder: metrics.json and each experiment's predictions.npz."""
    for name, (y, runs) in experiments.items():
        probabilities = np.eye(3)[runs[0]]
        if seeds and name in seeds:
            write_predictions(folder / "experiments" / name, y, runs[0], probabilities, runs, seeds[name])
        else:
            write_predictions(folder / "experiments" / name, y, runs[0], probabilities)
    document = {"experiments": {name: _record(y, runs, key) for name, (y, runs) in experiments.items()}}
    (folder / "metrics.json").write_text(json.dumps(document), encoding="utf-8")
    return folder / "metrics.json"


def _gate(tmp_path: Path, before: tuple, now: tuple, name: str = "digits_plain", **rule):
    previous = load_previous(_write_previous(tmp_path / "before", {name: before}))
    current = {name: _record(*now)}
    section, regressions = changes(previous, current, rule.get("fail_on_drop"), "before/metrics.json",
                                   current_predictions={name: RunPredictions(now[0], now[1], ())},
                                   fail_on_drop_any=rule.get("fail_on_drop_any"))
    return section.result.metrics["experiments"][0], regressions, section


# 70 images: before right on 63 (0.9000), now on 61 (0.8714): a 2.9-point drop from two images.
SMALL_BEFORE = _runs(70, [_mask(70, (0, 63))])
SMALL_NOW = _runs(70, [_mask(70, (0, 61))])
# 500 images: 20 images only the previous run got right, 6 only this one: a 2.8-point drop.
LARGE_BEFORE = _runs(500, [_mask(500, (0, 420))])
LARGE_NOW = _runs(500, [_mask(500, (0, 400), (420, 426))])
# 2000 images, 0.9000 → 0.8700: outside this run's Wilson interval too.
HUGE_BEFORE = _runs(2000, [_mask(2000, (0, 1800))])
HUGE_NOW = _runs(2000, [_mask(2000, (0, 1740))])


def test_a_drop_of_two_images_in_seventy_is_noise_and_passes_fail_on_drop(tmp_path):
    record, regressions, section = _gate(tmp_path, SMALL_BEFORE, SMALL_NOW, fail_on_drop=2)
    assert regressions == []
    accuracy = record["accuracy"]
    assert accuracy["delta_points"] == pytest.approx((61 - 63) / 70 * 100)
    assert record["evidence"] == {"kind": "paired", "reason": None, "test": "mcnemar_exact",
                                  "runs": 1, "images": 70}
    assert accuracy["p"] == pytest.approx(binomtest(0, 2, 0.5).pvalue) == pytest.approx(0.5)
    assert not accuracy["significant"] and not record["regression"]
    row = section.result.tables[0].rows[0]
    assert row[0] == "digits_plain" and row[1] == "0.9000 → 0.8714" and row[3] == "0.500"
    low, high = accuracy["ci_points"]
    assert row[2] == f"-2.9 [{low:+.1f}, {high:+.1f}]" and low < 0 <= high


def test_fail_on_drop_any_keeps_the_plain_rule(tmp_path):
    _, small, _ = _gate(tmp_path / "small", SMALL_BEFORE, SMALL_NOW, fail_on_drop_any=2)
    _, large, _ = _gate(tmp_path / "large", LARGE_BEFORE, LARGE_NOW, fail_on_drop_any=2)
    assert small[0] == "digits_plain: accuracy dropped 2.9 points (0.9000 → 0.8714; McNemar p = 0.500)"
    assert small[1].startswith("digits_plain: macro_f1 dropped 2.9 points (0.9001 → 0.8714; paired "
                               "bootstrap p = ") and len(small) == 2
    assert large[0].startswith("digits_plain: accuracy dropped 2.8 points (0.8400 → 0.8120; McNemar p = ")
    _, none, section = _gate(tmp_path / "loose", SMALL_BEFORE, SMALL_NOW, fail_on_drop_any=3)
    assert none == [] and section.result.metrics["rule"] == "any"


def test_the_same_drop_on_a_large_test_set_is_significant_and_fails(tmp_path):
    record, regressions, section = _gate(tmp_path, LARGE_BEFORE, LARGE_NOW, fail_on_drop=2)
    p = binomtest(6, 26, 0.5).pvalue
    assert 0.001 < p < 0.05
    assert record["accuracy"]["p"] == pytest.approx(p) and record["accuracy"]["significant"]
    assert regressions[0] == ("digits_plain: accuracy dropped 2.8 points (0.8400 → 0.8120; "
                              f"McNemar p = {p:.3f})")
    assert record["regression"] and section.result.metrics["rule"] == "significant"
    assert section.result.tables[0].rows[0][-1].msgid == "regression"


def test_holm_adjusts_over_the_experiments_compared(tmp_path):
    previous = load_previous(_write_previous(tmp_path, {"small": SMALL_BEFORE, "large": LARGE_BEFORE}))
    now = {"small": SMALL_NOW, "large": LARGE_NOW}
    section, regressions = changes(previous, {n: _record(*v) for n, v in now.items()}, 2, "x",
                                   {n: RunPredictions(v[0], v[1], ()) for n, v in now.items()})
    records = {r["experiment"]: r for r in section.result.metrics["experiments"]}
    raw = [records[n]["accuracy"]["p"] for n in ("small", "large")]
    expected = multipletests(raw, method="holm")[1]
    assert [records[n]["accuracy"]["p_holm"] for n in ("small", "large")] == pytest.approx(list(expected))
    assert records["large"]["accuracy"]["p_holm"] == pytest.approx(2 * raw[1])
    assert [r.split(":")[0] for r in regressions if ": accuracy" in r] == ["large"]
    assert "Holm-adjusted" in regressions[0]


def test_without_previous_predictions_the_current_wilson_interval_decides(tmp_path):
    results = {}
    for name, before, now in (("small", SMALL_BEFORE, SMALL_NOW), ("large", HUGE_BEFORE, HUGE_NOW)):
        path = _write_previous(tmp_path / name, {name: before})
        (path.parent / "experiments" / name / PREDICTIONS_FILE).unlink()  # only metrics.json left
        previous = load_previous(path)
        assert previous[name]["predictions"] is None
        section, regressions = changes(previous, {name: _record(*now)}, 2, "x",
                                       {name: RunPredictions(now[0], now[1], ())})
        results[name] = section.result.metrics["experiments"][0], regressions
    small, small_regressions = results["small"]
    large, large_regressions = results["large"]
    assert small["evidence"]["kind"] == "interval" and small["evidence"]["reason"] == NO_PREVIOUS_PREDICTIONS
    wilson = proportion_confint(61, 70, alpha=0.05, method="wilson")
    assert small["accuracy"]["interval"] == pytest.approx(list(wilson))
    assert small["accuracy"]["p"] is None and not small["accuracy"]["significant"]
    assert small_regressions == []
    low, high = proportion_confint(1740, 2000, alpha=0.05, method="wilson")
    assert high < 0.9 and large["accuracy"]["significant"]
    assert large["accuracy"]["ci_points"] == pytest.approx([(low - 0.9) * 100, (high - 0.9) * 100])
    assert large_regressions[0] == (f"large: accuracy dropped 3.0 points (0.9000 → 0.8700; previous "
                                    f"value outside this run's 95% Wilson interval {low:.4f}–{high:.4f}; "
                                    "previous predictions missing)")


def test_a_metrics_json_without_intervals_or_predictions_still_gates(tmp_path):
    """An older build's metrics.json and records without ``intervals``: the Wilson interval
    comes from the record's accuracy and test supports."""
    name = "old"
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"experiments": {name: {"accuracy": 0.9, "macro_avg": {"f1": 0.8}}}}),
                    encoding="utf-8")
    current = {name: {key: value for key, value in _record(*HUGE_NOW).items() if key != "intervals"}}
    section, regressions = changes(load_previous(path), current, 2, "x")
    record = section.result.metrics["experiments"][0]
    assert record["evidence"]["reason"] == NO_PREVIOUS_PREDICTIONS
    assert record["accuracy"]["interval"] == pytest.approx(
        list(proportion_confint(1740, 2000, alpha=0.05, method="wilson")))
    assert record["macro_f1"]["interval"] is None and not record["macro_f1"]["significant"]
    assert [r.split(":")[1].split()[0] for r in regressions] == ["accuracy"]
    section, _ = changes(load_previous(path), current, None, "x",
                         current_predictions={name: RunPredictions(HUGE_NOW[0], HUGE_NOW[1], ())})
    assert section.result.metrics["experiments"][0]["macro_f1"]["interval"] is not None


def test_other_test_sets_or_missing_current_predictions_fall_back_to_intervals(tmp_path):
    previous = load_previous(_write_previous(tmp_path, {"e": LARGE_BEFORE}))
    other = {"e": _record(*LARGE_NOW, key="fedcba9876543210")}
    predictions = {"e": RunPredictions(LARGE_NOW[0], LARGE_NOW[1], ())}
    section, _ = changes(previous, other, 2, "x", predictions)
    assert section.result.metrics["experiments"][0]["evidence"]["reason"] == OTHER_TEST_SET
    section, _ = changes(previous, {"e": _record(*LARGE_NOW)}, 2, "x")
    assert section.result.metrics["experiments"][0]["evidence"]["reason"] == NO_CURRENT_PREDICTIONS
    assert section.result.tables[0].rows[0][-2].msgid == "interval: this run's predictions not at hand"


def test_repeats_are_paired_by_seed(tmp_path):
    n = 300
    rng = np.random.default_rng(4)
    masks = [rng.random(n) < p for p in (0.8, 0.82, 0.78, 0.7, 0.72, 0.69)]
    y, now_runs = _runs(n, masks[:3])
    _, before_runs = _runs(n, masks[3:])
    # The previous run stored its seeds in another order: row i of before is seed (44, 42, 43)[i].
    before_stored = before_runs[[2, 0, 1]]
    path = _write_previous(tmp_path, {"e": (y, before_stored)}, seeds={"e": (44, 42, 43)})
    previous = load_previous(path)
    assert previous["e"]["predictions"].seeds == (44, 42, 43)
    section, _ = changes(previous, {"e": _record(y, now_runs)}, 2, "x",
                         {"e": RunPredictions(y, now_runs, (42, 43, 44))})
    record = section.result.metrics["experiments"][0]
    expected = paired_comparison(y, now_runs, before_runs, 3)
    assert record["evidence"]["runs"] == 3
    assert record["accuracy"]["p"] == pytest.approx(expected["accuracy"]["p"])
    assert record["accuracy"]["delta_points"] == pytest.approx(expected["accuracy"]["delta_points"])
    assert section.result.tables[0].rows[0][-2].params == {"count": 3}
    # Other seeds: only the representative runs (row 0) are compared.
    section, _ = changes(previous, {"e": _record(y, now_runs)}, 2, "x",
                         {"e": RunPredictions(y, now_runs, (7, 8, 9))})
    record = section.result.metrics["experiments"][0]
    assert record["evidence"]["runs"] == 1
    assert record["accuracy"]["p"] == pytest.approx(
        paired_comparison(y, now_runs[0], before_stored[0], 3)["accuracy"]["p"])


def test_load_previous_keeps_intervals_test_set_and_predictions(tmp_path):
    path = _write_previous(tmp_path, {"e": SMALL_BEFORE})
    entry = load_previous(path)["e"]
    assert entry["test_set"] == {"key": KEY, "images": 70} and entry["classes"] == CLASSES
    assert entry["intervals"]["accuracy"] == pytest.approx(
        list(proportion_confint(63, 70, alpha=0.05, method="wilson")))
    assert entry["repeats"] is None
    np.testing.assert_array_equal(entry["predictions"].y_pred_runs, SMALL_BEFORE[1])
    np.testing.assert_array_equal(entry["predictions"].y_true, SMALL_BEFORE[0])


def test_the_two_rules_exclude_each_other(tmp_path):
    with pytest.raises(ValueError):
        changes({}, {}, 2, "x", fail_on_drop_any=2)
    both = run_cli("build", tmp_path / "experiments.toml", "--compare-to", tmp_path / "m.json",
                   "--fail-on-drop", "2", "--fail-on-drop-any", "2")
    assert both.returncode == 2 and "not both" in both.stderr
    alone = run_cli("build", tmp_path / "experiments.toml", "--fail-on-drop-any", "2")
    assert alone.returncode == 2 and "needs --compare-to" in alone.stderr


def test_a_damaged_previous_predictions_file_falls_back_to_intervals(tmp_path):
    path = _write_previous(tmp_path, {"e": SMALL_BEFORE, "f": SMALL_BEFORE})
    npz = path.parent / "experiments" / "e" / PREDICTIONS_FILE
    npz.write_bytes(npz.read_bytes()[:100])  # a copy cut short
    (path.parent / "experiments" / "f" / PREDICTIONS_FILE).write_bytes(b"")
    previous = load_previous(path)
    assert previous["e"]["predictions"] is None and previous["f"]["predictions"] is None
