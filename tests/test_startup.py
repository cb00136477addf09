"""Commands that need no TensorFlow never import it (it costs ~6 s and 700 MiB per process):
``--help``, ``list-analyses``, ``init``, ``validate`` of a manifest without model files (``render``:
tests/test_render.py; a rebuild with nothing changed: tests/test_result_cache.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import BASE_MANIFEST, ROOT


def _run(*args: str) -> tuple[int, list[str], str]:
    """``reportgen ARGS`` in a fresh interpreter: (exit code, heavy modules it loaded, output)."""
    code = ("import sys\nfrom reportgen.cli import main\n"
            f"sys.argv = ['reportgen', *{list(args)!r}]\ncode = 0\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code or 0\n"
            "print(code, sorted({m.split('.')[0] for m in sys.modules "
            "if m.split('.')[0] in ('tensorflow', 'keras', 'mtcnn', 'weasyprint')}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    exit_code, heavy = last.split(" ", 1)
    return int(exit_code), eval(heavy), done.stdout + done.stderr  # noqa: S307 - our own print


def _folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for name in ("cats", "dogs"):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{i}.png")
    return tmp_path / "images"


@pytest.mark.parametrize("args", [["--help"], ["list-analyses"], ["--version"]])
def test_informational_commands_import_no_tensorflow(args):
    code, heavy, output = _run(*args)
    assert code == 0, output
    assert heavy == []


def test_validate_without_model_files_imports_no_tensorflow(tmp_path):
    manifest = tmp_path / "experiments.toml"
    manifest.write_text(BASE_MANIFEST, encoding="utf-8")
    code, heavy, output = _run("validate", str(manifest))
    assert code == 0, output
    assert "ok" in output.lower()
    assert heavy == []


def test_init_imports_no_tensorflow(tmp_path):
    folder = _folder(tmp_path)
    code, heavy, output = _run("init", str(folder), "--output", str(tmp_path / "m.toml"))
    assert code == 0, output
    assert (tmp_path / "m.toml").is_file()
    assert heavy == []
