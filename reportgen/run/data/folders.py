"""Finding image files in folders: extensions, hidden entries, class sub-folders."""

from __future__ import annotations

import os
from pathlib import Path

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".gif", ".webp")
"""File endings read as images (Pillow decodes all of them); ``reportgen init`` uses the same."""


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def class_subfolders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not is_hidden(p.name))


def image_files(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively, hidden entries skipped), sorted by relative path."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not is_hidden(d)]
        for name in filenames:
            if not is_hidden(name) and name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())
