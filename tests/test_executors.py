"""The Ray executor: parents before children with a fake job, then a real two-experiment build on
a local Ray whose results must equal a local build's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from reportgen.executors import run_ray
from reportgen.pipeline import ExperimentOutcome
from reportgen.progress import Progress
from tests.conftest import TINY_STUDENT, run_cli, run_reportgen, tiny_digits_cnn

pytestmark = pytest.mark.slow

TWO = """\
[report]
title = { "zh-TW" = "Ray 測試報告", en = "Ray test report" }
""" + TINY_STUDENT + """\
seed = 3
""" + tiny_digits_cnn(max_samples=300) + """
[[experiments]]
name = "digits_a"
dataset = "digits"
model = "cnn"
train = { epochs = 2, batch_size = 32 }

[[experiments]]
name = "digits_b"
dataset = "digits"
model = "cnn"
train = { epochs = 2, batch_size = 16, learning_rate = 0.003 }
"""


@dataclass(frozen=True)
class FakePlan:
    name: str
    parents: tuple[str, ...] = ()


@dataclass(frozen=True)
class FakeJob:
    """Sleeps a little and records when it ran; fails for the names in ``fail``, kills its worker
    process for those in ``crash``."""

    fail: tuple[str, ...] = ()
    crash: tuple[str, ...] = ()

    def __call__(self, plan: FakePlan, progress: Progress) -> ExperimentOutcome:
        if plan.name in self.crash:
            os._exit(1)
        start = time.time()
        time.sleep(0.3)
        status = "failed" if plan.name in self.fail else "ok"
        return ExperimentOutcome(plan, status=status, timings={"start": start, "end": time.time()})


@pytest.fixture
def local_ray():
    import ray  # not importorskip: `make test` installs it, and CI must run these tests
    # Test classes are not importable in Ray's workers: ship them by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_runs_children_after_parents_and_skips_those_of_failed_ones(local_ray):
    plans = [FakePlan("a"), FakePlan("c"), FakePlan("x"), FakePlan("b", ("a",)), FakePlan("d", ("c",)),
             FakePlan("e", ("d",)), FakePlan("y", ("x",))]
    outcomes = run_ray(plans, FakeJob(fail=("c",), crash=("x",)), Progress(quiet=True))
    by_name = {o.plan.name: o for o in outcomes}
    assert [o.plan.name for o in outcomes] == ["a", "c", "x", "b", "d", "e", "y"]
    assert [o.status for o in outcomes] == ["ok", "failed", "failed", "ok", "failed", "failed", "failed"]
    assert by_name["b"].timings["start"] >= by_name["a"].timings["end"]
    assert by_name["d"].error.startswith("not run: experiment 'c'")
    assert by_name["e"].error.startswith("not run: experiment 'd'")
    assert by_name["x"].error.startswith("Ray task failed")  # its worker died: reported, not raised
    assert by_name["y"].error.startswith("not run: experiment 'x'")
    assert local_ray.is_initialized()  # a Ray it did not start is left running


def test_ray_missing_is_a_config_error(monkeypatch):
    from reportgen.errors import ConfigError

    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(ConfigError, match=r"pip install 'reportgen\[ray\]'"):
        run_ray([FakePlan("a")], FakeJob(), Progress(quiet=True))


def _build(manifest: Path, out: Path, executor: str) -> tuple[subprocess.CompletedProcess, float]:
    """The Ray build as a user runs it (its own process starts and stops its local Ray); the
    local one in this process (no second TensorFlow import), the same model either way."""
    start = time.perf_counter()
    run = run_reportgen if executor == "ray" else run_cli
    done = run("build", manifest, "--out", out, "--executor", executor, "-q")
    return done, time.perf_counter() - start


def test_ray_build_equals_local_build(tmp_path):
    manifest = tmp_path / "experiments.toml"
    manifest.write_text(TWO, encoding="utf-8")
    ray_run, ray_seconds = _build(manifest, tmp_path / "out", "ray")
    assert ray_run.returncode == 0, ray_run.stderr
    local_run, local_seconds = _build(manifest, tmp_path / "out_local", "local")
    assert local_run.returncode == 0, local_run.stderr
    print(f"build seconds: ray {ray_seconds:.1f}, local {local_seconds:.1f}")

    on_ray = json.loads((tmp_path / "out" / "metrics.json").read_text())["experiments"]
    local = json.loads((tmp_path / "out_local" / "metrics.json").read_text())["experiments"]
    for name in ("digits_a", "digits_b"):
        assert on_ray[name]["status"] == "ok"
        assert on_ray[name]["accuracy"] == pytest.approx(local[name]["accuracy"], abs=1e-6)
        # Same seed, same CPU ops: the very same model, not just the same accuracy.
        with (np.load(tmp_path / "out" / "experiments" / name / "predictions.npz") as a,
              np.load(tmp_path / "out_local" / "experiments" / name / "predictions.npz") as b):
            np.testing.assert_allclose(a["probabilities"], b["probabilities"], atol=1e-6)
    assert (tmp_path / "out" / "report.pdf").stat().st_size > 1000
