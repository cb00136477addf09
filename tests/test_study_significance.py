"""The comparison chapter says "improves", "hurts", "best" and ★ only when a paired test on the same
test images supports it: records and predictions built by hand (no TensorFlow), every p-value
checked against SciPy / statsmodels computed here."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest, ttest_rel
from statsmodels.stats.multitest import multipletests

from reportgen.i18n import translate_msg
from reportgen.predictions import RunPredictions
from reportgen.report_types import Best, jsonable
from reportgen.study import study

IMAGES = 200
Y_TRUE = np.arange(IMAGES) % 2  # two classes, alternating
BASE_CORRECT = np.arange(IMAGES) < 160  # the baseline gets the first 160 images right


def _correct(gains: range | list[int] = (), losses: range | list[int] = ()) -> np.ndarray:
    """The baseline's correct images, plus ``gains`` (wrong for it) and minus ``losses``."""
    correct = BASE_CORRECT.copy()
    correct[list(gains)] = True
    correct[list(losses)] = False
    return correct


def _predicted(correct: np.ndarray) -> np.ndarray:
    return np.where(correct, Y_TRUE, 1 - Y_TRUE)


def _record(name: str, correct: np.ndarray | list[np.ndarray], *, dataset: str = "digits", key: str = "k1",
            grid: dict | None = None, parent: str | None = None, model: str = "cnn") -> dict:
    runs = [correct] if isinstance(correct, np.ndarray) else correct
    y_pred = _predicted(runs[0])
    cm = np.zeros((2, 2), dtype=int)
    np.add.at(cm, (Y_TRUE, y_pred), 1)
    repeats = None
    if len(runs) > 1:
        accuracies = [float(c.mean()) for c in runs]
        repeats = {"seeds": [42 + r for r in range(len(runs))], "representative_seed": 42,
                   "runs": [{"seed": 42 + r, "accuracy": a} for r, a in enumerate(accuracies)],
                   "mean": {"accuracy": float(np.mean(accuracies))},
                   "sd": {"accuracy": float(np.std(accuracies, ddof=1))}}
    return {"name": name, "status": "ok", "dataset": dataset, "model": model, "trained": True,
            "parent": parent, "classes": ["0", "1"], "accuracy": float(runs[0].mean()),
            "macro_avg": {"f1": float(runs[0].mean())}, "confusion_matrix": cm.tolist(),
            "history": {"val_accuracy": [0.5, 0.8], "val_loss": [0.7, 0.5]}, "cache": {},
            "model_info": {"total": 1000}, "init_from": {"shared_classes": ["0"]} if parent else None,
            "grid": grid, "test_set": {"key": key, "images": IMAGES}, "repeats": repeats}


def _predictions(correct: np.ndarray | list[np.ndarray], seeds: tuple[int, ...] = ()) -> RunPredictions:
    runs = [correct] if isinstance(correct, np.ndarray) else correct
    return RunPredictions(Y_TRUE, np.stack([_predicted(c) for c in runs]), seeds)


def _grid(tmp_path, variants: dict[str, np.ndarray]):
    """A grid ``g`` of these variants (the first is the baseline), each with predictions."""
    records = [_record(f"g-{v}", c, grid={"of": "g", "labels": {"variant": v}}) for v, c in variants.items()]
    predictions = {f"g-{v}": _predictions(c) for v, c in variants.items()}
    result = study(records, tmp_path, ["en"], predictions=predictions)
    return {s.key: s.result for s in result.sections}


def _english(section) -> list[str]:
    return [translate_msg(m, "en") for m in section.metrics["commentary"]]


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def test_the_wording_switches_at_the_significance_boundary(tmp_path):
    # 12 images only the variant gets right against 3 only the baseline does: p = 0.035
    above = _grid(tmp_path, {"base": _correct(), "aug": _correct(range(160, 172), range(3))})["grid-g"]
    p = binomtest(12, 15, 0.5).pvalue
    comparison = above.metrics["variants"][1]["vs_baseline"]
    assert comparison["mcnemar"] == {"a_only": 12, "b_only": 3, "p": pytest.approx(p)}
    ci = comparison["accuracy"]["ci_points"]
    text = _english(above)
    assert text[0] == (f"g-aug improves test accuracy over g-base by 4.5 points (95 % CI "
                       f"[{ci[0]:+.1f}, {ci[1]:+.1f}], McNemar {_p(p)}).")
    assert text[0].endswith("p = 0.035).")
    assert text[1].startswith("g-aug is the best variant: its test accuracy 0.8450 is significantly above")

    # 11 against 3: p = 0.057, no longer significant; the same images otherwise
    below = _grid(tmp_path, {"base": _correct(), "aug": _correct(range(160, 171), range(3))})["grid-g"]
    p = binomtest(11, 14, 0.5).pvalue
    ci = below.metrics["variants"][1]["vs_baseline"]["accuracy"]["ci_points"]
    text = _english(below)
    assert text[0] == (f"No significant difference between g-aug and g-base (+4.0 points, 95 % CI "
                       f"[{ci[0]:+.1f}, {ci[1]:+.1f}], McNemar {_p(p)}).")
    assert text[1] == ("No variant is significantly better than the others: g-aug has the highest test "
                       "accuracy (0.8400) but is not significantly above g-base (p = 0.057).")
    assert not any("improves" in t or "best variant" in t for t in text)
    assert below.tables[0].rows[1][-1].msgid == "no significant difference"

    # the other way round: the variant loses 12 images and gains 3
    hurts = _grid(tmp_path, {"base": _correct(), "worse": _correct(range(160, 163), range(12))})["grid-g"]
    assert _english(hurts)[0].startswith("g-worse hurts test accuracy: 4.5 points below g-base (95 % CI")
    assert _english(hurts)[1].startswith("g-base is the best variant")


def test_holm_is_applied_over_the_grid_and_stated(tmp_path):
    variants = {"base": _correct(),
                "a": _correct(range(160, 172), range(3)),       # 12 vs 3: p = 0.035 alone
                "b": _correct(range(160, 185), range(2)),       # 25 vs 2
                "c": _correct(range(185, 197), range(3, 6))}    # 12 vs 3 again
    section = _grid(tmp_path, variants)["grid-g"]
    raw = [binomtest(12, 15).pvalue, binomtest(25, 27).pvalue, binomtest(12, 15).pvalue]
    reference = multipletests(raw, method="holm")[1]
    found = [v["vs_baseline"]["accuracy"] for v in section.metrics["variants"][1:]]
    assert [f["p"] for f in found] == pytest.approx(raw)
    assert [f["p_holm"] for f in found] == pytest.approx(reference)
    text = _english(section)
    assert text[0] == "The p-values against g-base use Holm's correction for 3 comparisons."
    # a's raw p = 0.035 is significant alone, not after Holm (0.070): no "improves"
    assert text[1].startswith("No significant difference between g-a and g-base (+4.5 points")
    assert text[1].endswith(f"McNemar p = 0.035; Holm-adjusted {_p(reference[0])}).")
    assert text[2].startswith("g-b improves test accuracy over g-base by 11.5 points")
    assert section.tables[0].columns[-2].msgid == "p (Holm-adjusted p)"
    assert section.tables[0].rows[1][-2] == f"0.035 ({reference[0]:.3f})"
    # "best": b against each other variant, Holm over those three comparisons
    b = variants["b"]
    top = [binomtest(int((b & ~o).sum()), int((b ^ o).sum())).pvalue
           for o in (variants["base"], variants["a"], variants["c"])]
    adjusted = multipletests(top, method="holm")[1]
    assert max(adjusted) < 0.05
    assert text[-1] == ("g-b is the best variant: its test accuracy 0.9150 is significantly above every "
                        f"other variant's (largest Holm-adjusted {_p(max(adjusted))}, Holm's correction "
                        "for 3 comparisons).")


def test_without_paired_predictions_nothing_is_called_a_gain(tmp_path):
    records = [_record("g-base", _correct(), grid={"of": "g", "labels": {"v": "base"}}),
               _record("g-aug", _correct(range(160, 190)), grid={"of": "g", "labels": {"v": "aug"}})]
    sections = {s.key: s.result for s in study(records, tmp_path, ["en"]).sections}
    text = _english(sections["grid-g"])
    assert text[0] == ("g-aug and g-base differ by +15.0 points of test accuracy, untested: no paired "
                       "predictions on the same test images, so this is not called a gain or a loss.")
    assert "best" not in text[1] and "not significantly above g-base" in text[1]
    # predictions of another test set (same labels, another key) are not paired either
    records[1]["test_set"]["key"] = "k2"
    predictions = {"g-base": _predictions(_correct()), "g-aug": _predictions(_correct(range(160, 190)))}
    sections = {s.key: s.result for s in study(records, tmp_path, ["en"], predictions=predictions).sections}
    assert sections["grid-g"].metrics["variants"][1]["vs_baseline"] is None
    assert not any(isinstance(cell, Best) for row in sections["overview"].tables[0].rows for cell in row)


def test_the_chain_table_never_prints_a_cross_dataset_gain(tmp_path):
    records = [_record("first", _correct(), dataset="d1", key="k1"),
               _record("second", _correct(range(160, 200)), dataset="d2", key="k2", parent="first"),
               _record("third", _correct(range(160, 180)), dataset="d2", key="k2", parent="second")]
    predictions = {r["name"]: _predictions(_correct()) for r in records}
    predictions["second"] = _predictions(_correct(range(160, 200)))
    predictions["third"] = _predictions(_correct(range(160, 180)))
    result = study(records, tmp_path, ["en"], predictions=predictions)
    chain = {s.key: s.result for s in result.sections}["chain-first-second-third"]
    steps = chain.metrics["steps"]
    assert (steps[1]["delta_points"], steps[1]["comparable"]) == (None, False)
    assert steps[1]["vs_previous"] is None
    assert chain.tables[0].rows[1][-1].msgid == "different test sets"
    # the third step shares the second's test set: a paired test of 0 gains against 20 losses
    assert steps[2]["comparable"] and steps[2]["delta_points"] == pytest.approx(-10.0)
    assert steps[2]["vs_previous"]["mcnemar"] == {"a_only": 0, "b_only": 20,
                                                  "p": pytest.approx(binomtest(0, 20).pvalue)}
    text = _english(chain)
    assert text[0] == ("Step 2, second on d2: test accuracy 1.0000, on other test images than step 1 "
                       "(d1), so the two are not compared.")
    assert text[1].startswith("third hurts test accuracy: 10.0 points below second (95 % CI")
    assert not any("previous step" in t for t in text)
    document = jsonable(result.section_records())
    written = next(s for s in document if s["key"].startswith("chain-"))["metrics"]["steps"][1]
    assert written["delta_points"] is None and written["comparable"] is False


def test_the_overview_star_only_marks_a_significant_top(tmp_path):
    strong, weak = _correct(range(160, 200)), _correct(range(160, 165))
    records = [_record("top", strong, key="k1"), _record("mid", weak, key="k1"),
               _record("low", _correct(), key="k1"),
               # another test set: two experiments within noise of each other
               _record("near_a", _correct(range(160, 172), range(4)), dataset="other", key="k2", model="mlp"),
               _record("near_b", _correct(), dataset="other", key="k2", model="mlp")]
    predictions = {"top": _predictions(strong), "mid": _predictions(weak), "low": _predictions(_correct()),
                   "near_a": _predictions(_correct(range(160, 172), range(4))),
                   "near_b": _predictions(_correct())}
    sections = {s.key: s.result for s in study(records, tmp_path, ["en"], predictions=predictions).sections}
    overview = sections["overview"]
    starred = [row[0] for row in overview.tables[0].rows if isinstance(row[3], Best)]
    assert starred == ["top"]
    groups = {g["key"]: g for g in overview.metrics["test_sets"]}
    pairs = groups["k1"]["standing"]["pairs"]
    assert len(pairs) == 3  # every pair of the test set, Holm over the three
    raw = [p["p"] for p in pairs]
    assert [p["p_holm"] for p in pairs] == pytest.approx(multipletests(raw, method="holm")[1])
    p_near = binomtest(12, 16).pvalue
    notes = [translate_msg(n, "en") for n in overview.notes]
    assert (f"On other, the top experiments are within noise: near_a has the highest test accuracy, but "
            f"the Holm-adjusted p-values against near_b ({_p(p_near)}) are not below 0.05.") in notes
    matrix = sections["matrix"].tables[0]
    assert [isinstance(cell, Best) for row in matrix.rows for cell in row[1:]] == [True, False, False, False]


def test_repeats_are_paired_by_seed(tmp_path):
    # three seeds; seed 44 is a much better run of both, so pairing by seed matters
    base_runs = [_correct(), _correct(range(160, 163)), _correct(range(160, 190))]
    aug_runs = [_correct(range(160, 166)), _correct(range(160, 170)), _correct(range(160, 194))]
    grid = {"of": "g", "labels": {"v": ""}}
    records = [_record("g-base", base_runs, grid=grid), _record("g-aug", aug_runs, grid=grid)]
    order = [2, 0, 1]  # the variant's predictions stored in another seed order
    predictions = {"g-base": _predictions(base_runs, (42, 43, 44)),
                   "g-aug": _predictions([aug_runs[i] for i in order], tuple(42 + i for i in order))}
    section = {s.key: s.result for s in study(records, tmp_path, ["en"],
                                              predictions=predictions).sections}["grid-g"]
    comparison = section.metrics["variants"][1]["vs_baseline"]
    acc_base, acc_aug = [c.mean() for c in base_runs], [c.mean() for c in aug_runs]
    assert comparison["runs"] == 3 and comparison["seeds"] == [42, 43, 44]
    accuracy = comparison["accuracy"]
    assert accuracy["delta_points"] == pytest.approx((np.mean(acc_aug) - np.mean(acc_base)) * 100)
    assert accuracy["p_seeds"] == pytest.approx(ttest_rel(acc_aug, acc_base).pvalue)
    assert accuracy["p"] == max(accuracy["p_seeds"], accuracy["p_images"])
    text = _english(section)
    assert "(mean of 3 seeds, 95 % CI [" in text[0]
    assert "(larger of the bootstrap over images and the paired t-test across seeds)" in text[0]
    mean, sd = np.mean(acc_aug), np.std(acc_aug, ddof=1)
    assert section.tables[0].rows[1][2] == (f"{mean:.4f} ± {sd:.4f} "
                                           f"({', '.join(f'{a:.3f}' for a in acc_aug)})")


def test_p_values_are_written_as_agreed():
    from reportgen.significance import p_phrase, p_value

    assert [p_phrase(p) for p in (0.0042, 0.0004, 0.035, 0.0496, 0.5)] == [
        "p = 0.004", "p < 0.001", "p = 0.035", "p = 0.0496", "p = 0.500"]
    assert p_value(0.0004) == "< 0.001"


def test_the_widest_grid_table_is_not_cut_on_the_a4_page(tmp_path):
    """Two grid keys, repeats (the longest accuracy cells) and the Holm column: rendered to PDF
    through `reportgen render`, every word of the table lies inside the page body."""
    pdfplumber = pytest.importorskip("pdfplumber")
    import json
    import shutil

    from reportgen.figures import PAGE_BODY_MM
    from reportgen.render import render_folder

    gains = [range(160, 166), range(160, 172), range(160, 185), range(185, 197)]
    grid = "augmentation_and_normalisation"
    records, predictions = [], {}
    for k, gain in enumerate(gains):
        runs = [_correct(gain, range(r)) for r in range(3)]
        name = f"{grid}-variant_{k}_with_a_long_name"
        labels = {"augmentation": ["none", "flip_rotate_zoom"][k % 2],
                  "normalisation": ["off", "per_image"][k // 2]}
        records.append(_record(name, runs, grid={"of": grid, "labels": labels}))
        predictions[name] = _predictions(runs, (42, 43, 44))
    result = study(records, tmp_path / "figures", ["zh-TW", "en"], predictions=predictions)
    sections = result.section_records()
    section = next(s for s in sections if s["key"] == f"grid-{grid}")
    section["figures"] = []
    table = section["tables"][0]
    assert len(table["columns"]) == 8

    out = tmp_path / "out"
    shutil.copytree(Path(__file__).parent / "fixtures" / "render", out)
    manifest = out / "experiments.toml"
    header = manifest.read_text(encoding="utf-8")
    manifest.write_text(header.replace('formats = ["html"]', 'formats = ["pdf"]'), encoding="utf-8")
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    metrics["manifest"] = str(manifest)
    metrics["comparison"] = {section["key"]: section["metrics"]}
    (out / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (out / "comparison" / "record.json").write_text(json.dumps([section]), encoding="utf-8")
    figure = out / "experiments" / "faces" / "figures" / "cm.png"
    figure.parent.mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (6, 4), (200, 10, 10)).save(figure)
    render_folder(out)

    mm = 72 / 25.4
    with pdfplumber.open(out / "report.pdf") as pdf:
        side = (pdf.pages[0].width - PAGE_BODY_MM[0] * mm) / 2
        words = [(w, page) for page in pdf.pages for w in page.extract_words()]
        text = " ".join(w["text"] for w, _ in words)
        outside = [w["text"] for w, page in words
                   if w["x0"] < side - 0.5 or w["x1"] > page.width - side + 0.5]
    assert not outside
    # every number of every cell is printed (a cell wraps inside its column, so piece by piece)
    for row in table["rows"]:
        for cell in row:
            if isinstance(cell, str):
                for number in re.findall(r"[+-]?\d+\.\d+", cell):
                    assert number in text, (cell, number)
