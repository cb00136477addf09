"""Training curves: accuracy and loss per epoch, train vs validation."""

from __future__ import annotations

from reportgen import figures
from reportgen.analyses._sentences import training_warnings
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Figure, Msg, NoParams
from reportgen.analyses.registry import register
from reportgen.run.evaluate import best_epoch as lowest_val_loss_epoch
from reportgen.run.evaluate import training_check


@register
class TrainingCurves(Analysis):
    """Curves from the Keras history; the epoch with the lowest validation loss is marked."""

    name = "training_curves"
    title = Msg("Training curves")

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
        path = figures.training_curves(
            history, ctx.figure_path("training_curves"),
            titles=(ctx.label("Accuracy"), ctx.label("Loss")), xlabel=ctx.label("Epoch"),
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
        return AnalysisResult(
            metrics=metrics,
            figures=[Figure(path, Msg("Accuracy (left) and loss (right) per epoch for {experiment}.",
                                      {"experiment": ctx.experiment}), wide=True)],
            notes=notes,
        )
