"""Answers in Markdown: local images embedded, remote ones refused, nothing fetched."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from PIL import Image

from reportgen.answers import image_problems, render_answer
from reportgen.render import render_folder
from tests.conftest import BASE_MANIFEST, run_reportgen

FIXTURE = Path(__file__).parent / "fixtures" / "render"


def _png(path: Path, color=(10, 200, 10)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (5, 3), color).save(path)
    return path


def test_local_images_are_embedded_and_remote_ones_dropped(tmp_path):
    _png(tmp_path / "plots" / "loss curve.png")
    html = render_answer("See ![loss](plots/loss%20curve.png) and ![beacon](https://example.com/t.png)",
                         tmp_path)
    images = BeautifulSoup(html, "html.parser").find_all("img")
    local, remote = images
    data = base64.b64decode(local["src"].removeprefix("data:image/png;base64,"))
    assert data == (tmp_path / "plots" / "loss curve.png").read_bytes()
    assert remote["src"] == "" and remote["alt"] == "beacon"


@pytest.mark.parametrize(("markdown", "problem"), [
    ("![x](https://example.com/x.png)", "is not a local file"),
    ("![x](http://example.com/x.png)", "is not a local file"),
    ("![x](//example.com/x.png)", "is not a local file"),
    ("![x](missing.png)", "file not found"),
    ("![x](notes.txt)", "not a PNG, JPEG, GIF, WebP or SVG file"),
])
def test_image_problems(tmp_path, markdown, problem):
    (tmp_path / "notes.txt").write_text("x")
    found = image_problems(markdown, tmp_path)
    assert len(found) == 1 and problem in found[0]


def test_a_plain_answer_and_a_link_are_fine(tmp_path):
    assert image_problems("A [link](https://example.com) is only a link; *text* too.", tmp_path) == []


def test_validate_names_the_question_with_a_remote_image(tmp_path):
    manifest = tmp_path / "experiments.toml"
    manifest.write_text(BASE_MANIFEST.replace("seed = 7\n", '''seed = 7

[[report.questions]]
number = 1
prompt = { "zh-TW" = "題目", en = "Question" }
answer = "Look: ![tracker](https://example.com/pixel.png)"
''', 1), encoding="utf-8")
    done = run_reportgen("validate", manifest)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "report.questions[0].answer: image 'https://example.com/pixel.png' is not a local file" \
        in done.stderr


def test_the_report_page_may_fetch_nothing(tmp_path):
    out = tmp_path / "out"
    shutil.copytree(FIXTURE, out)
    _png(out / "experiments" / "faces" / "figures" / "cm.png")
    _png(out / "figures" / "mine.png", (1, 2, 3))
    manifest = out / "experiments.toml"
    answer = 'answer = "Mostly *diagonal*: ![mine](figures/mine.png)"'
    manifest.write_text(manifest.read_text().replace('answer = "Mostly *diagonal*."', answer))
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["manifest"] = str(manifest)
    (out / "metrics.json").write_text(json.dumps(metrics))
    render_folder(out)
    soup = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")
    policy = soup.find("meta", attrs={"http-equiv": "Content-Security-Policy"})["content"]
    assert "default-src 'none'" in policy and "img-src data:" in policy
    sources = [img["src"] for img in soup.find_all("img")]
    assert sources and all(src.startswith("data:image/") for src in sources)
    assert soup.select_one("#question-1 .answer img")["alt"] == "mine"
