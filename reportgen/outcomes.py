"""What a build produced: per analysis, per experiment, and for the whole build.

Dataclasses only, with no heavy imports, so the executors, ``artifacts``, ``compare`` and the
renderer can use the real types without importing :mod:`reportgen.pipeline` (which runs builds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.report_types import AnalysisResult, Msg

if TYPE_CHECKING:
    from reportgen.plan import ExperimentPlan


@dataclass
class AnalysisOutcome:
    name: str
    title: Msg
    result: AnalysisResult | None
    seconds: float
    error: str | None = None
    reused_from: float | None = None
    """Reused from the result cache: the seconds it took when it was computed (else None)."""


@dataclass
class ExperimentOutcome:
    plan: ExperimentPlan
    status: str = "ok"
    error: str | None = None
    classes: list[str] = field(default_factory=list)
    data_summary: dict[str, Any] = field(default_factory=dict)
    model_summary: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list[float]] | None = None
    analyses: list[AnalysisOutcome] = field(default_factory=list)
    timings: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    stages: list[dict[str, Any]] = field(default_factory=list)
    class_match: dict[str, Any] = field(default_factory=dict)
    """How dataset labels reach the model's named outputs (run.classes.ClassMatch.to_json() plus
    ``left_out``: images per split of classes the model does not know); empty when by position."""
    transfer: dict[str, Any] = field(default_factory=dict)
    """For init_from: parent, parent classes, shared classes, whether the head was replaced."""
    commentary: list[Msg] = field(default_factory=list)
    """Sentences derived from this experiment's metrics (see reportgen.study.commentary)."""
    reused: bool = False
    """Everything came from the result cache: nothing was loaded, trained or computed."""


def failed_outcome(plan: ExperimentPlan, error: str, seconds: float = 0.0) -> ExperimentOutcome:
    """The outcome of an experiment that failed (or was not run) after ``seconds``."""
    return ExperimentOutcome(plan, status="failed", error=error, timings={"total": seconds})


@dataclass
class BuildOutcome:
    out_dir: Path
    outputs: list[Path]
    experiments: list[ExperimentOutcome]
    metrics: dict[str, Any]
    regressions: list[str] = field(default_factory=list)
    """Drops beyond ``--fail-on-drop`` against ``--compare-to`` (exit code 3)."""

    @property
    def failed(self) -> list[str]:
        return [e.plan.name for e in self.experiments if e.status != "ok"]
