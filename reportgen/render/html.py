"""The Jinja environment: templates from ``templates/``, text from the translation catalogs.

Templates write ``{{ bi("Confusion matrix") }}`` and ``{{ text(value) }}``, macros of
``templates/macros.html`` that draw the text once per report language as ``<span lang=…>``
elements (one HTML holds both languages side by side); this module gives them the
translations and nothing else: no HTML is built here.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, pass_context
from markupsafe import Markup

from reportgen.config.common import LocalizedText
from reportgen.errors import RenderError
from reportgen.fonts import find_cjk_font
from reportgen.i18n import joined, translate, translate_msg
from reportgen.report_types import Best, Msg
from reportgen.resources import templates_dir

HTML_LANG = {"zh-TW": "zh-Hant-TW", "en": "en"}


def _pairs(texts: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(css language, html lang, text) per report language; identical texts (numbers, names)
    once, under the first language that has them."""
    unique: dict[str, str] = {}
    for language, text in texts:
        unique.setdefault(text, language)
    return [(language.lower(), HTML_LANG[language], text) for text, language in unique.items()]


@pass_context
def translations(context, msgid: str, params: dict[str, Any] | None = None,
                 plural: str | None = None) -> list[tuple[str, str, str]]:
    """A msgid in every report language, for the ``spans`` macro (templates/macros.html)."""
    return _pairs([(lang, translate(msgid, lang, params, plural)) for lang in context["languages"]])


@pass_context
def localized(context, value: Any) -> list[tuple[str, str, str]] | None:
    """A Msg or LocalizedText in every report language; None for any other value (shown as is)."""
    languages = context["languages"]
    if isinstance(value, Msg):
        return _pairs([(lang, translate_msg(value, lang)) for lang in languages])
    if isinstance(value, LocalizedText):
        return _pairs([(lang, value.get(lang)) for lang in languages])
    return None


@pass_context
def image_src(context, path: str) -> str:
    """The HTML embeds figures (one self-contained file that opens offline); the PDF's input
    links them as files, so WeasyPrint need not parse megabytes of base64. Record paths are
    relative to the output folder."""
    resolved = (Path(context["out_dir"]) / path).resolve()
    if context["medium"] == "print":
        return resolved.as_uri()
    return "data:image/png;base64," + base64.b64encode(resolved.read_bytes()).decode("ascii")


@pass_context
def image_width(context, path: str) -> str:
    """A figure's CSS width: its natural printed size, from the pixels per inch its PNG records
    (reportgen.figures.print_ppi); the print stylesheet still shrinks it to the page."""
    from PIL import Image

    from reportgen.figures import print_ppi

    with Image.open(Path(context["out_dir"]) / path) as image:
        return f"{image.width * 96 / print_ppi(image.info):.1f}px"


@pass_context
def joined_text(context, msgid: str, **params: Any) -> str:
    """A msgid in every report language as one plain string: ``實驗比較 / Comparison``."""
    return joined(msgid, context["languages"], params)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader([str(templates_dir())]), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(translations=translations, localized=localized, image_src=image_src,
                       image_width=image_width,
                       partial_for=_partial_for(env), joined=joined_text)
    env.tests.update(best=lambda value: isinstance(value, Best))
    return env


def _partial_for(env: Environment):
    def partial_for(analysis_name: str) -> str:
        """``partials/_<analysis>.html`` when an analysis has its own partial, else the generic one."""
        name = f"partials/_{analysis_name}.html"
        try:
            env.get_template(name)
            return name
        except TemplateNotFound:
            return "partials/_analysis.html"

    return partial_for


def render_html(view: dict[str, Any], medium: str, out_dir: Path) -> str:
    """``medium`` is ``screen`` (the HTML file) or ``print`` (the input of the PDF); figure paths
    are relative to ``out_dir``."""
    css = (templates_dir() / "style.css").read_text(encoding="utf-8")
    try:
        return environment().get_template("report.html").render(
            **view, medium=medium, out_dir=str(out_dir), css=Markup(css), cjk_family=find_cjk_font().family)
    except Exception as exc:  # template bugs surface as one clear message
        raise RenderError(f"rendering the report failed: {type(exc).__name__}: {exc}") from exc
