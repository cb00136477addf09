"""The environment a build ran in: versions, lock file, CPU and GPU, for metrics.json, the report's
environment table and ``--compare-to`` (reportgen.study.environment_changes).

Read without importing what it describes: versions from package metadata (importing TensorFlow
costs seconds), the CPU from /proc/cpuinfo, GPUs from ``nvidia-smi -L`` when it is on PATH.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

from reportgen import __version__
from reportgen.i18n import plural_msg
from reportgen.report_types import Msg
from reportgen.versions import TENSORFLOW_DISTRIBUTIONS, installed_version

PACKAGES = {"tensorflow": TENSORFLOW_DISTRIBUTIONS, "keras": ("keras",), "numpy": ("numpy",),
            "scikit_learn": ("scikit-learn",), "weasyprint": ("weasyprint",)}
"""metrics.json key → the distributions that may provide it (the first installed one counts)."""
VERSION_LABELS = {"reportgen": "reportgen", "python": "Python", "tensorflow": "TensorFlow",
                  "keras": "Keras", "numpy": "NumPy", "scikit_learn": "scikit-learn",
                  "weasyprint": "WeasyPrint"}
"""The versioned entries in report order, with their names (proper names: not translated)."""
COMPARED = (*VERSION_LABELS, "lock", "cpu", "gpu")
"""The entries a comparison with a previous run checks for changes."""
SHOWN = (*COMPARED, "device")
"""The rows of the report's environment table, in order."""
LOCKS_DIR = "locks"
EXTRA_OF_TENSORFLOW = {"tensorflow-cpu": "cpu", "tensorflow": "gpu"}
"""Which extra of pyproject.toml installed TensorFlow, told by its distribution (``cpu`` pins
tensorflow-cpu, ``gpu`` tensorflow[and-cuda]): the extra names the lock file that was used."""
NONE = "—"


def versions() -> dict[str, str | None]:
    """reportgen's, Python's and each package's version (None when not installed)."""
    return {"reportgen": __version__, "python": platform.python_version(),
            **{key: installed_version(*names) for key, names in PACKAGES.items()}}


def installed_extra() -> str | None:
    """The extra TensorFlow came from (see EXTRA_OF_TENSORFLOW); None without TensorFlow."""
    return next((extra for name, extra in EXTRA_OF_TENSORFLOW.items() if installed_version(name)), None)


def lock_file(root: Path | None = None, extra: str | None = None) -> dict[str, str] | None:
    """``{"file": "locks/<extra>.txt", "sha256": …}`` of the lock file the installed extra was set
    up from, in the repository of the installed package; None when there is none (installed from
    a wheel: no repository around it; an older checkout: no locks/ folder)."""
    root = Path(__file__).resolve().parent.parent if root is None else root
    extra = installed_extra() if extra is None else extra
    if extra is None or not (root / "pyproject.toml").is_file():
        return None
    path = root / LOCKS_DIR / f"{extra}.txt"
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
    return {"file": f"{LOCKS_DIR}/{extra}.txt", "sha256": digest}


def cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """The CPU's model name (/proc/cpuinfo; elsewhere what ``platform`` says) and the logical
    cores the machine has."""
    model = None
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
                break
    except OSError:
        pass
    return {"model": model or platform.processor() or None, "cores": os.cpu_count()}


def gpus() -> list[str]:
    """The NVIDIA GPUs ``nvidia-smi -L`` lists (``GPU 0: NAME (UUID: …)`` → NAME); empty when it
    is not on PATH or fails. TensorFlow is not asked: importing it costs seconds."""
    command = shutil.which("nvidia-smi")
    if command is None:
        return []
    try:
        listed = subprocess.run([command, "-L"], capture_output=True, text=True, timeout=20,
                                check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.split(":", 1)[1].split(" (UUID", 1)[0].strip()
            for line in listed.splitlines() if line.startswith("GPU ") and ":" in line]


def collect(device: str) -> dict[str, Any]:
    """metrics.json's ``environment``: :func:`versions`, ``lock``, ``cpu``, ``gpu`` (names, empty
    when none was detected), ``device`` (what computed the results, from the caller) and the
    ``platform`` string."""
    return {**versions(), "lock": lock_file(), "cpu": cpu(), "gpu": gpus(), "device": device,
            "platform": platform.platform()}


def lock_text(lock: dict[str, Any] | None) -> str:
    """``locks/cpu.txt sha256:1a2b3c4d5e6f`` (the hash shortened: the report is read, the full one
    is in metrics.json)."""
    if not isinstance(lock, dict) or not isinstance(lock.get("sha256"), str):
        return NONE
    return f"{lock.get('file', LOCKS_DIR)} sha256:{lock['sha256'][:12]}"


def cpu_text(value: dict[str, Any] | None) -> Msg | str:
    if not isinstance(value, dict) or not value.get("model"):
        return NONE
    if not isinstance(value.get("cores"), int):
        return value["model"]
    return plural_msg("{model}, {count} logical core", "{model}, {count} logical cores",
                      {"model": value["model"], "count": int(value["cores"])})


def gpu_text(names: list[str] | None) -> Msg | str:
    if names is None or not isinstance(names, list):
        return NONE  # not recorded (an older build)
    return ", ".join(map(str, names)) if names else Msg("none detected")


def display(key: str, env: dict[str, Any]) -> Msg | str:
    """One entry of ``env`` as the report shows it (— when the build did not record it)."""
    value = env.get(key)
    if key == "lock":
        return lock_text(value)
    if key == "cpu":
        return cpu_text(value)
    if key == "gpu":
        return gpu_text(value)
    return NONE if value is None else str(value)


def label(key: str) -> Msg | str:
    """An entry's name: a package's own name, else a translated label."""
    return VERSION_LABELS.get(key) or {"lock": Msg("Lock file"), "cpu": "CPU", "gpu": "GPU",
                                       "device": Msg("Computed on")}[key]



def environment_rows(env: dict[str, Any]) -> list[tuple[Msg | str, Msg | str]]:
    """The report's environment table: (label, value) per entry; an older build's metrics.json
    lacks some entries, shown as —."""
    return [(label(key), display(key, env)) for key in SHOWN]
