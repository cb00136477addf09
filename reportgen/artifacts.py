"""Writing outputs safely: temp file + rename, so readers see the old file or the new one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reportgen.strict_json import dumps_strict


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write next to ``path`` then rename over it: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json_atomic(path: Path, document: Any) -> Path:
    """Strict JSON (no ``NaN`` / ``Infinity``: they become null, with the reason under
    ``non_finite``; see :mod:`reportgen.strict_json`), written atomically."""
    return write_bytes_atomic(path, dumps_strict(document).encode())
