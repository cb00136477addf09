"""tests/page_fill.py measures what was laid out: small documents, set with the report's own
stylesheet (its @page margins, running header and chapter breaks), whose pages hold blocks of
known heights."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from reportgen.figures import PAGE_BODY_MM
from reportgen.resources import templates_dir
from tests.page_fill import MM, page_fill, page_margins_mm, short_pages

A4_MM = (210.0, 297.0)
BODY_MM = A4_MM[1] - page_margins_mm()[0] - page_margins_mm()[2]
TOLERANCE = 0.5 / BODY_MM  # half a millimetre
HEADING_MM = 10.0  # each chapter's h2, set to exactly this height below


def _block(mm: float, page_break: bool = False) -> str:
    style = f"height: {mm}mm; margin: 0; background: #000;"
    return f'<div style="{style}{" break-before: page;" if page_break else ""}"></div>'


def _image(mm: float) -> str:
    """A uniform grey PNG printed ``mm`` tall (its PDF object is an image, not a rectangle)."""
    buffer = io.BytesIO()
    Image.new("RGB", (20, 60), (120, 120, 120)).save(buffer, format="PNG")
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return (f'<img src="{uri}" alt="" style="display: block; margin: 0; width: {mm / 3}mm; '
            f'height: {mm}mm; break-before: page">')


def _chapter(running: str, *body: str) -> str:
    heading = (f'<h2 data-running="{running}" style="margin: 0; padding: 0; border: 0; '
               f'height: {HEADING_MM}mm; font-size: 5mm; line-height: {HEADING_MM}mm">{running}</h2>')
    return f'<section class="experiment">{heading}{"".join(body)}</section>'


# Page by page: (chapter, filled mm of the body, ends its chapter).
EXPECTED = [
    ("", None, True),  # the cover: no running header; the next page has one
    ("1. alpha", HEADING_MM + 200, False),
    ("1. alpha", 40, False),  # short in mid-chapter: reported
    ("1. alpha", 150, True),  # an image
    ("2. beta", HEADING_MM + 30, True),  # a short chapter end: not reported
    ("3. gamma", HEADING_MM + 247, False),  # the whole body
    ("3. gamma", 60, True),  # the last page: not reported
]


def _render(path: Path, *chapters: str) -> Path:
    """A report-like PDF at ``path``: the project's stylesheet, a cover page (page 1: no running
    header), then ``chapters``."""
    from weasyprint import HTML

    css = (templates_dir() / "style.css").read_text(encoding="utf-8")
    cover = '<header class="homework"><h1 class="title" data-running="Test report">Test report</h1></header>'
    HTML(string=f'<!DOCTYPE html><html><head><style>{css}</style></head>'
                f'<body class="medium-print">{cover}{"".join(chapters)}</body></html>').write_pdf(path)
    return path


@pytest.fixture(scope="module")
def pdf(tmp_path_factory) -> Path:
    return _render(tmp_path_factory.mktemp("page_fill") / "pages.pdf",
                   _chapter("1. alpha", _block(200), _block(40, page_break=True), _image(150)),
                   _chapter("2. beta", _block(30)),
                   _chapter("3. gamma", _block(247), _block(60, page_break=True)))


def test_the_body_is_the_one_figures_are_sized_for():
    top, right, bottom, left = page_margins_mm()
    assert (A4_MM[0] - left - right, A4_MM[1] - top - bottom) == PAGE_BODY_MM


def test_fill_chapter_and_chapter_end_of_every_page(pdf):
    pages = page_fill(pdf)
    assert [p.number for p in pages] == list(range(1, len(EXPECTED) + 1))
    assert [(p.chapter, p.chapter_end) for p in pages] == [(c, end) for c, _, end in EXPECTED]
    for page, (_, filled_mm, _) in zip(pages, EXPECTED):
        if filled_mm is not None:  # the running header and page number are not counted
            assert page.fill == pytest.approx(filled_mm / BODY_MM, abs=TOLERANCE), page


def test_only_the_short_mid_chapter_page_is_short(pdf):
    assert [(p.number, p.chapter) for p in short_pages(pdf)] == [(3, "1. alpha")]
    # A higher minimum: the 210 mm page (0.82) is short too; chapter ends never are.
    assert [p.number for p in short_pages(pdf, minimum=0.9)] == [2, 3]


def test_pdfplumber_finds_the_same_lowest_objects(pdf):
    """An independent reading of the same PDF (pdfminer's objects, y from the top)."""
    import pdfplumber

    top_mm, _, bottom_mm, _ = page_margins_mm()
    with pdfplumber.open(pdf) as document:
        for page, measured in zip(document.pages, page_fill(pdf)):
            top, bottom = top_mm * MM, page.height - bottom_mm * MM
            lowest = max((min(o["bottom"], bottom) for kind in ("char", "rect", "image", "line", "curve")
                          for o in page.objects.get(kind, ()) if o["bottom"] > top and o["top"] < bottom),
                         default=top)
            assert measured.fill == pytest.approx((lowest - top) / (bottom - top), abs=TOLERANCE)


def _page_texts(pdf: Path) -> list[str]:
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf))
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


def test_a_setup_table_longer_than_the_page_breaks_between_rows_after_its_heading(tmp_path):
    """The report's stylesheet on a chapter opening with a setup table longer than a page: the
    table breaks between rows on the chapter's first page (kept whole, it left that page with
    only the headings), with its heading and at least three rows, and no row alone at the end."""
    rows = "".join(f"<tr><th>label {i:02d}</th><td>value {i:02d}</td></tr>" for i in range(60))
    pdf = _render(tmp_path / "setup.pdf",
                  _chapter("1. alpha", f'<h3>Setup</h3><table class="setup">{rows}</table>'))
    texts = _page_texts(pdf)
    assert len(texts) >= 3 and short_pages(pdf) == []
    pages_of = {i: [n for n, text in enumerate(texts) if f"label {i:02d}" in text] for i in range(60)}
    assert all(len(pages) == 1 and f"value {i:02d}" in texts[pages[0]] for i, pages in pages_of.items())
    assert "Setup" in texts[1] and pages_of[2] == [1]  # the heading with its first three rows
    assert pages_of[58] == pages_of[59]
