"""Shared fixtures: a valid base manifest that tests break one field at a time."""

from __future__ import annotations

import os
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


@pytest.fixture
def write_manifest(tmp_path: Path):
    """Write manifest text to tmp_path/experiments.toml and return its path."""

    def write(text: str, name: str = "experiments.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
