"""Where the shipped templates live: inside the wheel, or beside the package in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """``reportgen/templates`` in an installed wheel, ``templates/`` at the repository root otherwise."""
    for candidate in (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parent / "templates"):
        if (candidate / "report.html").exists():
            return candidate
    raise FileNotFoundError("reportgen's templates/ folder is missing from the installation")
