"""Fault injection: a report set is published whole or not at all.

A real build of a tiny manifest runs in a subprocess; when its progress reaches a stage
(training, analyses, rendering, publishing) it gets SIGKILL or SIGINT. Afterwards the output
folder must hold the previous set byte for byte, or the new set complete, and its HTML, PDF
and metrics.json must tell the same numbers of the same generation.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.conftest import TINY_STUDENT, run_reportgen, tiny_digits_cnn

pytestmark = pytest.mark.slow

MANIFEST = """\
[report]
title = { "zh-TW" = "故障測試", en = "Fault test" }
""" + TINY_STUDENT + """\
seed = 5
""" + tiny_digits_cnn(300) + """
[[experiments]]
name = "tiny"
dataset = "digits"
model = "cnn"
train = { epochs = 3, batch_size = 32 }
analyses = ["accuracy", "confusion_matrix", "classification_report", "training_curves"]
"""

STAGES = {"training": "training for up to", "analyses": "analysis accuracy",
          "render": "rendering html + pdf", "publish": "publishing generation"}
"""Progress line that marks each stage (reportgen.pipeline)."""
SET = ("report.html", "report.pdf", "metrics.json")


def _digest(out: Path) -> dict[str, str]:
    """Hash of every file of the published set (through the links), by relative path."""
    files = {}
    for name in (*SET, "experiments", "comparison"):
        root = out / name
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            files[str(path.relative_to(out))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def _consistent(out: Path) -> str:
    """The set's generation, after checking that HTML, PDF and metrics.json belong together."""
    metrics = json.loads((out / "metrics.json").read_text())
    generation = metrics["generation"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert f'content="reportgen-generation {generation}"' in html
    pdf = PdfReader(out / "report.pdf")
    assert pdf.metadata["/Keywords"] == f"reportgen-generation {generation}"
    accuracy = f"{metrics['experiments']['tiny']['accuracy']:.2%}"
    assert f"Test accuracy: {accuracy}" in html
    text = "\n".join(page.extract_text() or "" for page in pdf.pages)
    assert accuracy in text
    for figure in (out / "experiments" / "tiny" / "figures").iterdir():
        assert figure.stat().st_size > 0
    return generation


@pytest.fixture(scope="module")
def previous(tmp_path_factory):
    """A complete, published set to be protected, and its digest."""
    root = tmp_path_factory.mktemp("faults")
    manifest = root / "experiments.toml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    done = run_reportgen("build", manifest, "-o", root / "out")
    assert done.returncode == 0, done.stderr[-2000:]
    return {"root": root, "manifest": manifest, "digest": _digest(root / "out"),
            "generation": _consistent(root / "out")}


def _interrupted_build(manifest: Path, out: Path, marker: str, signum: int) -> subprocess.CompletedProcess:
    """Build (retraining: --force) and send ``signum`` once a progress line holds ``marker``."""
    process = subprocess.Popen([sys.executable, "-m", "reportgen", "build", str(manifest), "-o",
                                str(out), "--force"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    lines = []
    for line in process.stderr:
        lines.append(line)
        if marker in line:
            process.send_signal(signum)
            break
    stdout, rest = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout,
                                       "".join(lines) + rest)


# Ctrl-C (SIGINT) at every stage; SIGKILL where its outcome differs: before anything is
# published (training: the staging folder is left behind, any later stage is the same state)
# and while publishing. Each case is a real build with a TensorFlow start (~17 s).
FAULTS = [("training", signal.SIGKILL), ("publish", signal.SIGKILL)] + [
    (stage, signal.SIGINT) for stage in STAGES]


@pytest.mark.parametrize(("stage", "signum"), FAULTS,
                         ids=[f"{stage}-{'kill' if s == signal.SIGKILL else 'int'}" for stage, s in FAULTS])
def test_an_interrupted_build_leaves_one_whole_set(previous, tmp_path, stage, signum):
    out = tmp_path / "out"
    shutil.copytree(previous["root"] / "out", out, symlinks=True)
    done = _interrupted_build(previous["manifest"], out, STAGES[stage], signum)
    assert STAGES[stage] in done.stderr, done.stderr[-2000:]
    if _digest(out) == previous["digest"]:
        outcome = "previous"
        assert _consistent(out) == previous["generation"]
    else:
        outcome = "new"
        assert _consistent(out) != previous["generation"]
    if signum == signal.SIGINT:
        assert done.returncode == 130 and "Traceback" not in done.stderr
        # The message says which set is there.
        said_new = "already published" in done.stderr
        assert said_new == (outcome == "new"), done.stderr[-1000:]
    else:
        assert done.returncode == -signal.SIGKILL
    if stage in ("training", "analyses", "render"):  # nothing of the build is published yet
        assert outcome == "previous"
    print(f"fault matrix: {stage} × {signal.Signals(signum).name} → {outcome} set")
    if stage == "training" and signum == signal.SIGKILL:
        # The killed build's staging folder is left behind: the next build removes it and
        # publishes whole (once: every build costs a TensorFlow start).
        assert len(list((out / ".generations").iterdir())) == 2
        again = run_reportgen("build", previous["manifest"], "-o", out)
        assert again.returncode == 0, again.stderr[-2000:]
        _consistent(out)
        assert len(list((out / ".generations").iterdir())) == 1


def test_a_second_build_into_the_same_folder_is_refused(previous, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(previous["root"] / "out", out, symlinks=True)
    first = subprocess.Popen([sys.executable, "-m", "reportgen", "build", str(previous["manifest"]),
                              "-o", str(out), "--force"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    for line in first.stderr:
        if "training for up to" in line:
            break
    second = run_reportgen("build", previous["manifest"], "-o", out)
    first.communicate(timeout=300)
    assert first.returncode == 0
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert re.search(rf"{re.escape(str(out))} is in use by another reportgen build .*PID {first.pid}",
                     second.stderr), second.stderr
    _consistent(out)


def test_an_html_only_build_removes_the_old_pdf(previous, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(previous["root"] / "out", out, symlinks=True)
    manifest = tmp_path / "html_only.toml"
    manifest.write_text(MANIFEST.replace("[report]\n", '[report]\nformats = ["html"]\n', 1))
    done = run_reportgen("build", manifest, "-o", out)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (out / "report.pdf").exists() and not (out / "report.pdf").is_symlink()
    metrics = json.loads((out / "metrics.json").read_text())
    assert f"reportgen-generation {metrics['generation']}" in (out / "report.html").read_text()


def test_a_killed_ray_build_leaves_no_ray_behind(previous, tmp_path):
    """kill -9 of a `--executor ray` build leaves Ray's own processes running; the next build
    into the folder stops every one of them (reportgen.executors.reap_orphaned_ray)."""
    from reportgen.executors import RAY_SESSION, ray_session_processes

    out = tmp_path / "out"
    build = subprocess.Popen([sys.executable, "-m", "reportgen", "build", str(previous["manifest"]),
                              "-o", str(out), "--executor", "ray", "--force"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in build.stderr:
        if "Ray:" in line:
            break
    build.kill()
    build.communicate(timeout=60)
    session = (out / RAY_SESSION).read_text().strip()
    left = ray_session_processes(session)
    assert left, "the killed build's Ray should still be running before the next build"
    again = run_reportgen("build", previous["manifest"], "-o", out)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "a local Ray a killed build left running" in again.stderr
    assert not [pid for pid in left if _running(pid)]
    assert not (out / RAY_SESSION).exists()


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (a killed orphan may wait for a reaper as one)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"



def test_an_interrupt_after_the_publishing_rename_keeps_the_new_set(previous, tmp_path, monkeypatch):
    """Ctrl-C between the publishing rename and the clean-up: the new set stays published and
    complete, its folder is kept, and the interruption says so (BuildInterrupted.published)."""
    import reportgen.publish
    from reportgen.pipeline import BuildInterrupted, build

    out = tmp_path / "out"
    shutil.copytree(previous["root"] / "out", out, symlinks=True)

    def interrupted_clean_up(out_dir: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(reportgen.publish, "remove_stale_generations", interrupted_clean_up)
    with pytest.raises(BuildInterrupted) as caught:
        build(previous["manifest"], out=out, force=True)
    assert caught.value.published
    assert _consistent(out) != previous["generation"]
