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
    # The best cell is drawn by the template macro, bold with a star (in the experiment's
    # chapter and again under question 1, which quotes the analysis).
    assert [b.get_text() for b in soup.select("#faces-confusion_matrix strong.best")] == ["0.7500 ★"]
    assert len(soup.select("#question-1 strong.best")) == 1
    # The figure's relative path is embedded as the PNG it names.
    img = soup.select_one("figure img")
    data = base64.b64decode(img["src"].removeprefix("data:image/png;base64,"))
    assert Image.open(io.BytesIO(data)).size == (6, 4)
    # The Discussion, a failed analysis, a failed experiment, the skipped file, the study.
    assert "No test image was misclassified." in en
    assert "AnalysisError: no face found" in soup.select_one(".analysis-lime .failure").get_text()
    assert "DataError: <no images>" in soup.select_one("#broken .failure").get_text()
    assert "bad.png: cannot identify image file" in soup.select_one("details.skipped").get_text()
    assert "★ marks the highest test accuracy on each dataset." in en
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
