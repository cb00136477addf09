"""Choosing which test images the explanation panels show, the same way in every analysis."""

from __future__ import annotations

import numpy as np

from reportgen.analyses.base import AnalysisContext


def one_per_class(ctx: AnalysisContext, limit: int) -> np.ndarray:
    """Test indices: on labelled data one correctly classified image per class (any image of
    the class if none is correct), seeded; on unlabelled data the first ``limit`` images."""
    if not ctx.labelled:
        return np.arange(min(limit, len(ctx.images)))
    rng = np.random.default_rng(ctx.seed)
    chosen = []
    for c in range(len(ctx.classes)):
        of_class = np.flatnonzero(ctx.y_true == c)
        correct = of_class[ctx.y_pred[of_class] == c]
        pool = correct if len(correct) else of_class
        if len(pool):
            chosen.append(int(rng.choice(pool)))
        if len(chosen) == limit:
            break
    return np.array(chosen, dtype=int)


def target_classes(ctx: AnalysisContext, indices: np.ndarray, use_truth: bool = False) -> np.ndarray:
    """The class each panel explains: the prediction, or the true class when asked and known."""
    if use_truth and ctx.labelled:
        return ctx.y_true[indices]
    return ctx.y_pred[indices]


def caption(ctx: AnalysisContext, index: int, cls: int) -> str:
    """``happy 0.87`` — a class name and its predicted probability for one image."""
    return f"{ctx.classes[cls]} {ctx.test_probabilities[index, cls]:.2f}"


def chosen_examples(ctx: AnalysisContext, limit: int, use_truth: bool = False
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(test indices, the class each explains, their preprocessed model inputs)."""
    indices = one_per_class(ctx, limit)
    return indices, target_classes(ctx, indices, use_truth), ctx.preprocess(ctx.images[indices])
