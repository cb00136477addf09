"""How the comparison chapter writes its numbers, in tables and sentences alike.

One function per kind of number (p-values: :func:`reportgen.significance.p_value`, shared with
the analyses), so a sentence and the table beside it print the same text and
tests/test_default_report.py can re-derive every quoted number from metrics.json.
"""

from __future__ import annotations

from collections.abc import Sequence

from reportgen.report_types import points


def accuracy_interval(low: float, high: float) -> str:
    """A 95 % interval of an accuracy, compact: ``0.970–0.988``."""
    return f"{low:.3f}–{high:.3f}"


def points_interval(low: float, high: float) -> str:
    """A 95 % interval of a difference in points: ``[+0.5, +3.8]`` (signed, so a negative bound
    never reads as a dash)."""
    return f"[{points(low)}, {points(high)}]"


def seeded_accuracy(mean: float, sd: float, per_seed: Sequence[float]) -> str:
    """Mean ± sd over seeds and each seed's value: ``0.9806 ± 0.0031 (0.978, 0.981, 0.983)``."""
    return f"{mean:.4f} ± {sd:.4f} ({', '.join(f'{v:.3f}' for v in per_seed)})"


def magnitude(delta: float) -> str:
    """A difference in points without its sign, for "improves … by 2.1 points"."""
    return f"{abs(delta):.1f}"
