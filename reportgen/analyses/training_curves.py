"""Training curves: accuracy and loss per epoch, train vs validation; with seeded repeats the
mean over the seeds with a ± 1 standard deviation band."""

from __future__ import annotations

from typing import Any

import numpy as np

from reportgen import figures, figures_seeds
from reportgen.analyses._sentences import training_warnings
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Figure, Msg, NoParams
from reportgen.analyses.registry import register
from reportgen.run.evaluate import best_epoch as lowest_val_loss_epoch
from reportgen.run.evaluate import training_check

CURVES = ("accuracy", "val_accuracy", "loss", "val_loss")


def seed_band(histories: list[dict[str, list[float]]], key: str) -> dict[str, list[float | None]] | None:
    """Per epoch over the runs still training at that epoch (early stopping ends runs at
    different epochs): ``runs``, ``mean``, ``sd`` (ddof = 1) and the band ``low``/``high`` = mean
    ∓ sd; sd and the band are None where one run is left. None when a run lacks ``key``."""
    series = [np.asarray(h.get(key) or [], dtype=float) for h in histories]
    if not series or any(len(s) == 0 for s in series):
        return None
    padded = np.full((len(series), max(len(s) for s in series)), np.nan)
    for row, values in zip(padded, series):
        row[:len(values)] = values
    running = (~np.isnan(padded)).sum(axis=0)
    mean = np.nansum(padded, axis=0) / running
    squares = np.nansum((padded - mean) ** 2, axis=0)
    sd = np.sqrt(np.divide(squares, running - 1, out=np.full_like(mean, np.nan), where=running > 1))

    def listed(values: np.ndarray) -> list[float | None]:
        return [None if np.isnan(v) else float(v) for v in values]

    return {"runs": running.astype(int).tolist(), "mean": listed(mean), "sd": listed(sd),
            "low": listed(mean - sd), "high": listed(mean + sd)}


@register
class TrainingCurves(Analysis):
    """Curves from the Keras history; the epoch with the lowest validation loss is marked. With
    seeded repeats: the mean over the seeds with a ± 1 sd band (see :func:`seed_band`)."""

    name = "training_curves"
    title = Msg("Training curves")
    reads_repeats = True

    def run(self, ctx: AnalysisContext, params: NoParams) -> AnalysisResult:
        history = ctx.history
        if not history or not history.get("loss"):
            return AnalysisResult(notes=[Msg("No training history: the model was evaluated as loaded.")])
        val_loss = history.get("val_loss") or []
        best_epoch = lowest_val_loss_epoch(val_loss)
        stage_of = [int(s) for s in history.get("stage", [])]
        starts = [e for e in range(1, len(stage_of)) if stage_of[e] != stage_of[e - 1]]
        names = [s.get("name", f"stage {k + 1}") for k, s in enumerate(ctx.stages)] if ctx.stages else []
        stage_starts = [(e + 1,
                         names[stage_of[e]] if stage_of[e] < len(names) else f"stage {stage_of[e] + 1}")
                        for e in starts]
        labels = dict(titles=(ctx.label("Accuracy"), ctx.label("Loss")), xlabel=ctx.label("Epoch"),
                      train_label=ctx.label("Training"), val_label=ctx.label("Validation"),
                      best_label=ctx.label("Lowest validation loss"), best_epoch=best_epoch,
                      stage_starts=stage_starts)
        # The divergence check the evaluation stores (and the Discussion reads); computed by the
        # same function from the same history and validation labels when it is absent.
        check = (ctx.evaluation.get("training_check") if ctx.labelled else None) \
            or training_check(history, len(ctx.classes), ctx.data.val.y)
        metrics = {"epochs_run": len(history["loss"]), "best_epoch": best_epoch,
                   "final": {k: float(v[-1]) for k, v in history.items() if v and k != "stage"},
                   "stage_starts": [e for e, _ in stage_starts], "training_check": check}
        notes = training_warnings({"training_check": check, "classes": ctx.classes})
        if stage_starts:
            last = [e for e in range(len(stage_of)) if stage_of[e] == stage_of[-1]]
            values = {"stages": len(set(stage_of)), "starts": ", ".join(str(e) for e, _ in stage_starts)}
            notes.append(Msg("Trained in {stages} stages; the dotted lines mark where a new stage "
                             "starts (epochs {starts}).", values))
            if ctx.train is not None and ctx.train.early_stopping and val_loss:
                best_last = last[lowest_val_loss_epoch([val_loss[e] for e in last]) - 1] + 1
                notes.append(Msg("Early stopping works per stage: the weights evaluated are those "
                                 "of epoch {epoch} ({val_loss}), the lowest validation loss of "
                                 "the last stage.", {"epoch": best_last,
                                                     "val_loss": f"{val_loss[best_last - 1]:.4f}"}))
        elif best_epoch is not None:
            values = {"best_epoch": best_epoch, "epochs": len(history["loss"]),
                      "val_loss": f"{val_loss[best_epoch - 1]:.4f}"}
            # Keras' EarlyStopping(restore_best_weights=True) restores the best epoch at the end
            # of training; without early stopping the last epoch's weights are evaluated.
            restored = ctx.train is not None and ctx.train.early_stopping
            if restored:
                notes.append(Msg("Validation loss was lowest at epoch {best_epoch} of {epochs} "
                                 "({val_loss}); early stopping restored those weights for "
                                 "evaluation.", values))
            else:
                notes.append(Msg("Validation loss was lowest at epoch {best_epoch} of {epochs} "
                                 "({val_loss}); the weights evaluated are those of the last "
                                 "epoch.", values))
        if ctx.repeat_histories:
            return _with_repeats(ctx, labels, metrics, notes)
        path = figures.training_curves(history, ctx.figure_path("training_curves"), **labels)
        return AnalysisResult(
            metrics=metrics,
            figures=[Figure(path, Msg("Accuracy (left) and loss (right) per epoch for {experiment}.",
                                      {"experiment": ctx.experiment}), wide=True)],
            notes=notes,
        )


def _with_repeats(ctx: AnalysisContext, labels: dict[str, Any], metrics: dict[str, Any],
                  notes: list[Msg]) -> AnalysisResult:
    """The mean curves with their band; the representative run's numbers and notes as without
    repeats (``metrics``, ``notes``), plus the band's numbers under ``repeats``."""
    histories = [ctx.history, *ctx.repeat_histories]
    seeds = [ctx.seed + r for r in range(len(histories))]
    bands = {key: band for key in CURVES if (band := seed_band(histories, key)) is not None}
    path = figures_seeds.training_curves_band(
        bands, ctx.figure_path("training_curves"),
        band_label=ctx.label("± 1 standard deviation"), **labels)
    epochs = [len(h.get("loss") or []) for h in histories]
    values = {"count": len(seeds), "seeds": ", ".join(map(str, seeds)), "seed": ctx.seed,
              "experiment": ctx.experiment}
    if len(set(epochs)) > 1:
        notes.append(Msg("The runs stopped at different epochs ({epochs} for seeds {seeds}); after "
                         "a run stops, the mean and band are over the runs still training (no "
                         "band where one run is left).",
                         {"epochs": ", ".join(map(str, epochs)), "seeds": values["seeds"]}))
    caption = Msg("Accuracy (left) and loss (right) per epoch for {experiment}: the mean over "
                  "{count} seeds ({seeds}), the shaded band ± 1 standard deviation across the "
                  "seeds; the dashed line marks the lowest validation loss of the seed {seed} "
                  "run (the one the other analyses show).", values)
    metrics = {**metrics,
               "repeats": {"seeds": seeds, "epochs_run": epochs, "band": "sd", "curves": bands}}
    return AnalysisResult(metrics=metrics, figures=[Figure(path, caption, wide=True)], notes=notes)

