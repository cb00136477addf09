"""Reusing a previous build's results (see :mod:`reportgen.result_cache`): the keys of one planned
experiment, its outcome rebuilt from the cache when every part of it hits (no TensorFlow
import, nothing loaded), and storing what a build computed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reportgen.analyses import registry
from reportgen.analyses.base import Analysis, Params
from reportgen.outcomes import AnalysisOutcome, ExperimentOutcome
from reportgen.plan import ExperimentPlan
from reportgen.report_types import from_jsonable
from reportgen.result_cache import PREDICTIONS_FILE, ResultCache, analysis_key, evaluation_key, weights_digest

ENTRY_FIELDS = ("classes", "data_summary", "model_summary", "evaluation", "history", "stages",
                "class_match", "transfer", "cache")
"""What an experiment's record needs besides its analyses (fields of ExperimentOutcome)."""


@dataclass(frozen=True)
class PlannedAnalysis:
    method: str
    analysis: type[Analysis]
    raw: dict[str, Any]
    """The manifest's parameters."""
    params: Params | None
    """Validated; None when they do not validate (the run reports the error)."""
    key: str | None
    """Result cache key; None when there is none (parameters invalid, no trained model yet)."""


def results_cache(out_dir: Path) -> ResultCache:
    return ResultCache(out_dir / "cache")


@dataclass(frozen=True)
class ResultKeys:
    """The result cache keys of one experiment (equal without seeded repeats)."""

    evaluation: str
    """Of every run's trained weights: the evaluation entry (with the repeats' scores) and the
    analyses that read the repeats."""
    representative: str
    """Of the representative run's (run 0's) weights: every other analysis, so a change of
    ``repeats`` recomputes only what reads the repeats."""

    def of(self, analysis: type[Analysis]) -> str:
        return self.evaluation if analysis.reads_repeats else self.representative


def result_keys(plan: ExperimentPlan, out_dir: Path) -> ResultKeys | None:
    """The experiment's result keys; None when it trains and a run's model is not cached yet."""
    if not plan.trains:
        key = evaluation_key(plan.name, plan.inputs_key, None)
        return ResultKeys(key, key)
    folders = [plan.trained_model_dir(out_dir)] + [plan.repeat_model_dir(out_dir, r)
                                                   for r in range(1, len(plan.seeds))]
    digests = [weights_digest(folder) for folder in folders]
    if None in digests:
        return None
    # Run 0 alone keys exactly as a build without repeats does (its cached results stay valid).
    representative = evaluation_key(plan.name, plan.inputs_key, digests[0])
    every = evaluation_key(plan.name, plan.inputs_key, digests) if len(digests) > 1 else representative
    return ResultKeys(every, representative)


def planned_analyses(plan: ExperimentPlan, keys: ResultKeys | None,
                     languages: list[str]) -> list[PlannedAnalysis]:
    planned = []
    for spec in plan.spec.analysis_specs():
        cls = registry.get(spec.method)
        try:
            params = cls.Params.model_validate(spec.params)
        except ValidationError:
            params = None
        key = (analysis_key(keys.of(cls), spec.method, params.model_dump(mode="json"), languages)
               if keys is not None and params is not None else None)
        planned.append(PlannedAnalysis(spec.method, cls, spec.params, params, key))
    return planned


def reused_outcome(plan: ExperimentPlan, out_dir: Path, stage_dir: Path,
                   languages: list[str]) -> ExperimentOutcome | None:
    """The experiment's outcome from the cache, its predictions and figures linked into the
    build's generation ``stage_dir``; None unless the evaluation and every analysis hit."""
    start = time.perf_counter()
    cache = results_cache(out_dir)
    keys = result_keys(plan, out_dir)
    if keys is None:
        return None
    analyses = planned_analyses(plan, keys, languages)
    if not all(a.key is not None and cache.has_analysis(a.key) for a in analyses):
        return None
    experiment_dir = stage_dir / "experiments" / plan.name
    entry = cache.load_evaluation(keys.evaluation, experiment_dir)
    if entry is None:
        return None
    outcome = ExperimentOutcome(plan, reused=True,
                                **{name: from_jsonable(entry[name]) for name in ENTRY_FIELDS})
    if plan.trains:
        outcome.cache["hit"] = True
    loading = {}
    for planned in analyses:
        begin = time.perf_counter()
        loaded = cache.load_analysis(planned.key, experiment_dir / "figures")
        if loaded is None:  # removed since has_analysis: compute the experiment instead
            return None
        result, computed = loaded
        loading[planned.method] = time.perf_counter() - begin
        outcome.analyses.append(AnalysisOutcome(planned.method, planned.analysis.title, result,
                                                loading[planned.method], reused_from=computed))
    # Nothing was built, loaded, trained or predicted: the same keys as a computed outcome's.
    outcome.timings = {**dict.fromkeys(("build_model", "load_data", "train", "predict"), 0.0),
                       "analyses": loading, "total": time.perf_counter() - start}
    return outcome


def store_evaluation(outcome: ExperimentOutcome, out_dir: Path, stage_dir: Path) -> None:
    """Keep what the experiment's record needs (and its predictions) for the next build."""
    key = outcome.cache.get("results_key")
    predictions = stage_dir / "experiments" / outcome.plan.name / PREDICTIONS_FILE
    if outcome.status != "ok" or outcome.reused or key is None or not predictions.is_file():
        return
    entry: dict[str, Any] = {name: getattr(outcome, name) for name in ENTRY_FIELDS}
    results_cache(out_dir).store_evaluation(key, entry, predictions)
