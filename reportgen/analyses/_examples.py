"""Choosing which test images the explanation panels show, the same way in every analysis."""

from __future__ import annotations

import numpy as np

from reportgen.analyses.base import AnalysisContext


def one_per_class(ctx: AnalysisContext, limit: int) -> np.ndarray:
    """Test indices: on labelled data one correctly classified image per class (any image of
    the class if none is correct), seeded; on unlabelled data the first ``limit`` images."""
    if not ctx.labelled:
        first = np.arange(min(limit, len(ctx.images)))
        faces = [face_of(ctx, i) for i in first]  # face crops in the order they are numbered
        return first[np.lexsort(([f.get("face", 0) for f in faces], ctx.data.source_index[first]))] \
            if any(faces) else first
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


def spread_examples(ctx: AnalysisContext, limit: int) -> np.ndarray:
    """Up to ``limit`` test indices for measures over many images: on labelled data taken in
    turn from each class (a seeded order within each class), so every class is represented;
    on unlabelled data the first ``limit`` images."""
    if not ctx.labelled:
        return np.arange(min(limit, len(ctx.images)))
    rng = np.random.default_rng(ctx.seed)
    pools = [list(rng.permutation(np.flatnonzero(ctx.y_true == c))) for c in range(len(ctx.classes))]
    chosen: list[int] = []
    while len(chosen) < limit and any(pools):
        for pool in pools:
            if pool and len(chosen) < limit:
                chosen.append(int(pool.pop(0)))
    return np.array(sorted(chosen), dtype=int)


def target_classes(ctx: AnalysisContext, indices: np.ndarray, use_truth: bool = False) -> np.ndarray:
    """The class each panel explains: the prediction, or the true class when asked and known."""
    if use_truth and ctx.labelled:
        return ctx.y_true[indices]
    return ctx.y_pred[indices]


def caption(ctx: AnalysisContext, index: int, cls: int) -> str:
    """``happy 0.87`` — a class name and its predicted probability for one image; a face crop's
    number (as on the face panel's photo) above it."""
    text = f"{ctx.classes[cls]} {ctx.test_probabilities[index, cls]:.2f}"
    return f"{image_name(ctx, index)}\n{text}" if face_of(ctx, index) else text


def chosen_examples(ctx: AnalysisContext, limit: int, use_truth: bool = False
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(test indices, the class each explains, their preprocessed model inputs)."""
    indices = one_per_class(ctx, limit)
    return indices, target_classes(ctx, indices, use_truth), ctx.preprocess(ctx.images[indices])


def face_numbers(faces: list) -> list[int]:
    """The number (1, 2, 3…) of each detected face in reading order: lines of faces top to
    bottom (a face starts a new line when its centre is more than half a face height below
    the line's first), left to right within a line. The face panel draws these numbers."""
    if not faces:
        return []
    x, y = np.array([face.center for face in faces], dtype=float).T
    step = 0.5 * float(np.median([face.box[3] for face in faces]))
    order = np.argsort(y, kind="stable")
    line, current, top = np.zeros(len(faces), int), 0, y[order[0]]
    for k in order:
        if y[k] - top > step:
            current, top = current + 1, y[k]
        line[k] = current
    numbers = np.empty(len(faces), int)
    numbers[np.lexsort((x, line))] = np.arange(1, len(faces) + 1)
    return numbers.tolist()


def face_of(ctx: AnalysisContext, index: int) -> dict:
    """``{"photo": name, "face": n}`` for a face crop of unlabelled data, n being the number the
    face panel draws on the photo (:func:`face_numbers`); ``{}`` for any other image."""
    data = ctx.data
    if data.labelled or data.face_index is None or data.face_index[index] < 0:
        return {}
    source = data.sources[int(data.source_index[index])]
    return {"photo": source.name, "face": face_numbers(source.faces)[int(data.face_index[index])]}


def image_name(ctx: AnalysisContext, index: int) -> str:
    """A short title naming an unlabelled image: ``人臉 2 / Face 2`` for a face crop (prefixed
    with its photo when there are several), else the photo's file name, else ``#index``."""
    data = ctx.data
    face = face_of(ctx, index)
    if face:
        label = ctx.label("Face {n}", n=face["face"])
        return label if len(data.sources) == 1 else f"{_short(face['photo'])}: {label}"
    if data.source_index is not None and len(data.sources) > int(data.source_index[index]):
        return _short(data.sources[int(data.source_index[index])].name)
    return f"#{index}"


def _short(name: str, limit: int = 18) -> str:
    """A photo name short enough for a panel title: the file name without folders/extension."""
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0] or name
    return stem if len(stem) <= limit else stem[: limit - 1] + "…"
