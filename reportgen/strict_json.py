"""Strict JSON for every file reportgen writes: no bare ``NaN`` / ``Infinity``.

Python's ``json`` writes non-finite floats as ``NaN``, ``Infinity`` and ``-Infinity``, which are
not JSON (strict readers such as ``JSON.parse``, ``jq`` or ``json.loads(parse_constant=...)``
reject the file). :func:`strict_document` replaces each with ``null`` and records why under
:data:`NON_FINITE_KEY` of the outermost object holding it: the document itself when it is an
object, else each object element of a top-level array. Each reason is ``"<path>: <value>"``,
the path in dotted keys and ``[index]`` (``"experiments.x.history.loss[3]: nan"``), relative to
that object; the value is ``nan``, ``inf`` or ``-inf``. The key is present only when something
was replaced.
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

NON_FINITE_KEY = "non_finite"


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _clean(value: Any, path: str, found: list[str]) -> Any:
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        number = float(value)
        if not math.isfinite(number):
            found.append(f"{path}: {number!r}")
            return None
        return value
    if isinstance(value, dict):
        return {k: _clean(v, _join(path, k), found) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


def _object(value: dict[str, Any]) -> dict[str, Any]:
    found: list[str] = []
    out = _clean(value, "", found)
    if found:
        out[NON_FINITE_KEY] = [*(out.get(NON_FINITE_KEY) or []), *found]
    return out


def strict_document(document: Any) -> Any:
    """``document`` with every non-finite float replaced by None and the reasons recorded (see
    the module docstring). The input is not changed."""
    if isinstance(document, dict):
        return _object(document)
    if isinstance(document, list | tuple):
        return [_object(v) if isinstance(v, dict) else _clean(v, f"[{i}]", [])
                for i, v in enumerate(document)]
    return _clean(document, "", [])


def dumps_strict(document: Any) -> str:
    """Strict JSON text of ``document`` (indented, UTF-8 characters kept)."""
    return json.dumps(strict_document(document), indent=2, ensure_ascii=False, allow_nan=False)
