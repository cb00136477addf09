"""The user's Markdown answers: local images only, embedded, so the report never reaches the network.

An answer (``answer`` or ``answer_file`` of a ``[[report.questions]]``) may show images by a
path relative to the manifest's folder; they are embedded as data: URIs. An http(s) (or any
other remote) image is a validation error naming the question: opened, the HTML would fetch it
(a tracking beacon), and the PDF step refuses remote files.
"""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlparse

from markdown_it import MarkdownIt
from markupsafe import Markup

IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"}


def _parser() -> MarkdownIt:
    # Raw HTML in an answer is escaped, not rendered (no <img> or <script> of one's own).
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def _image_tokens(tokens: list) -> list:
    return [child for token in tokens if token.type == "inline" for child in token.children or []
            if child.type == "image"]


def _local_path(src: str, base_dir: Path) -> Path | None:
    """The file an image source names, or None when it names a remote or data resource."""
    parsed = urlparse(src)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme or parsed.netloc:  # http(s)://, //host/…, data:, ftp: …
        return None
    return base_dir / unquote(parsed.path)


def image_problems(text: str, base_dir: Path) -> list[str]:
    """What is wrong with the images of one answer: remote sources, missing or non-image files."""
    problems = []
    for image in _image_tokens(_parser().parse(text)):
        src = image.attrGet("src") or ""
        path = _local_path(src, base_dir)
        if path is None:
            problems.append(f"image {src!r} is not a local file: the report embeds only images "
                            "next to the manifest (e.g. ![plot](figures/plot.png)), so it never "
                            "fetches anything from the network")
        elif not path.is_file():
            problems.append(f"image {src!r}: file not found: {path}")
        elif mimetypes.guess_type(path.name)[0] not in IMAGE_TYPES:
            problems.append(f"image {src!r}: not a PNG, JPEG, GIF, WebP or SVG file")
    return problems


def render_answer(text: str, base_dir: Path) -> Markup:
    """The answer as HTML, every image embedded as a data: URI; an image that is not a local
    file (validation refuses those) keeps only its alt text."""
    md = _parser()
    tokens = md.parse(text)
    for image in _image_tokens(tokens):
        path = _local_path(image.attrGet("src") or "", base_dir)
        kind = mimetypes.guess_type(path.name)[0] if path is not None else None
        if path is not None and path.is_file() and kind in IMAGE_TYPES:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            image.attrSet("src", f"data:{kind};base64,{data}")
        else:
            image.attrSet("src", "")
    return Markup(md.renderer.render(tokens, md.options, {}))
