"""One section of the comparison chapter."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.report_types import AnalysisResult, Msg


@dataclass
class ComparisonSection:
    key: str
    title: Msg
    result: AnalysisResult
