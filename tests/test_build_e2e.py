"""End-to-end: a tiny real manifest built through the CLI, then its PDF, HTML and metrics.json
checked against scikit-learn on the same predictions."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, classification_report

from tests.conftest import TINY_STUDENT, run_reportgen, tiny_digits_cnn

pytestmark = pytest.mark.slow

TINY = """\
[report]
title = { "zh-TW" = "端對端測試報告", en = "End-to-end test report" }
""" + TINY_STUDENT + """\
seed = 3
collaborators = ["林小華"]

[[report.questions]]
number = 1
points = "3%"
prompt = { "zh-TW" = "請畫出混淆矩陣並討論。", en = "Plot the confusion matrix and discuss it." }
answers = ["digits_small.confusion_matrix", "digits_small"]
answer = "The digits are *mostly* on the diagonal. <script>alert(1)</script>"
collaborators = ["陳大文"]
""" + tiny_digits_cnn() + """
[[datasets]]
name = "broken_faces"
kind = "image_folder"
path = "broken_faces"

[[experiments]]
name = "digits_small"
dataset = "digits"
model = "cnn"
train = { epochs = 3, batch_size = 32 }

[[experiments]]
name = "broken"
dataset = "broken_faces"
model = "cnn"
train = { epochs = 1 }
"""

HEADINGS = [("混淆矩陣", "Confusion matrix"), ("訓練曲線", "Training curves"),
            ("各類別精確率、召回率與 F1", "Per-class precision, recall and F1"), ("學號", "Student ID")]


def _run_build(manifest: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_reportgen("build", manifest, *extra)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build twice: the second build must reuse the cached model."""
    root = tmp_path_factory.mktemp("e2e")
    # An experiment that fails at load time: its only class folders hold no decodable image.
    for cls in ("a", "b"):
        (root / "broken_faces" / cls).mkdir(parents=True)
        (root / "broken_faces" / cls / "x.png").write_bytes(b"not a png at all")
    manifest = root / "experiments.toml"
    manifest.write_text(TINY, encoding="utf-8")
    first = _run_build(manifest)
    metrics_first = json.loads((root / "out" / "metrics.json").read_text())
    second = _run_build(manifest)
    return {"root": root, "out": root / "out", "first": first, "second": second,
            "metrics_first": metrics_first,
            "metrics": json.loads((root / "out" / "metrics.json").read_text())}


def test_failed_experiment_does_not_stop_the_report(built):
    first = built["first"]
    assert first.returncode == 1, first.stderr
    assert "Traceback" not in first.stderr
    assert "broken" in first.stderr and "failed" in first.stderr
    exps = built["metrics_first"]["experiments"]
    assert exps["digits_small"]["status"] == "ok"
    assert exps["broken"]["status"] == "failed"
    assert "broken_faces" in exps["broken"]["error"]
    for name in ("report.html", "report.pdf", "metrics.json"):
        assert (built["out"] / name).stat().st_size > 1000


def test_progress_shows_epochs_and_outputs(built):
    assert "epoch 1/3" in built["first"].stderr
    assert str(built["out"] / "report.pdf") in built["first"].stdout


def test_second_build_trains_nothing(built):
    first = built["metrics_first"]["experiments"]["digits_small"]
    second = built["metrics"]["experiments"]["digits_small"]
    assert first["cache"]["hit"] is False and first["timings"]["train"] > 0
    assert second["cache"]["hit"] is True and second["timings"]["train"] == 0
    assert "epoch 1/3" not in built["second"].stderr
    # Nothing changed: the model, its evaluation and its analyses all come from the cache.
    assert "reused from the result cache: training, evaluation" in built["second"].stderr
    assert second["reused"] is True
    assert second["accuracy"] == first["accuracy"]


def _predictions(built) -> dict[str, np.ndarray]:
    with np.load(built["out"] / "experiments" / "digits_small" / "predictions.npz") as data:
        return {k: data[k] for k in data.files}


def test_predictions_are_the_cached_models_predictions(built):
    """Independently reload the model and data; predictions.npz must be what the model predicts."""
    import keras

    from reportgen.config import load_manifest
    from reportgen.run.data import load_dataset

    manifest = load_manifest(built["root"] / "experiments.toml")
    cache_dirs = list((built["out"] / "cache").glob("digits_small-*"))
    assert len(cache_dirs) == 1
    model = keras.saving.load_model(cache_dirs[0] / "model.keras", compile=False)
    data = load_dataset(manifest.dataset("digits"), (16, 16), 1, manifest.report.seed, built["root"])
    probabilities = model.predict(data.test.x.astype("float32") / 255.0, verbose=0)
    saved = _predictions(built)
    np.testing.assert_array_equal(saved["y_true"], data.test.y)
    np.testing.assert_array_equal(saved["y_pred"], probabilities.argmax(axis=1))


def test_metrics_json_equals_sklearn(built):
    pred = _predictions(built)
    entry = built["metrics"]["experiments"]["digits_small"]
    classes = entry["classes"]
    expected = classification_report(pred["y_true"], pred["y_pred"], labels=list(range(len(classes))),
                                     target_names=classes, output_dict=True, zero_division=0)
    assert entry["accuracy"] == pytest.approx(accuracy_score(pred["y_true"], pred["y_pred"]))
    for name in classes:
        assert entry["per_class"][name]["f1"] == pytest.approx(expected[name]["f1-score"])
        assert entry["per_class"][name]["support"] == expected[name]["support"]
    assert entry["macro_avg"]["precision"] == pytest.approx(expected["macro avg"]["precision"])
    assert entry["weighted_avg"]["recall"] == pytest.approx(expected["weighted avg"]["recall"])
    cm = np.array(entry["confusion_matrix"])
    assert cm.sum() == len(pred["y_true"]) and np.trace(cm) == int((pred["y_true"] == pred["y_pred"]).sum())
    assert len(entry["history"]["loss"]) == 3
    assert set(entry["timings"]["analyses"]) == {"accuracy", "classification_report",
                                                 "confusion_matrix", "training_curves"}
    assert {"load_data", "train", "total"} <= set(entry["timings"])
    assert built["metrics"]["timings"]["total"] > entry["timings"]["total"]


def _pdf_text(built) -> str:
    import pdfplumber

    with pdfplumber.open(built["out"] / "report.pdf") as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


def test_pdf_has_both_languages(built):
    text = _pdf_text(built)
    for zh, en in HEADINGS:
        assert zh in text, zh
        assert en in text, en
    assert "B09901001" in text and "端對端測試報告" in text


def test_pdf_classification_table_equals_sklearn(built):
    pred = _predictions(built)
    classes = built["metrics"]["experiments"]["digits_small"]["classes"]
    expected = classification_report(pred["y_true"], pred["y_pred"], labels=list(range(len(classes))),
                                      target_names=classes, output_dict=True, zero_division=0)
    text = _pdf_text(built)
    # precision, recall, F1, the F1 interval (two decimals, around the F1), support
    row = r"\s+(\d\.\d{4})\s+(\d\.\d{4})\s+(\d\.\d{4})\s+(\d\.\d{2})–(\d\.\d{2})\s+(\d+)"
    for name in classes:
        match = re.search(rf"^{re.escape(name)}{row}\s*$", text, re.MULTILINE)
        assert match, f"no table row for class {name}"
        p, r, f, low, high, s = match.groups()
        e = expected[name]
        assert (p, r, f, int(s)) == (f"{e['precision']:.4f}", f"{e['recall']:.4f}",
                                     f"{e['f1-score']:.4f}", e["support"])
        assert float(low) - 0.005 <= e["f1-score"] <= float(high) + 0.005
    macro = re.search(rf"Macro average{row}", text)
    assert macro and macro.group(3) == f"{expected['macro avg']['f1-score']:.4f}"
    weighted = re.search(rf"Weighted average{row}", text)
    assert weighted and weighted.group(1) == f"{expected['weighted avg']['precision']:.4f}"


def test_pdf_embeds_a_cjk_font_and_the_figures(built):
    from pypdf import PdfReader

    reader = PdfReader(built["out"] / "report.pdf")
    fonts, images = set(), 0
    for page in reader.pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0].get_object() if descendants else font).get("/FontDescriptor")
            embedded = descriptor is not None and any(
                k in descriptor.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            fonts.add((str(font["/BaseFont"]), embedded))
        images += len(page.images)
    cjk = [name for name, embedded in fonts if embedded and re.search("WenQuanYi|CJK|Hei|Ming", name)]
    assert cjk, fonts
    assert images >= 2  # confusion matrix + training curves of the one successful experiment


def test_html_is_self_contained_with_every_figure(built):
    from PIL import Image

    html = (built["out"] / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "url(http" not in html and "@import" not in html
    sources = re.findall(r'<img[^>]*\ssrc="([^"]+)"', html)
    figures = list((built["out"] / "experiments" / "digits_small" / "figures").glob("*.png"))
    # Each figure once: the one the question cites is drawn under it, not again in the chapter.
    assert len(sources) == len(set(sources)) == len(figures) == 2
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert image.size[0] > 100
    alts = re.findall(r'<img[^>]*\salt="([^"]*)"', html)
    assert all(alts) and len(alts) == len(sources)
    for zh, en in HEADINGS:
        assert zh in html and en in html


def test_homework_question_with_answer_and_material(built):
    html = (built["out"] / "report.html").read_text(encoding="utf-8")
    question = html[html.index('id="question-1"'):html.index('id="digits_small"')]
    for fragment in ("題目", "Question", "(3%)", "請畫出混淆矩陣並討論。", "Plot the confusion matrix",
                     "<em>mostly</em>", "陳大文", "混淆矩陣", "討論"):
        assert fragment in question, fragment
    assert "<script>alert" not in html  # the user's Markdown is rendered, raw HTML escaped
    assert question.count("<img") == 1  # the confusion-matrix figure, placed in the question
    assert "林小華" in html[:html.index('id="question-1"')]
    text = " ".join(_pdf_text(built).split())
    assert "Question 1 (3%)" in text and "題目" in text and "請畫出混淆矩陣並討論。" in text


def _page_texts(built) -> list[str]:
    import pdfplumber

    with pdfplumber.open(built["out"] / "report.pdf") as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def test_pdf_cover_toc_and_page_numbers(built):
    pages = _page_texts(built)
    assert "端對端測試報告" in pages[0] and "B09901001" in pages[0]
    assert not re.search(r"\d+ / \d+\s*$", pages[0])  # the cover has no page number
    assert "目錄 / Contents" in pages[1] and len(pages) > 2
    entries = [(m.group(1), int(m.group(2))) for text in pages[1:3]
               for m in re.finditer(r"^(\d+(?:\.\d+)*)\.? .*?\.{4,}\s*(\d+)$", text, re.MULTILINE)]
    assert len(entries) >= 8
    for number, page in entries:
        body = pages[page - 1].split("\n", 1)[1]  # without the running header
        assert re.search(rf"^{re.escape(number)}\.? ", body, re.MULTILINE), (number, page)
        assert f"{page} / {len(pages)}" in pages[page - 1]


def test_pdf_has_no_missing_glyph(built):
    """Every character the PDF shows is in the cmap of an embedded font (none drawn as .notdef)."""
    import pdfplumber
    from fontTools.ttLib import TTFont
    from pypdf import PdfReader

    covered: set[int] = set()
    for page in PdfReader(built["out"] / "report.pdf").pages:
        for font in ((page.get("/Resources") or {}).get("/Font") or {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0].get_object() if descendants else font)[
                "/FontDescriptor"].get_object()
            program = descriptor.get("/FontFile2") or descriptor.get("/FontFile3")
            covered |= set(TTFont(io.BytesIO(program.get_object().get_data())).getBestCmap() or {})
    with pdfplumber.open(built["out"] / "report.pdf") as pdf:
        shown = {c["text"] for page in pdf.pages for c in page.chars}
    missing = sorted(c for c in shown if not c.isspace() and (len(c) != 1 or ord(c) not in covered))
    assert not missing, missing
    assert len({c for c in shown if "\u4e00" <= c <= "\u9fff"}) > 50  # real Chinese text was checked
