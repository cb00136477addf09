"""Which entries of the environment (reportgen.environment) changed since the previous run, for
``--compare-to``: a sentence in the changes section and a clause of each regression line, so a
drop that came with a new Keras is not blamed on the model alone."""

from __future__ import annotations

from typing import Any

from reportgen.environment import COMPARED, display, label
from reportgen.i18n import translate_msg
from reportgen.report_types import Msg


def _comparable(key: str, value: Any) -> Any:
    """What counts as a change: the lock file's hash (not its path), the CPU's model and core
    count, the GPUs' names, a version string."""
    if key == "lock":
        return value.get("sha256") if isinstance(value, dict) else None
    if key == "cpu":
        return (value.get("model"), value.get("cores")) if isinstance(value, dict) else None
    return value


def environment_changes(before: Any, now: Any) -> list[dict[str, Any]] | None:
    """``[{"entry", "previous", "now"}]`` for every compared entry that differs; None when the
    previous run recorded no environment (nothing can be said). An entry the previous run did
    not record (an older build) is not compared."""
    if not isinstance(before, dict) or not isinstance(now, dict):
        return None
    return [{"entry": key, "previous": before[key], "now": now.get(key)} for key in COMPARED
            if key in before and _comparable(key, before[key]) != _comparable(key, now.get(key))]


def _piece(change: dict[str, Any]) -> Msg:
    key = change["entry"]
    # Inside a sentence the lock file is a common noun (the table's row label is capitalised).
    entry = Msg("the lock file") if key == "lock" else label(key)
    return Msg("{entry} {previous} → {now}", {"entry": entry,
                                               "previous": display(key, {key: change["previous"]}),
                                               "now": display(key, {key: change["now"]})})


def environment_note(changed: list[dict[str, Any]] | None) -> Msg | None:
    """The changes section's sentence on the environment; None when the previous run recorded
    none."""
    if changed is None:
        return None
    if not changed:
        return Msg("The environment is the same as in the previous run (versions, lock file, CPU "
                   "and GPU).")
    pieces = [_piece(c) for c in changed]
    # Each piece is translated on its own; the list itself is not a catalog text.
    slots = "; ".join(f"{{p{i}}}" for i in range(len(pieces)))
    return Msg("Changed in the environment since the previous run: {changes}.",
               {"changes": Msg(slots, {f"p{i}": p for i, p in enumerate(pieces)})})


def changed_in_between(changed: list[dict[str, Any]] | None) -> str:
    """The regression line's clause, in English like the rest of it: ``Keras 3.15 → 3.16 changed
    in between``; empty when nothing (known) changed."""
    if not changed:
        return ""
    texts = [translate_msg(_piece(c), "en") for c in changed]
    listed = texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]
    return f"{listed} changed in between"
