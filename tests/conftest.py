"""Shared fixtures: a valid base manifest that tests break one field at a time."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent

BASE_MANIFEST = """\
[report]
title = { "zh-TW" = "測試報告", en = "Test report" }
author = "測試者"
student_id = "B00000000"
department = "資工系 / CSIE"
seed = 7

[[datasets]]
name = "digits"
kind = "digits"

[[models]]
name = "cnn"
kind = "cnn"
input_shape = [16, 16, 1]

[[experiments]]
name = "exp"
dataset = "digits"
model = "cnn"
train = { epochs = 2 }
"""


# The report header, digits subset and small CNN shared by the end-to-end, browser and Ray
# builds (trains in seconds); each adds its own title, report keys and experiments.
TINY_STUDENT = """\
author = "測試者"
student_id = "B09901001"
department = "電機系 二年級 / EE, year 2"
"""


def tiny_digits_cnn(max_samples: int = 500) -> str:
    return f"""
[[datasets]]
name = "digits"
kind = "digits"
max_samples = {max_samples}
split = {{ val = 0.2, test = 0.3 }}

[[models]]
name = "cnn"
kind = "cnn"
input_shape = [16, 16, 1]
conv_blocks = [{{ filters = 8 }}, {{ filters = 16 }}]
dense = [32]
"""


def run_reportgen(*args: str | Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python -m reportgen ARGS`` in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "reportgen", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def write_manifest(tmp_path: Path):
    """Write manifest text to tmp_path/experiments.toml and return its path."""

    def write(text: str, name: str = "experiments.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def run_cli(*args: str | Path) -> subprocess.CompletedProcess:
    """``reportgen ARGS`` in this process (typer's CliRunner): the exit code, stdout and stderr
    ``run_reportgen`` gives, without a fresh interpreter's ~7 s TensorFlow import.  An exception
    escaping the command is reported as Python would: its traceback on stderr, exit code 1.
    Keep ``run_reportgen`` for the tests of a user's real process (one per exit code)."""
    import traceback

    from typer.testing import CliRunner

    from reportgen.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    stderr, code = result.stderr, result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
        code = 1
    return subprocess.CompletedProcess(["reportgen", *map(str, args)], code, result.stdout, stderr)


def frameworks_loaded_by_build(manifest: Path) -> list[str]:
    """Build ``manifest`` in a fresh process, as a user runs it, and return the TensorFlow / Keras
    modules that build imported (none when every result is reused)."""
    script = ("import sys; from pathlib import Path; from reportgen.pipeline import build; "
              f"build(Path({str(manifest)!r}), progress=None); "
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])
