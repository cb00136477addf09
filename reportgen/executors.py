"""Executors: run the planned experiments, parents before children, and gather the outcomes.

``local`` runs them one after another in this process (the default). Every executor gives each
experiment to the same job (``pipeline.ExperimentJob``), which never raises: a failure becomes
a failed outcome, and the children of a failed experiment fail without running.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from reportgen.progress import Progress

if TYPE_CHECKING:
    from reportgen.plan import ExperimentPlan

EXECUTORS = ("local",)


def _parent_failed(plan: ExperimentPlan, parent: str) -> Any:
    from reportgen.pipeline import ExperimentOutcome

    return ExperimentOutcome(plan, status="failed", timings={"total": 0.0},
                             error=f"not run: experiment {parent!r}, which it starts from "
                                   "(init_from), failed")


def run_local(plans: list[ExperimentPlan], job: Callable, progress: Progress) -> list[Any]:
    outcomes: dict[str, Any] = {}
    for position, plan in enumerate(plans, start=1):
        progress.experiment(position, len(plans), plan.name)
        failed_parent = next((p for p in plan.parents if outcomes.get(p) is not None
                              and outcomes[p].status != "ok"), None)
        if failed_parent is not None:
            outcomes[plan.name] = _parent_failed(plan, failed_parent)
            progress.say(f"FAILED: {outcomes[plan.name].error}")
            continue
        outcomes[plan.name] = job(plan, progress)
    return [outcomes[p.name] for p in plans]


def run_plans(plans: list[ExperimentPlan], job: Callable, progress: Progress, executor: str = "local",
              address: str | None = None) -> list[Any]:
    """Outcomes in plan order (plans come topologically sorted: parents first)."""
    if executor == "local":
        return run_local(plans, job, progress)
    raise ValueError(f"unknown executor {executor!r}; expected one of {EXECUTORS}")
