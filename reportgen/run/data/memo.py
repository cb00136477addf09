"""One decode per dataset per build: loaded datasets kept in memory for the next experiment.

Keyed on everything that determines the arrays (the dataset table, size, channels, seed, base
folder, which splits) plus the size and modification time of every data file, so an edited
folder is read again. A test-only request is served from an entry holding all splits (the
test split is the same either way). Entries beyond a memory budget are dropped, oldest first.
The arrays handed out are read-only: several experiments share them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from reportgen.run.data.base import ImageSet, LoadedData, available_memory_bytes, resolve_path

MEMORY_SHARE = 0.25
"""Cached datasets may take at most this share of the memory available (at least MIN_BUDGET)."""
MIN_BUDGET = 256 << 20

PATH_FIELDS = ("path", "train_dir", "val_dir", "test_dir", "fer2013_path", "labels_file", "images_dir")

_CACHE: OrderedDict[tuple[str, frozenset[str]], LoadedData] = OrderedDict()
_LOCK = threading.Lock()


def data_paths(spec: Any, base_dir: Path) -> list[Path]:
    """Every file or folder a dataset table names (resolved against ``base_dir``)."""
    found = [getattr(spec, key, None) for key in PATH_FIELDS]
    labels = getattr(spec, "labels", None)
    found.append(getattr(labels, "file", None))
    return [resolve_path(base_dir, p) for p in found if p is not None]


def fingerprint(path: Path) -> str:
    """Size and modification time of a file, or of every file under a folder (by its path inside
    the folder, so a project moved elsewhere keeps its fingerprints and cache keys)."""
    if path.is_file():
        stat = path.stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"
    if path.is_dir():
        digest = hashlib.sha256()
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                try:
                    stat = os.stat(full)
                except OSError:
                    continue
                rel = os.path.relpath(full, path)
                digest.update(f"{rel}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()
    return "missing"


def memo_key(spec: Any, size: tuple[int, int], channels: int, seed: int, base_dir: Path) -> str:
    table = spec.model_dump(mode="json") if hasattr(spec, "model_dump") else repr(spec)
    files = {str(p): fingerprint(p) for p in data_paths(spec, base_dir)}
    blob = json.dumps([table, list(size), channels, seed, str(Path(base_dir).resolve()), files],
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def lookup(key: str, splits: frozenset[str]) -> LoadedData | None:
    """A fresh view of a cached dataset holding at least ``splits``, or None."""
    with _LOCK:
        for (k, held), data in _CACHE.items():
            if k == key and splits <= held:
                _CACHE.move_to_end((k, held))
                return _view(data, splits)
    return None


def store(key: str, splits: frozenset[str], data: LoadedData) -> LoadedData:
    """Cache ``data`` (its arrays made read-only) and return a view of it."""
    for part in (data.train, data.val, data.test):
        part.x.flags.writeable = False
        part.y.flags.writeable = False
    for extra in (data.source_index, data.face_index):
        if extra is not None:
            extra.flags.writeable = False
    size = _nbytes(data)
    budget = _budget()
    with _LOCK:
        _CACHE[(key, splits)] = data
        while len(_CACHE) > 1 and sum(_nbytes(d) for d in _CACHE.values()) > budget:
            _CACHE.popitem(last=False)
        if size > budget:  # too large to keep at all
            _CACHE.pop((key, splits), None)
    return _view(data, splits)


def clear() -> None:
    """Forget every cached dataset (tests; a long-running process between builds)."""
    with _LOCK:
        _CACHE.clear()


def _view(data: LoadedData, splits: frozenset[str]) -> LoadedData:
    """Shallow copies (callers may rebind attributes; the arrays themselves are read-only)."""
    def copy(part: ImageSet, name: str) -> ImageSet:
        if name not in splits and len(part):
            return ImageSet(x=part.x[:0], y=part.y[:0])
        return dataclasses.replace(part, files=None if part.files is None else list(part.files))

    return dataclasses.replace(
        data, train=copy(data.train, "train"), val=copy(data.val, "val"), test=copy(data.test, "test"),
        skipped=list(data.skipped), sources=list(data.sources))


def _nbytes(data: LoadedData) -> int:
    return sum(p.x.nbytes + p.y.nbytes for p in (data.train, data.val, data.test)) + sum(
        s.image.nbytes for s in data.sources)


def _budget() -> int:
    available = available_memory_bytes()
    return max(MIN_BUDGET, int(MEMORY_SHARE * available)) if available else MIN_BUDGET
