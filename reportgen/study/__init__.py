"""The study: what the experiments' records say together (comparison chapter, changes since the
last run, commentary). A function of the records and the test-set predictions only: no model,
no image, no manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reportgen.predictions import RunPredictions
from reportgen.report_types import Msg, jsonable
from reportgen.study import commentary
from reportgen.study.changes import Gate, changes
from reportgen.study.compare import ComparisonSection, build_comparisons


@dataclass
class Study:
    commentary: dict[str, list[Msg]]
    """The Discussion of each experiment, by name."""
    sections: list[ComparisonSection]
    regressions: list[str] = field(default_factory=list)

    def section_records(self) -> list[dict[str, Any]]:
        """The sections as JSON (``comparison/record.json``): key, title, metrics, notes, tables,
        figures."""
        return [{"key": s.key, "title": s.title.to_json(), **jsonable(s.result)} for s in self.sections]


def study(records: list[dict[str, Any]], figure_dir: Path, languages: list[str],
          gate: Gate | None = None, predictions: dict[str, RunPredictions] | None = None,
          environment: dict[str, Any] | None = None) -> Study:
    """Commentary, comparison sections and (with ``gate``) the changes since the last run,
    all from the records and (for the paired tests) ``predictions``, experiment name → its
    test-set predictions; only the comparison's bar charts are written (to ``figure_dir``).
    ``environment``: this run's (reportgen.environment), compared with the gate's previous one."""
    sections = build_comparisons(records, figure_dir, languages, predictions)
    for section in sections:
        sentences = commentary.for_comparison(section.key, section.result.metrics)
        section.result.notes += sentences
        section.result.metrics["commentary"] = [m.to_json() for m in sentences]
    regressions: list[str] = []
    if gate is not None:
        current = {r["name"]: r for r in records if r["status"] == "ok"}
        section, regressions = changes(gate.previous, current, gate.fail_on_drop, gate.source,
                                       predictions, gate.fail_on_drop_any, gate.environment,
                                       environment)
        sections.append(section)
    return Study({r["name"]: commentary.for_experiment(r) for r in records}, sections, regressions)
