"""HTML → PDF with WeasyPrint, Chinese set in a pre-subset CJK font (see :func:`subset_font`)."""

from __future__ import annotations

import re
from pathlib import Path

from reportgen.errors import RenderError
from reportgen.fonts import find_cjk_font, subset_family, subset_font

_DATA_URI = re.compile(r"data:[a-z/+]+;base64,[A-Za-z0-9+/=]+")
_TAG = re.compile(r"<[^>]+>")


def _font_face(html: str, cache_dir: Path) -> str:
    font = find_cjk_font()
    text = _TAG.sub(" ", _DATA_URI.sub("", html))
    path = subset_font(font, set(text), cache_dir)
    return (f'@font-face {{ font-family: "{subset_family(font)}"; '
            f'src: url("{path.as_uri()}") format("truetype"); }}')


def html_to_pdf(html: str, font_cache_dir: Path) -> bytes:
    """Render ``html`` (made with ``medium="print"``) to PDF bytes."""
    face = _font_face(html, font_cache_dir)
    html = html.replace("<style>", f"<style>\n{face}\n", 1)
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except OSError as exc:  # Pango/HarfBuzz shared libraries missing
        raise RenderError(f"WeasyPrint cannot load its system libraries ({exc}); install Debian "
                          "packages libpango-1.0-0 and libpangoft2-1.0-0 (make report does this "
                          "as root).") from None
    # The figures and the font subset are local files; the PDF never reaches the network.
    from reportgen.render.png_stream import png_passthrough

    fetcher = URLFetcher(allowed_protocols={"file", "data"}, fail_on_errors=True)
    with png_passthrough():
        return HTML(string=html, url_fetcher=fetcher).write_pdf()
