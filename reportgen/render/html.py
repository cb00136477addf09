"""The Jinja environment: templates from ``templates/``, text from the translation catalogs.

Templates write ``{{ bi("Confusion matrix") }}``; ``bi`` renders the text once per report
language as ``<span lang=…>`` elements, so one HTML holds both languages side by side.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, pass_context
from markupsafe import Markup, escape

from reportgen.config.schema import LocalizedText
from reportgen.errors import RenderError
from reportgen.fonts import find_cjk_font
from reportgen.i18n import joined, translate
from reportgen.report_types import Msg
from reportgen.resources import templates_dir

HTML_LANG = {"zh-TW": "zh-Hant-TW", "en": "en"}


def _spans(texts: list[tuple[str, str]], tag: str = "span") -> Markup:
    unique: dict[str, str] = {}
    for language, text in texts:
        unique.setdefault(text, language)  # identical texts (numbers, names) shown once
    return Markup("").join(
        Markup('<{t} class="l l-{c}" lang="{h}">{x}</{t}>').format(
            t=tag, c=language.lower(), h=HTML_LANG[language], x=text)
        for text, language in unique.items())


@pass_context
def bi(context, msgid: str, **params: Any) -> Markup:
    """A literal msgid in every report language."""
    return _spans([(lang, translate(msgid, lang, params)) for lang in context["languages"]])


@pass_context
def text(context, value: Any) -> Markup:
    """Any value a view model holds: Msg and LocalizedText per language, the rest as is."""
    languages = context["languages"]
    if isinstance(value, Msg):
        return _spans([(lang, translate(value.msgid, lang, value.params)) for lang in languages])
    if isinstance(value, LocalizedText):
        return _spans([(lang, value.get(lang)) for lang in languages])
    return escape(value)


@pass_context
def image_src(context, path: Path) -> str:
    """The HTML embeds figures (one self-contained file that opens offline); the PDF's input
    links them as files, so WeasyPrint need not parse megabytes of base64."""
    if context["medium"] == "print":
        return Path(path).resolve().as_uri()
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


@pass_context
def joined_text(context, msgid: str, **params: Any) -> str:
    """A msgid in every report language as one plain string: ``實驗比較 / Comparison``."""
    return joined(msgid, context["languages"], params)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader([str(templates_dir())]), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(bi=bi, text=text, image_src=image_src, partial_for=_partial_for(env),
                       joined=joined_text)
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


def render_html(view: dict[str, Any], medium: str) -> str:
    """``medium`` is ``screen`` (the HTML file) or ``print`` (the input of the PDF)."""
    css = (templates_dir() / "style.css").read_text(encoding="utf-8")
    try:
        return environment().get_template("report.html").render(
            **view, medium=medium, css=Markup(css), cjk_family=find_cjk_font().family)
    except Exception as exc:  # template bugs surface as one clear message
        raise RenderError(f"rendering the report failed: {type(exc).__name__}: {exc}") from exc
