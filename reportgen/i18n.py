"""Translation catalogs (gettext ``.po`` files under ``templates/locales``), read with Babel.

The report shows several languages at once, so instead of one active locale every text is
looked up per language: ``translate(msgid, "zh-TW")``. msgids are the English source text.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from babel.messages.pofile import read_po

from reportgen.resources import templates_dir

LOCALE_DIRS = {"zh-TW": "zh_TW", "en": "en"}


@cache
def catalog(language: str) -> dict[str, str]:
    """msgid → translation for one report language (untranslated and fuzzy entries are left out:
    a fuzzy entry is Babel's guess from a similar msgid, often with the wrong meaning)."""
    path = templates_dir() / "locales" / LOCALE_DIRS[language] / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        po = read_po(handle, locale=LOCALE_DIRS[language])
    return {m.id: m.string for m in po if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def translate(msgid: str, language: str, params: dict[str, Any] | None = None) -> str:
    """The msgid in ``language`` with ``{placeholders}`` filled; English falls back to the msgid."""
    text = catalog(language).get(msgid, msgid)
    return text.format(**params) if params else text


def joined(msgid: str, languages: list[str], params: dict[str, Any] | None = None,
           separator: str = " / ") -> str:
    """One line with every chosen language, e.g. ``預測類別 / Predicted class`` (for figures)."""
    texts = [translate(msgid, lang, params) for lang in languages]
    return separator.join(dict.fromkeys(texts))
