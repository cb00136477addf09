"""Benchmark parts for Score-CAM, for bench/explain.py (same fer model, faces and classes).

``bench_scorecam(model, x, classes)`` returns the ``scorecam_*`` keys: reportgen's Score-CAM
(the masked inputs of all channels of all images in large compiled batches) vs the authors'
way, one eager forward pass per channel and image (Wang et al. 2020,
https://github.com/haofanwang/Score-CAM).  The baseline runs on the first images only: its
cost per image is constant.  Both sides must give the same maps.
"""

from __future__ import annotations

import time

import numpy as np


def _seconds(fn, *args, repeat: int = 1, **kwargs):
    """``(result, wall seconds per call)`` after one warm-up call (tracing, allocation)."""
    fn(*args, **kwargs)
    start = time.perf_counter()
    for _ in range(repeat):
        result = fn(*args, **kwargs)
    return result, (time.perf_counter() - start) / repeat


def scorecam_one_forward_per_channel(probe, x: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Score-CAM the plain way: an eager forward pass for every channel of every image."""
    import tensorflow as tf

    height, width = x.shape[1:3]
    maps = []
    for image, target in zip(x, classes):
        activations, _ = probe.model(image[None], training=False)
        up = tf.image.resize(activations, (height, width))[0]
        weights = []
        for k in range(up.shape[-1]):
            channel = up[:, :, k]
            low, high = tf.reduce_min(channel), tf.reduce_max(channel)
            mask = tf.math.divide_no_nan(channel - low, high - low)
            _, scores = probe.model((image * mask[..., None])[None], training=False)
            weights.append(float(tf.nn.softmax(scores)[0, target]))
        cam = tf.nn.relu(tf.reduce_sum(activations[0] * np.array(weights, np.float32), axis=-1))
        cam = tf.image.resize(cam[None, :, :, None], (height, width))[0, :, :, 0].numpy()
        maps.append(cam / cam.max() if cam.max() > 0 else cam)
    return np.stack(maps).astype(np.float32)


def bench_scorecam(model, x: np.ndarray, classes: np.ndarray, baseline_images: int = 8) -> dict:
    """``scorecam_*`` keys: images per second of both sides, their ratio and map agreement."""
    from reportgen.explain import build_probe
    from reportgen.explain.scorecam_maps import scorecam

    probe = build_probe(model)
    new_maps, new_s = _seconds(scorecam, probe, x, classes, repeat=3)
    few = slice(0, baseline_images)
    old_maps, old_s = _seconds(scorecam_one_forward_per_channel, probe, x[few], classes[few])
    new_rate, old_rate = len(x) / new_s, len(old_maps) / old_s
    return dict(scorecam_layer="/".join(probe.layer_path),
                scorecam_channels=int(probe.model.outputs[0].shape[-1]), scorecam_images=len(x),
                scorecam_old_images=len(old_maps), scorecam_new_images_per_s=new_rate,
                scorecam_old_images_per_s=old_rate, scorecam_speedup=new_rate / old_rate,
                scorecam_max_abs_difference=float(np.abs(new_maps[few] - old_maps).max()))
