"""pydantic's validation errors as the one-line messages ``validate`` prints: the field path as
the manifest spells it (``experiments[1].train.epochs``), then what was wrong, in plain words."""

from __future__ import annotations

import datetime
import re
from typing import Any


def field_path(loc: tuple[Any, ...]) -> str:
    """``('experiments', 1, 'train', 'epochs')`` → ``experiments[1].train.epochs``.

    Pydantic adds the discriminator value (``'digits'``, after an entry's index) and
    union-member names (``'str'``, ``'int'``, ``'AnalysisSpec'``, ``'function-after[...]'``)
    to locations; they are not manifest keys, so they are dropped.
    """
    out, previous = "", None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _is_internal_loc(part, previous):
            out += f".{part}" if out else str(part)
        previous = part
    return out or "(top level)"


_KIND_TAGS = {"digits", "fer2013_csv", "fer2013_folder", "ferplus", "image_folder", "jaffe", "npz",
              "rafdb", "images", "cnn", "application", "file", "python"}


def _is_internal_loc(part: str, previous: Any) -> bool:
    return (part in {"str", "int", "AnalysisSpec"} or "[" in part or part.startswith("function-")
            or (isinstance(previous, int) and part in _KIND_TAGS))


def _format_error(err: dict[str, Any]) -> str:
    where = field_path(err["loc"])
    msg = err["msg"]
    if err["type"] == "missing":
        return f"{where}: required key is missing"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown key (check the spelling; see README 'Manifest reference')"
    if err["type"] == "union_tag_invalid":
        expected = err.get("ctx", {}).get("expected_tags", "")
        return f"{where}.kind: expected one of {expected}, got {err['input'].get('kind')!r}" \
            if isinstance(err.get("input"), dict) else f"{where}: {msg}"
    if err["type"] == "union_tag_not_found":
        return f"{where}.kind: required key is missing (it selects the kind of entry)"
    given = err.get("input")
    if err["type"] == "list_type" and isinstance(given, dict):
        if "[" in where:  # inside an entry: an inline array
            key = where.rsplit(".", 1)[-1]
            return (f"{where}: expected an array of tables, got a single table; write "
                    f"{key} = [{{ … }}, {{ … }}], not {key} = {{ … }}")
        return (f"{where}: expected an array of tables, got a single table; write [[{where}]] "
                f"(two brackets) before each entry, not [{where}]")
    msg = msg.removeprefix("Value error, ")
    for pydantic_words, ours in _PLAIN_WORDS:
        msg = re.sub(pydantic_words, ours, msg)
    hint = ""
    if err["type"] in ("int_type", "float_type", "bool_type") and isinstance(given, str):
        hint = " (write numbers and true/false without quotes)"
    elif err["type"] in ("int_type", "float_type") and isinstance(given, bool):
        hint = " (true/false is not a number)"
    elif err["type"] == "int_type" and isinstance(given, float):
        hint = " (a whole number without a decimal point)"
    return f"{where}: {msg}; got {_toml_text(given)}{hint}"


# Pydantic's words for TOML's types (a dictionary is a table, a list or tuple an array).
_PLAIN_WORDS = (
    (r"a valid dictionary or instance of \w+", "a table"),
    (r"a valid dictionary", "a table"),
    (r"a valid (list|tuple)", "an array"),
    (r"Input is not a valid path for <class '[\w.]+'>", "Input should be a path (a string)"),
)


def format_errors(errors: list[dict[str, Any]]) -> list[str]:
    """One line per field: a union's alternatives (``"head"``, ``"all"`` or an integer) are
    joined into one line instead of one line per alternative."""
    lines: dict[str, list[str]] = {}
    for err in errors:
        where, _, rest = _format_error(err).partition(": ")
        lines.setdefault(where, []).append(rest)
    out = []
    for where, texts in lines.items():
        if len(texts) > 1 and all(t.startswith("Input should be ") for t in texts):
            wants = [t.removeprefix("Input should be ").split("; got ")[0] for t in texts]
            got = texts[0].split("; got ", 1)[1] if "; got " in texts[0] else ""
            out.append(f"{where}: Input should be {' or '.join(wants)}" + (f"; got {got}" if got else ""))
        else:
            out += [f"{where}: {t}" for t in texts]
    return out


def _toml_text(value: Any) -> str:
    """A value for a message: ``true``/``false`` as TOML writes them, long texts shortened."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        text = repr(value)
        return text if len(text) <= 60 else ("a table" if isinstance(value, dict) else "an array")
    if isinstance(value, str):
        if len(value) > 60:
            return f"{value[:40]!r}… ({len(value)} characters)"
    return repr(value)
