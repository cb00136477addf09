"""Benchmark face crops: MTCNN seconds per image (one call each vs batched) and the cache hit.

Usage: python bench/crops.py [N]   — prints one JSON object. N (default 32) JAFFE-like frames:
the astronaut's head in gray pasted at random places into a 256×256 gray canvas. Measures
``detect_faces`` per image, ``detect_faces_batch`` on all, and a second ``Cropper`` pass that
reads every box from the disk cache (hash + JSON read + crop).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image


def frames(n: int) -> list[np.ndarray]:
    from skimage.data import astronaut

    head = np.asarray(Image.fromarray(astronaut()).convert("L"))[30:200, 150:300]
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        canvas = np.full((256, 256), 118, np.uint8)
        x, y = int(rng.integers(0, 107)), int(rng.integers(0, 87))
        canvas[y : y + 170, x : x + 150] = head
        out.append(np.repeat(canvas[..., None], 3, axis=-1))
    return out


def main() -> None:
    from reportgen.run.data.crops import make_cropper
    from reportgen.run.faces import detect_faces, detect_faces_batch

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    images = frames(n)
    detect_faces(images[0])  # build the detector and trace its functions first
    start = time.perf_counter()
    single = [detect_faces(image) for image in images]
    one_by_one = (time.perf_counter() - start) / n
    start = time.perf_counter()
    batched = detect_faces_batch(images)
    in_batches = (time.perf_counter() - start) / n
    assert [len(f) for f in batched] == [len(f) for f in single]
    spec = SimpleNamespace(name="bench", face_crop=True)
    keys = [f"{k}.tiff" for k in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        make_cropper(spec, Path(tmp)).crop_many(images, keys)
        first = (time.perf_counter() - start) / n
        start = time.perf_counter()
        again = make_cropper(spec, Path(tmp))
        again.crop_many(images, keys)
        cached = (time.perf_counter() - start) / n
    print(json.dumps({
        "images": n, "faces_found": sum(bool(f) for f in batched),
        "detect_seconds_per_image_one_call_each": round(one_by_one, 4),
        "detect_seconds_per_image_batched": round(in_batches, 4),
        "crop_seconds_per_image_first_pass": round(first, 4),
        "crop_seconds_per_image_cache_hit": round(cached, 6),
        "second_pass_detected": again.finder.detected,
    }, indent=2))


if __name__ == "__main__":
    main()
