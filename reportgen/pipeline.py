"""``build()``: manifest → plan → data/model/train → analyses → records → study → metrics.json →
HTML/PDF (rendered from the records, as ``reportgen render`` does).

Every experiment runs inside its own error boundary: a failed experiment is recorded (status,
message, log file) and the others go on. Outputs are only replaced once complete.
"""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.analyses.base import AnalysisContext
from reportgen.artifacts import write_json_atomic
from reportgen.check_memo import CheckMemo
from reportgen.checks import load_checked, output_problems
from reportgen.config.schema import Manifest
from reportgen.environment import collect as collect_environment
from reportgen.errors import ConfigError, DataError, ModelError, ReportgenError
from reportgen.executors import reap_orphaned_ray, run_plans
from reportgen.outcomes import AnalysisOutcome, BuildOutcome, ExperimentOutcome, failed_outcome
from reportgen.plan import ExperimentPlan, make_plan, selected_experiments, tested_images, trained_model_dir
from reportgen.predictions import PREDICTIONS_FILE, read_predictions, write_predictions
from reportgen.progress import Progress
from reportgen.publish import (
    discard_unless_published,
    is_published,
    new_generation,
    output_lock,
    publish,
    remove_stale_generations,
)
from reportgen.records import (
    METRICS_FILE,
    STUDY_RECORD,
    experiment_record,
    metrics_document,
    relative_paths,
    write_record,
)
from reportgen.render import render_outputs
from reportgen.repeats import Repeats, run_repeats, run_scores, summary
from reportgen.report_types import jsonable
from reportgen.result_cache import ResultCache
from reportgen.reuse import (
    PlannedAnalysis,
    planned_analyses,
    result_keys,
    results_cache,
    reused_outcome,
    store_evaluation,
)
from reportgen.study import study
from reportgen.study.changes import Gate, open_gate

STATS_CHUNK = 1024
"""Training images decoded at a time for normalisation statistics of a streamed split."""


def computed_on(outcomes: list[ExperimentOutcome]) -> str:
    """The device results were computed on: this build's when it ran TensorFlow, else the one
    the reused results name (no TensorFlow import)."""
    if "tensorflow" in sys.modules:
        from reportgen.run.devices import device_name

        return device_name()
    return next((o.model_summary["device"] for o in outcomes if o.model_summary.get("device")), "CPU")


def _run_analyses(ctx: AnalysisContext, analyses: list[PlannedAnalysis], cache: ResultCache,
                  force: bool, progress: Progress) -> list[AnalysisOutcome]:
    """Each analysis from the result cache when its key hits (unless ``force``), else computed and
    stored for the next build."""
    outcomes = []
    for planned in analyses:
        start = time.perf_counter()
        loaded = (cache.load_analysis(planned.key, ctx.figure_dir)
                  if planned.key is not None and not force else None)
        if loaded is not None:
            result, computed = loaded
            seconds = time.perf_counter() - start
            progress.say(f"analysis {planned.method} reused (computed in {computed:.1f} s)")
            outcomes.append(AnalysisOutcome(planned.method, planned.analysis.title, result, seconds,
                                            reused_from=computed))
            continue
        try:
            params = planned.params or planned.analysis.Params.model_validate(planned.raw)
            result = planned.analysis().run(ctx, params)
            error = None
        except ReportgenError as exc:
            result, error = None, str(exc)
        except Exception as exc:  # noqa: BLE001 - one broken analysis must not sink the experiment
            result, error = None, f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        progress.say(f"analysis {planned.method} ({seconds:.1f} s)" + (f" FAILED: {error}" if error else ""))
        if result is not None and planned.key is not None:
            try:
                cache.store_analysis(planned.key, result, seconds)
            except OSError as exc:  # a full disk costs the next build this analysis, not this one
                progress.say(f"analysis {planned.method}: not kept in the result cache ({exc})")
        outcomes.append(AnalysisOutcome(planned.method, planned.analysis.title, result, seconds, error))
    return outcomes


def run_experiment(plan: ExperimentPlan, base_dir: Path, out_dir: Path, languages: list[str],
                   force: bool, progress: Progress, stage_dir: Path | None = None) -> ExperimentOutcome:
    """Load data and model, train (or reuse the cache), evaluate and analyse one experiment.
    Caches live under ``out_dir/cache``; figures and predictions go to ``stage_dir`` (the
    build's unpublished generation, see reportgen.publish)."""
    stage_dir = stage_dir or out_dir
    from reportgen.run import data as data_mod
    from reportgen.run import devices, evaluate, models, train
    from reportgen.run.augment import augmentation_layers
    from reportgen.run.classes import experiment_match, matched_classes, remap_data
    from reportgen.run.data.coverage import class_counts, untrained_problem

    outcome = ExperimentOutcome(plan)
    timings = outcome.timings
    start = time.perf_counter()

    match = experiment_match(plan.spec, plan.dataset, plan.model, base_dir)
    classes = matched_classes(match, plan.dataset, plan.model, base_dir)
    outcome.classes = classes
    cache_dir = plan.trained_model_dir(out_dir)
    cached = None if (force or cache_dir is None) else train.load_cached(cache_dir, _trusts_code(plan))

    stage = time.perf_counter()
    if cached is not None:
        model, history, meta = cached
        outcome.cache["train_seconds"] = meta.get("train_seconds")
        outcome.stages = meta.get("stages", [])
        outcome.transfer = meta.get("transfer", {})
        normalization = meta.get("normalization")
        progress.say(f"cached model reused ({cache_dir.name})")
    else:
        train.seed_everything(plan.seed)
        meta, normalization = {}, None
        with devices.strategy_scope():
            model, outcome.transfer = _fresh_model(plan, classes, base_dir, out_dir, progress, plan.seed)
        history = None
    timings["build_model"] = time.perf_counter() - stage
    height, width, channels = models.model_input_shape(model)
    preprocess = models.preprocess_function(plan.model)

    stage = time.perf_counter()
    progress.say(f"loading {plan.dataset.name} at {height}×{width}×{channels}")
    # A model evaluated as loaded needs only the test split: nothing else is decoded. Face boxes
    # are cached under the build's cache folder.
    data = data_mod.load_dataset(plan.dataset, (height, width), channels, plan.seed, base_dir,
                                 splits=("train", "val", "test") if plan.trains else ("test",),
                                 cache_dir=out_dir / "cache")
    if plan.trains:  # a class never trained on (validate checks this ahead for file-list kinds)
        problem = untrained_problem(class_counts(data.classes, {s: getattr(data, s).y
                                                                for s in ("train", "val", "test")}))
        if problem:
            raise DataError(f"dataset {plan.dataset.name!r}: {problem}")
    if match is not None:  # labels become model output indices, by class name
        data, left_out = remap_data(data, match)
        outcome.class_match = {**match.to_json(), "left_out": left_out}
        for split in ("train", "test") if plan.trains else ("test",):
            if len(getattr(data, split).y) == 0:
                raise ModelError(f"dataset {plan.dataset.name!r}: every {split} image is of a class "
                                 f"model {plan.model.name!r} does not know ({', '.join(match.data_only)})")
    timings["load_data"] = time.perf_counter() - stage
    outcome.data_summary = {
        "description": data.description, "labelled": data.labelled, "train": int(len(data.train.y)),
        "val": int(len(data.val.y)), "test": int(len(data.test.y)),
        "skipped": len(data.skipped), "skipped_files": [f"{f}: {why}" for f, why in data.skipped],
    }
    spec = plan.spec.train
    if spec is not None and spec.normalization and normalization is None:
        normalization = models.normalization_stats(
            preprocess(chunk) for chunk in data.train.chunks(STATS_CHUNK))
    if normalization is not None:
        preprocess = models.normalized(preprocess, normalization)

    timings["train"] = 0.0
    if plan.trains and cached is None:
        stage = time.perf_counter()
        progress.say(f"training for up to {spec.total_epochs} epochs on {len(data.train.y)} images")
        augment = augmentation_layers(spec.augmentation, plan.seed) if spec.augmentation else None
        with devices.strategy_scope():
            history, outcome.stages = train.train(model, data, spec, preprocess, augment, plan.seed,
                                                  progress.stage("training"))
        timings["train"] = time.perf_counter() - stage
        train.save_cache(cache_dir, model, history, {
            "experiment": plan.name, "seed": plan.seed, "train_seconds": timings["train"],
            "classes": classes, "stages": outcome.stages, "transfer": outcome.transfer,
            "normalization": normalization})
        outcome.cache["train_seconds"] = timings["train"]
    outcome.history = history
    outcome.cache.update({"key": plan.cache_key, "hit": cached is not None,
                          "dir": str(cache_dir) if cache_dir else None})
    outcome.model_summary = {"name": plan.model.name, "kind": plan.model.kind,
                             "input_shape": [height, width, channels], **models.count_params(model)}

    experiment_dir = stage_dir / "experiments" / plan.name
    ctx = AnalysisContext(experiment=plan.name, classes=classes, model=model, data=data,
                          preprocess=preprocess, history=history,
                          figure_dir=experiment_dir / "figures", seed=plan.seed, languages=languages,
                          train=plan.spec.train, stages=outcome.stages)
    stage = time.perf_counter()
    ctx.test_probabilities  # noqa: B018 - computed once here so its time is its own line
    evaluate.require_finite_predictions(ctx.test_probabilities, model, plan.model.name, plan.trains)
    if data.labelled:  # the divergence check, read by training_curves and the Discussion
        ctx.evaluation["training_check"] = evaluate.training_check(history, len(classes), data.val.y)
    outcome.evaluation = ctx.evaluation if data.labelled else {}
    timings["predict"] = time.perf_counter() - stage
    stage, repeats = time.perf_counter(), Repeats()
    if len(plan.seeds) > 1:
        repeats = run_repeats(plan, data, classes, preprocess, normalization, out_dir, force, progress,
                              lambda seed: _fresh_model(plan, classes, base_dir, out_dir, progress, seed)[0],
                              _trusts_code(plan))
        ctx.repeat_histories, timings["repeats"] = repeats.histories, time.perf_counter() - stage
    write_predictions(experiment_dir, ctx.y_true, ctx.y_pred, ctx.test_probabilities,
                      *([np.stack([ctx.y_pred, *repeats.y_pred]), plan.seeds] if repeats.runs else []))
    # Every run's model is cached by now: their weights' hashes are part of every result's key.
    keys = result_keys(plan, out_dir)
    outcome.cache["results_key"] = keys.evaluation if keys is not None else None
    outcome.analyses = _run_analyses(ctx, planned_analyses(plan, keys, languages),
                                     results_cache(out_dir), force, progress)
    if data.labelled:  # in the record and the cached evaluation entry, not in the analyses' input
        first = run_scores(plan.seed, ctx.y_true, ctx.y_pred, classes, history,
                           outcome.cache.get("train_seconds"), cached is not None)
        outcome.evaluation = {**outcome.evaluation,
                              "repeats": summary([first, *repeats.runs]) if repeats.runs else None,
                              "test_set": tested_images(plan.dataset, list(plan.data_files), plan.seed,
                                                        np.asarray(classes)[ctx.y_true].tolist())}
    timings["analyses"] = {a.name: a.seconds for a in outcome.analyses}
    timings["total"] = time.perf_counter() - start
    return outcome


def _fresh_model(plan: ExperimentPlan, classes: list[str], base_dir: Path, out_dir: Path,
                 progress: Progress, seed: int) -> tuple[Any, dict[str, Any]]:
    """The untrained model of a run with training seed ``seed`` (after ``seed_everything``): built
    from the model table, or the parent's for a chain; and the transfer record."""
    if plan.parents:
        return _model_from_parent(plan, classes, base_dir, out_dir, progress, seed)
    from reportgen.run import models

    return models.build_model(plan.model, len(classes), base_dir), {}


def _model_from_parent(plan: ExperimentPlan, classes: list[str], base_dir: Path, out_dir: Path,
                       progress: Progress, seed: int) -> tuple[Any, dict[str, Any]]:
    """The parent's trained model (or model file), re-headed for this experiment's classes."""
    from reportgen.run import models, train
    from reportgen.run.classes import dataset_aliases, experiment_classes, parent_names_in_child_spelling
    from reportgen.run.transfer import kept_classes, rehead, shared_classes

    parent = plan.parents[0]
    if plan.parent_key is not None:
        cached = train.load_cached(trained_model_dir(out_dir, parent, plan.parent_key), _trusts_code(plan))
        if cached is None:
            raise ModelError(f"init_from: no trained model of {parent!r} in the cache; it must "
                             "finish first (build without --only, or with --only including it)")
        model, _, meta = cached
        parent_classes = list(meta.get("classes") or [])
    else:  # the parent evaluates a model file as it is
        parent_classes = experiment_classes(plan.parent_dataset, plan.model, base_dir)
        model = models.build_model(plan.model, len(parent_classes), base_dir)
    aliases = dataset_aliases(plan.dataset)
    shared = shared_classes(parent_classes, classes, aliases)
    # rehead carries output weights over by name: give it the parent's names in this dataset's
    # spelling, so alias-matched classes (angry → anger) keep what they learned.
    renamed = parent_names_in_child_spelling(parent_classes, classes, aliases)
    # Output weights carry over only from a Dense class layer (none from a convolution head).
    kept = kept_classes(model, renamed, classes)
    model = rehead(model, renamed, classes, seed)
    replaced = renamed != classes
    progress.say(f"starting from {parent!r}" + (f": new head for {len(classes)} classes, "
                                                f"{len(shared)} shared by name, {len(kept)} keep their "
                                                "output weights" if replaced else ""))
    return model, {"parent": parent, "parent_classes": parent_classes, "shared_classes": shared,
                   "kept_classes": kept, "head_replaced": replaced}


def _trusts_code(plan: ExperimentPlan) -> bool:
    """The model's file was allowed to run its own code (``trust_code``): so is its cached copy."""
    return bool(getattr(plan.model, "trust_code", False))


def _failed(plan: ExperimentPlan, exc: BaseException, stage_dir: Path, elapsed: float) -> ExperimentOutcome:
    log_dir = stage_dir / "experiments" / plan.name
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "error.log").write_text("".join(traceback.format_exception(exc)))
    message = str(exc) if isinstance(exc, ReportgenError) else f"{type(exc).__name__}: {exc}"
    return failed_outcome(plan, message, elapsed)


@dataclass(frozen=True)
class ExperimentJob:
    """Runs one planned experiment inside its error boundary (picklable, for executors)."""

    base_dir: Path
    out_dir: Path
    languages: list[str]
    force: bool
    stage_dir: Path
    """The build's generation folder (figures, predictions, error logs)."""

    def _reused(self, plan: ExperimentPlan, progress: Progress) -> ExperimentOutcome | None:
        """The whole experiment from the result cache, or None (then it runs)."""
        try:
            outcome = reused_outcome(plan, self.out_dir, self.stage_dir, self.languages)
        except Exception as exc:  # noqa: BLE001 - a damaged cache entry only costs recomputing
            progress.say(f"result cache unreadable ({type(exc).__name__}: {exc}); computing again")
            return None
        if outcome is not None:
            accuracy = outcome.evaluation.get("accuracy")
            progress.say("reused from the result cache: "
                         + ("training, " if plan.trains else "")
                         + f"evaluation and {len(outcome.analyses)} analyses"
                         + (f"; accuracy {accuracy:.4f}" if accuracy is not None else ""))
        return outcome

    def __call__(self, plan: ExperimentPlan, progress: Progress) -> ExperimentOutcome:
        from reportgen.run.devices import device_name, precision

        start = time.perf_counter()
        reused = None if self.force else self._reused(plan, progress)
        if reused is not None:
            return reused
        mixed = plan.spec.train is not None and plan.spec.train.mixed_precision
        try:
            with precision(mixed) as policy:
                outcome = run_experiment(plan, self.base_dir, self.out_dir, self.languages, self.force,
                                         progress, self.stage_dir)
            outcome.model_summary["dtype_policy"] = policy
            outcome.model_summary["device"] = device_name()
            try:
                store_evaluation(outcome, self.out_dir, self.stage_dir)
            except OSError as exc:
                progress.say(f"evaluation not kept in the result cache ({exc})")
            accuracy = outcome.evaluation.get("accuracy")
            progress.say(("done: " + (f"accuracy {accuracy:.4f}" if accuracy is not None
                                      else "inspected, no labels"))
                         + f" ({outcome.timings['total']:.1f} s)")
        except Exception as exc:  # noqa: BLE001 - recorded in the report and metrics.json
            outcome = _failed(plan, exc, self.stage_dir, time.perf_counter() - start)
            progress.say(f"FAILED: {outcome.error}")
        return outcome


def resolve_out_dir(manifest: Manifest, manifest_path: Path, out: Path | None) -> Path:
    if out is not None:
        return out.resolve()
    return (manifest_path.parent / manifest.report.output_dir).resolve()


class BuildInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a build; ``published`` says whether the new report set was
    already in place (else the previous one is untouched)."""

    def __init__(self, published: bool):
        super().__init__()
        self.published = published


def build(manifest_path: Path, out: Path | None = None, only: list[str] | None = None,
          force: bool = False, progress: Progress | None = None, executor: str = "local",
          address: str | None = None, compare_to: Path | None = None,
          fail_on_drop: float | None = None, wait: bool = False,
          fail_on_drop_any: float | None = None) -> BuildOutcome:
    """Build the whole report. Raises ConfigError (exit 2) before doing any work on bad input,
    OutputLocked (exit 2) when another build holds the output folder (unless ``wait``)."""
    progress = progress or Progress()
    build_start = time.perf_counter()
    manifest_path = Path(manifest_path).resolve()
    memo = CheckMemo(remember=True)
    manifest, notes = load_checked(manifest_path, Path(out).resolve() if out is not None else None,
                                   memo)
    base_dir = manifest_path.parent
    names = [e.name for e in manifest.experiments]
    only = selected_experiments(manifest, only)
    for option, value in (("--fail-on-drop", fail_on_drop), ("--fail-on-drop-any", fail_on_drop_any)):
        if value is not None and compare_to is None:
            raise ConfigError(option, ["needs --compare-to PREVIOUS/metrics.json (the run to compare "
                                       "with)"])
    out_dir = resolve_out_dir(manifest, manifest_path, out)
    if problems := output_problems(out_dir):
        raise ConfigError("--out" if out is not None else "report.output_dir", problems)
    for note in notes:
        progress.say(note)
    # Read now: the previous run's predictions may be in the folder this build replaces.
    gate = open_gate(compare_to, fail_on_drop, fail_on_drop_any) if compare_to is not None else None
    with output_lock(out_dir, wait):
        memo.flush()  # every input accepted: what the checks found is kept for the next build
        for pid in reap_orphaned_ray(out_dir):
            progress.say(f"stopped process {pid} of a local Ray a killed build left running")
        remove_stale_generations(out_dir)
        generation, stage_dir = new_generation(out_dir)
        try:
            # A build that fails or is interrupted before the publishing rename leaves nothing.
            with discard_unless_published(out_dir, stage_dir):
                progress.say(f"manifest {manifest_path.name}: {len(names)} experiments → {out_dir}")
                outcome = _build_generation(manifest, manifest_path, base_dir, out_dir, stage_dir,
                                            generation, only, force, progress, executor, address,
                                            gate, build_start)
                progress.say(f"publishing generation {generation}")
                publish(out_dir, stage_dir)
                return outcome
        except KeyboardInterrupt:
            raise BuildInterrupted(is_published(out_dir, stage_dir)) from None


def _build_generation(manifest: Manifest, manifest_path: Path, base_dir: Path, out_dir: Path,
                      stage_dir: Path, generation: str, only: list[str] | None, force: bool,
                      progress: Progress, executor: str, address: str | None,
                      gate: Gate | None, build_start: float) -> BuildOutcome:
    """Everything of one build written into its generation folder ``stage_dir``, unpublished."""
    plans = make_plan(manifest, base_dir, only)
    job = ExperimentJob(base_dir, out_dir, manifest.report.languages, force, stage_dir)
    outcomes = run_plans(plans, job, progress, executor=executor, address=address, state_dir=out_dir)

    env = collect_environment(computed_on(outcomes))
    records = [experiment_record(o, stage_dir) for o in outcomes]
    predictions = {r["name"]: p for r in records if r["status"] == "ok"
                   and (p := read_predictions(stage_dir / "experiments" / r["name"] / PREDICTIONS_FILE))}
    result = study(records, stage_dir / "comparison" / "figures", manifest.report.languages, gate,
                   predictions, env)
    for record in records:
        record["commentary"] = jsonable(result.commentary[record["name"]])
        write_record(stage_dir, record)
    sections = relative_paths(result.section_records(), stage_dir)
    write_json_atomic(stage_dir / STUDY_RECORD, sections)
    metrics = metrics_document(manifest.report.title.model_dump(by_alias=True), manifest_path,
                               records, sections, env, time.perf_counter() - build_start, generation)
    write_json_atomic(stage_dir / METRICS_FILE, metrics)
    progress.done("rendering " + " + ".join(manifest.report.formats))
    outputs, _ = render_outputs(manifest.report, stage_dir, base_dir, out_dir / "cache")
    published = [out_dir / path.name for path in [*outputs, stage_dir / METRICS_FILE]]
    return BuildOutcome(out_dir, published, outcomes, metrics, result.regressions)
