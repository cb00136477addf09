"""Translation catalogs (gettext ``.po`` files under ``templates/locales``), read with Babel.

The report shows several languages at once, so instead of one active locale every text is
looked up per language: ``translate(msgid, "zh-TW")``. msgids are the English source text.

Plural texts carry their English plural form too (``plural_msg("{count} face", "{count} faces", {...})``):
the form is chosen by ``params["count"]`` with the language's plural rule (the catalog's
``Plural-Forms``, as Babel writes it: English has two forms, Chinese one). A parameter that is a
:class:`~reportgen.report_types.Msg` (or its JSON form) is translated into the same language first.
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from reportgen.report_types import Msg
from reportgen.resources import templates_dir

LOCALE_DIRS = {"zh-TW": "zh_TW", "en": "en"}

EXTRACTION_KEYWORDS = ("Msg", "plural_msg:1,2", "label", "bi", "joined")
"""pybabel ``-k`` specs of every call whose literal first argument is a msgid (see babel.cfg and
scripts/update_catalogs.py); ``plural_msg:1,2`` makes a plural entry (msgid_plural).

Plural texts need their own constructor: Babel's Python extractor splits a call's arguments at
every comma of its parentheses level, dict literals included, so ``Msg:1,3,3t`` would read
``Msg("…", {"a": x, "b": y})`` as a plural whose plural form is ``"b"``."""


def plural_msg(singular: str, plural: str, params: dict[str, Any]) -> Msg:
    """A text with an English singular and plural form, chosen by ``params["count"]`` (an int)
    with each language's plural rule: ``plural_msg("{count} face", "{count} faces", {"count": n})``."""
    if "count" not in params:
        raise ValueError(f"plural text {singular!r} needs a 'count' parameter")
    return Msg(singular, params, plural)


@cache
def _po(language: str) -> Catalog:
    path = templates_dir() / "locales" / LOCALE_DIRS[language] / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=LOCALE_DIRS[language])


@cache
def catalog(language: str) -> dict[str, str]:
    """msgid → translation for one report language (untranslated and fuzzy entries are left out:
    a fuzzy entry is Babel's guess from a similar msgid, often with the wrong meaning).
    Plural entries are in :func:`plural_catalog`."""
    return {m.id: m.string for m in _po(language)
            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


@cache
def plural_catalog(language: str) -> dict[str, tuple[str, ...]]:
    """Singular msgid → every plural form of its translation (translated, non-fuzzy entries)."""
    return {m.id[0]: tuple(m.string) for m in _po(language)
            if m.pluralizable and all(m.string) and not m.fuzzy}


@cache
def _translations(language: str) -> Translations:
    """The catalog as gettext translations (Babel compiles it; fuzzy entries are left out), for
    ``ngettext`` with the catalog's plural rule."""
    mo = BytesIO()
    write_mo(mo, _po(language))
    mo.seek(0)
    return Translations(mo)


def translate(msgid: str, language: str, params: dict[str, Any] | None = None,
              plural: str | None = None) -> str:
    """The msgid in ``language`` with ``{placeholders}`` filled; English falls back to the msgid.

    With ``plural`` (the English plural form) the form follows ``params["count"]``; Msg (or
    ``{"msgid": …}``) parameters are translated in ``language`` before they fill the text."""
    if plural is not None:
        if not params or "count" not in params:
            raise ValueError(f"plural text {msgid!r} needs a 'count' parameter")
        text = _translations(language).ngettext(msgid, plural, int(params["count"]))
    else:
        text = catalog(language).get(msgid, msgid)
    if not params:
        return text
    return text.format(**{k: _param(v, language) for k, v in params.items()})


def translate_msg(msg: Msg | dict[str, Any] | str, language: str) -> str:
    """A :class:`Msg` (or its JSON form ``{"msgid", "params", "plural"}``) in ``language``; a plain
    str (text that is not translated, e.g. a test's stand-in) as it is."""
    if isinstance(msg, str):
        return msg
    if isinstance(msg, dict):
        msg = Msg.from_json(msg)
    return translate(msg.msgid, language, msg.params, msg.plural)


def _param(value: Any, language: str) -> Any:
    if isinstance(value, Msg) or (isinstance(value, dict) and "msgid" in value):
        return translate_msg(value, language)
    return value


def joined(msgid: str, languages: list[str], params: dict[str, Any] | None = None,
           separator: str = " / ", plural: str | None = None) -> str:
    """One line with every chosen language, e.g. ``預測類別 / Predicted class`` (for figures)."""
    texts = [translate(msgid, lang, params, plural) for lang in languages]
    return separator.join(dict.fromkeys(texts))
