"""Decode speed of a 10,000-image folder (48×48 gray JPEGs in FER2013's test-folder layout, made
from scikit-image's real LFW faces, shifted so no two files are equal), and the cost of a second
load of the same dataset in one build (served by the in-process memo). Prints one JSON object.

usage: python bench/decode.py [FOLDER]   (FOLDER is created once; default /tmp/reportgen-decode-bench)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.data import lfw_subset

from reportgen.config.datasets import ImageFolderDataset
from reportgen.run.data import clear_memo, load_dataset

FILES = 10_000
CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def write_folder(root: Path) -> None:
    faces = np.rint(lfw_subset() * 255).astype(np.uint8)
    faces = np.stack([np.asarray(Image.fromarray(f).resize((48, 48), Image.Resampling.BILINEAR))
                      for f in faces])
    for k in range(FILES):
        folder = root / "test" / CLASSES[k % len(CLASSES)]
        folder.mkdir(parents=True, exist_ok=True)
        image = np.roll(faces[k % len(faces)], k // len(faces), axis=1)
        Image.fromarray(image).save(folder / f"PrivateTest_{k:05d}.jpg", quality=90)


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/reportgen-decode-bench")
    if not (root / "test").is_dir():
        write_folder(root)
    spec = ImageFolderDataset(kind="image_folder", name="decode_bench", test_dir=root / "test")
    result: dict = {"files": FILES}
    for size in ((48, 48), (96, 96)):
        times = []
        for _ in range(3):
            clear_memo()
            start = time.perf_counter()
            data = load_dataset(spec, size, 1, 0, Path("."), splits=("test",))
            times.append(time.perf_counter() - start)
        assert len(data.test) == FILES
        start = time.perf_counter()
        load_dataset(spec, size, 1, 0, Path("."), splits=("test",))
        result[f"{size[0]}x{size[1]}"] = {"images_per_s": round(FILES / min(times)),
                                          "seconds": [round(t, 2) for t in times],
                                          "second_load_s": round(time.perf_counter() - start, 3)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
