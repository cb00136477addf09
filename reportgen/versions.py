"""Versions of what computes the results, read without importing it.

Importing TensorFlow costs ~6 s and 700 MiB; a cache key only needs its version string, which
the installed distribution's metadata holds (``tensorflow-cpu`` on CPU machines, ``tensorflow``
elsewhere: both report the same ``tf.__version__``).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from reportgen import __version__

TENSORFLOW_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel",
                            "tf-nightly")


def installed_version(*distributions: str) -> str | None:
    """The version of the first of ``distributions`` that is installed."""
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def tensorflow_version() -> str | None:
    return installed_version(*TENSORFLOW_DISTRIBUTIONS)


def keras_version() -> str | None:
    return installed_version("keras")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """reportgen's version and a hash of the source that computes results (everything but the
    renderer), so an edited checkout never reuses what older code computed."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[0] != "render":
            digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"
