"""What a check found, remembered for the next build: a model file that loaded (no TensorFlow
import to check it again), the images per class and split a dataset would give (no data
library import, no label listing).

Kept in the output folder's cache (``OUT/cache/checks/<key>.json``), each under a key of what
the answer depends on (the table, the size and modification time of its files, the seed,
the TensorFlow / Keras versions and reportgen's code fingerprint), so a changed input is
checked again. ``validate`` reads these notes; ``build`` also writes them, once every input
has been accepted (so a folder is created in the output folder only for a build that runs).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from reportgen.versions import code_fingerprint, keras_version, tensorflow_version

CHECKS_DIR = "checks"
"""Under the output folder's cache."""


class CheckMemo:
    def __init__(self, folder: Path | None = None, remember: bool = False) -> None:
        self.folder, self.remembers = folder, remember
        self._pending: dict[str, Any] = {}

    def locate(self, folder: Path) -> None:
        """Keep the notes in ``folder`` unless a folder was given."""
        self.folder = self.folder or folder

    @staticmethod
    def key(kind: str, payload: Any) -> str:
        blob = json.dumps({"kind": kind, "payload": payload, "code": code_fingerprint(),
                           "versions": [tensorflow_version(), keras_version()]},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def get(self, key: str) -> Any | None:
        if key in self._pending:
            return self._pending[key]
        if self.folder is None:
            return None
        try:
            return json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: Any) -> None:
        self._pending[key] = value

    def flush(self) -> None:
        """Write what was found (when remembering); an unwritable folder only costs the check
        next time."""
        if self.folder is None or not self.remembers or not self._pending:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for key, value in self._pending.items():
                path = self.folder / f"{key}.json"
                tmp = path.with_name(f".{path.name}.tmp")
                tmp.write_text(json.dumps(value), encoding="utf-8")
                tmp.replace(path)
        except OSError:
            pass
        self._pending.clear()
