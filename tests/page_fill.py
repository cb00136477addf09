"""How full each page of a report PDF is (issue 17: no page less than a third full, except the
cover and chapter ends).

A page's fill is the height from the top of its body (inside the @page margins of
templates/style.css) down to the bottom of the lowest thing drawn in the body, as a share of
the body's height. It is measured on the PDF's page objects (text runs, rules, backgrounds,
images), not on rendered pixels: their boxes are exact at any resolution, and a light rule or a
figure's white border counts as the space it takes. A page's chapter is its running header
(top margin, right half: ``string(chapter)`` in style.css).

The objects are read with pypdfium2, the PDF engine pdfplumber is built on (installed with it):
pdfplumber's own object list (pdfminer) gives the same fills but takes ~50 times as long, 18 s
instead of 0.35 s for the 54-page default report; tests/test_page_fill.py checks the two agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from reportgen.resources import templates_dir

MM = 72 / 25.4  # PDF points per millimetre


@dataclass(frozen=True)
class PageFill:
    number: int  # 1-based
    fill: float  # share of the body's height that is used, 0…1
    chapter: str  # the running header's chapter ("" on the cover and the contents)
    chapter_end: bool  # the next page has another chapter, or there is no next page


@lru_cache(maxsize=1)
def page_margins_mm() -> tuple[float, float, float, float]:
    """(top, right, bottom, left) of the @page rule in templates/style.css, in mm: the same
    stylesheet that lays out the PDF (reportgen.figures.PAGE_BODY_MM is derived from it)."""
    css = (templates_dir() / "style.css").read_text(encoding="utf-8")
    # The first @page rule, before its first nested margin box (@top-left {…}).
    match = re.search(r"@page\s*\{[^{}]*?\bmargin:\s*([^;{}]+);", css)
    if match is None:
        raise ValueError("templates/style.css has no @page { margin: … } rule")
    parts = match.group(1).split()
    if not 1 <= len(parts) <= 4 or not all(re.fullmatch(r"[0-9.]+mm", v) for v in parts):
        raise ValueError(f"@page margin must be 1 to 4 lengths in mm: {match.group(1)!r}")
    values = [float(v.removesuffix("mm")) for v in parts]
    top, right, bottom, left = {1: values * 4, 2: values * 2, 3: values + values[1:2],
                                4: values}[len(values)]
    return top, right, bottom, left


@contextmanager
def _document(pdf_path: str | Path) -> Iterator:
    """The PDF opened with pypdfium2, closed after use."""
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf_path))
    try:
        yield document
    finally:
        document.close()


def _text_in(page, left: float, bottom: float, right: float, top: float) -> str:
    """The text of ``page`` inside the rectangle (PDF points), whitespace runs made one space."""
    textpage = page.get_textpage()
    try:
        return " ".join(textpage.get_text_bounded(left=left, bottom=bottom, right=right, top=top).split())
    finally:
        textpage.close()


def _measure(page, margin_top: float, margin_bottom: float) -> tuple[float, str]:
    """(fill, chapter) of one pypdfium2 page. PDF coordinates: y grows upwards."""
    left, y0, right, y1 = page.get_mediabox()
    body_top, body_bottom = y1 - margin_top * MM, y0 + margin_bottom * MM
    lowest = body_top  # an empty body is 0 full
    for obj in page.get_objects(max_depth=8):  # into form XObjects too
        _, obj_bottom, _, obj_top = obj.get_bounds()
        if obj_top > body_bottom and obj_bottom < body_top:  # reaches into the body
            lowest = min(lowest, max(obj_bottom, body_bottom))
    header = _text_in(page, (left + right) / 2, body_top, right, y1)
    return (body_top - lowest) / (body_top - body_bottom), header


def page_fill(pdf_path: str | Path) -> list[PageFill]:
    """Every page's fill, chapter and whether it ends its chapter."""
    margin_top, _, margin_bottom, _ = page_margins_mm()
    measured = []
    with _document(pdf_path) as document:
        for index in range(len(document)):
            page = document[index]
            try:
                measured.append(_measure(page, margin_top, margin_bottom))
            finally:
                page.close()
    return [PageFill(number=i + 1, fill=fill, chapter=chapter,
                     chapter_end=i + 1 == len(measured) or measured[i + 1][1] != chapter)
            for i, (fill, chapter) in enumerate(measured)]


def short_pages(pdf_path: str | Path, minimum: float = 1 / 3) -> list[PageFill]:
    """Pages less than ``minimum`` full that are neither the cover (page 1) nor a chapter end."""
    return [p for p in page_fill(pdf_path)
            if p.fill < minimum and p.number > 1 and not p.chapter_end]


def body_top_text(pdf_path: str | Path, page_number: int, depth_mm: float = 25.0) -> str:
    """The text in the top ``depth_mm`` of page ``page_number``'s body (below the running
    header): where a chapter's heading must be on the page that opens the chapter."""
    margin_top = page_margins_mm()[0]
    with _document(pdf_path) as document:
        page = document[page_number - 1]
        try:
            left, _, right, top = page.get_mediabox()
            body_top = top - margin_top * MM
            return _text_in(page, left, body_top - depth_mm * MM, right, body_top)
        finally:
            page.close()
