"""Render from records alone: tests/fixtures/render holds a build's records (metrics.json, the
study's comparison/record.json) written by hand, and the manifest whose [report] is the header."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from PIL import Image

from reportgen.config import load_manifest
from reportgen.errors import RenderError
from reportgen.render import render_folder, render_outputs
from tests.conftest import run_reportgen

FIXTURE = Path(__file__).parent / "fixtures" / "render"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """The fixture copied, with the one figure its records name drawn as a real PNG."""
    out = tmp_path / "out"
    shutil.copytree(FIXTURE, out)
    figure = out / "experiments" / "faces" / "figures" / "cm.png"
    figure.parent.mkdir(parents=True)
    Image.new("RGB", (6, 4), (200, 10, 10)).save(figure)
    manifest = out / "experiments.toml"
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["manifest"] = str(manifest)
    (out / "metrics.json").write_text(json.dumps(metrics))
    return out


def _soup(out: Path) -> BeautifulSoup:
    return BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")


def _texts(soup: BeautifulSoup, lang: str) -> list[str]:
    return [s.get_text() for s in soup.select(f"span.l[lang='{lang}']")]


def test_every_record_part_reaches_the_html(out):
    outputs = render_folder(out)
    assert outputs == [out / "report.html"]  # formats = ["html"]: no PDF
    soup = _soup(out)
    zh, en = _texts(soup, "zh-Hant-TW"), _texts(soup, "en")
    # A note's msgid translated with its parameters, in both languages.
    assert "Test accuracy: 75.00% (3 of 4 test images correct)." in en
    assert any("75.00%" in t and "3" in t for t in zh if "測試" in t)
    # Setup rows: Msg label and value, plain value as is.
    setup = {row.th.get_text(" ", strip=True): row.td.get_text(" ", strip=True)
             for row in soup.select("table.setup tr")}
    assert setup["批次大小 Batch size"] == "32"
    assert setup["資料擴增 Augmentation"] == "關閉 off"
    # The best cell is drawn by the template macro, bold with a star, once: under question 1,
    # which cites the analysis; its place in the chapter keeps its heading and points there.
    assert [b.get_text() for b in soup.select("#question-1 strong.best")] == ["0.7500 ★"]
    chapter_place = soup.select_one("#faces-confusion_matrix")
    assert not chapter_place.select("strong.best, figure, table")
    link = chapter_place.select_one("p.shown-under a")
    assert link["href"] == "#question-1" and "Shown under Question 1." in link.get_text()
    assert "見第 1 題。" in link.get_text()
    # The figure's relative path is embedded as the PNG it names.
    img = soup.select_one("figure img")
    data = base64.b64decode(img["src"].removeprefix("data:image/png;base64,"))
    assert Image.open(io.BytesIO(data)).size == (6, 4)
    # The Discussion, a failed analysis, a failed experiment, the skipped file, the study.
    assert "No test image was misclassified." in en
    assert "AnalysisError: no face found" in soup.select_one(".analysis-lime .failure").get_text()
    assert "DataError: <no images>" in soup.select_one("#broken .failure").get_text()
    assert "bad.png: cannot identify image file" in soup.select_one("details.skipped").get_text()
    assert ("★ marks the highest test accuracy on a test set only when it is significantly above every "
            "other experiment on the same test images (paired tests, Holm's correction over the test "
            "set's pairs).") in en
    # Header from the manifest, date from the build's record.
    assert "2026-05-04" in soup.select_one("table.header-fields").get_text()
    answer = soup.select_one("#question-1 .answer")
    assert answer.em.get_text() == "diagonal"


def test_languages_come_from_the_manifest_header(out):
    manifest = out / "experiments.toml"
    manifest.write_text(manifest.read_text().replace('languages = ["zh-TW", "en"]', 'languages = ["en"]'))
    render_folder(out)
    soup = _soup(out)
    assert not _texts(soup, "zh-Hant-TW")
    assert "Test accuracy: 75.00% (3 of 4 test images correct)." in _texts(soup, "en")


def test_same_records_same_bytes(out):
    render_folder(out)
    first = (out / "report.html").read_bytes()
    render_outputs(load_manifest(out / "experiments.toml").report, out, out)
    assert (out / "report.html").read_bytes() == first


def test_a_figure_missing_from_the_records_folder_is_a_render_error(out):
    (out / "experiments" / "faces" / "figures" / "cm.png").unlink()
    with pytest.raises(RenderError, match="cm.png"):
        render_folder(out)


def test_render_needs_no_tensorflow(out):
    code = ("import sys\nfrom reportgen.render import render_folder\n"
            f"render_folder({str(out)!r})\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras') or "
            "m.startswith(('reportgen.run', 'reportgen.analyses', 'reportgen.explain'))]\n"
            "print(heavy)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert (out / "report.html").exists()


def test_render_of_a_folder_without_a_build_exits_2(tmp_path):
    result = run_reportgen("render", tmp_path)
    assert result.returncode == 2
    assert "has no metrics.json" in result.stderr and "Traceback" not in result.stderr


def _default_figures(out: Path) -> dict[str, bool]:
    """The fixture's figure record replaced by real figures of the default report (drawn by
    reportgen.figures as a build would): a confusion matrix, page-wide training curves and
    small image grids printed at their natural size. Returns {path: wide}."""
    import numpy as np

    from reportgen import figures

    folder = out / "experiments" / "faces" / "figures"
    figures.confusion_matrices(np.array([[3, 1], [0, 4]]), ["貓 cat", "狗 dog"], folder / "cm.png",
                               titles=("計數 Counts", "比例 Shares"), xlabel="預測", ylabel="真實")
    figures.training_curves({"accuracy": [0.5, 0.7, 0.8], "val_accuracy": [0.4, 0.6, 0.7],
                             "loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.8, 0.7]},
                            folder / "curves.png", titles=("準確率", "損失"), xlabel="epoch",
                            train_label="train", val_label="val", best_label="best", best_epoch=3)
    rng = np.random.default_rng(0)
    for name, n_cols in (("grid", 3), ("filters", 2)):  # small grids: the feature maps, filters…
        figures.image_grid([[figures.Panel(rng.integers(0, 255, (28, 28), dtype=np.uint8), title=f"{i}")
                             for i in range(n_cols)] for _ in range(2)], folder / f"{name}.png")
    wide = {"experiments/faces/figures/cm.png": False, "experiments/faces/figures/curves.png": True,
            "experiments/faces/figures/grid.png": True, "experiments/faces/figures/filters.png": False}
    metrics = json.loads((out / "metrics.json").read_text())
    analysis = metrics["experiments"]["faces"]["analyses"]["confusion_matrix"]
    template = analysis["figures"][0]
    analysis["figures"] = [{**template, "path": path, "wide": w} for path, w in wide.items()]
    (out / "metrics.json").write_text(json.dumps(metrics))
    manifest = out / "experiments.toml"
    manifest.write_text(manifest.read_text().replace('formats = ["html"]', 'formats = ["html", "pdf"]'))
    return wide


def test_pdf_prints_every_figure_at_150_dpi_or_more_with_its_own_pixels(out):
    """Each <img> of the print HTML, as placed in the PDF: PNG pixel width over printed width
    ≥ 150 dpi, and the PDF's image decodes to exactly the PNG's pixels (render.png_stream
    embeds the file's IDAT data instead of re-encoding it)."""
    import numpy as np
    import pdfplumber

    from reportgen.records import METRICS_FILE, STUDY_RECORD, read_json
    from reportgen.render.html import render_html
    from reportgen.render.view import report_view

    wide = _default_figures(out)
    render_folder(out)
    report = load_manifest(out / "experiments.toml").report
    view = report_view(report, read_json(out / METRICS_FILE), read_json(out / STUDY_RECORD), out)
    printed = BeautifulSoup(render_html(view, medium="print", out_dir=out), "html.parser")
    sources = [Path(img["src"].removeprefix("file://")) for img in printed.select("figure img")]
    # Each figure once: a figure question 1 cites is drawn there, not again in its chapter.
    assert sorted(p.name for p in sources) == sorted(Path(p).name for p in wide)

    pngs = {}
    for path in sources:
        with Image.open(path) as image:
            pngs[image.size] = np.asarray(image.convert("RGB"))
    placed = []
    with pdfplumber.open(out / "report.pdf") as pdf:
        for page in pdf.pages:
            for im in page.images:
                width, height = im["srcsize"]
                pixels = np.frombuffer(im["stream"].get_data(), np.uint8).reshape(height, width, 3)
                np.testing.assert_array_equal(pixels, pngs[(width, height)])
                placed.append(width / ((im["x1"] - im["x0"]) / 72))
    assert len(placed) == len(sources)
    assert min(placed) >= 150, placed
    assert max(placed) < 250, placed  # no figure far sharper than print needs (file size, speed)


def test_material_two_questions_cite_is_drawn_under_the_first(out):
    """A second question citing the same analysis and discussion links to the first question,
    and the chapter links there too: one copy of each figure in the whole report."""
    manifest = out / "experiments.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        "[[datasets]]", '[[report.questions]]\nnumber = "2(a)"\nprompt = { "zh-TW" = "再看一次。", '
        'en = "Look again." }\nanswers = ["faces.confusion_matrix", "faces"]\n\n[[datasets]]', 1),
        encoding="utf-8")
    render_folder(out)
    soup = _soup(out)
    second = soup.select_one("#question-2\\(a\\)")
    links = [a["href"] for a in second.select("p.shown-under a")]
    assert links == ["#question-1", "#question-1"]  # the analysis and the discussion
    assert not second.select("figure, table, ul.notes")
    assert soup.select_one("#question-1 figure") is not None
    assert len(soup.select("figure img")) == 1
    assert [a["href"] for a in soup.select("#faces p.shown-under a")] == ["#question-1", "#question-1"]
