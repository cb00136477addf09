"""The environment of a build (reportgen.environment): what it records, the report's table in
every language, and what ``--compare-to`` says when it changed (reportgen.study.environment_changes)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from PIL import Image

from reportgen import __version__
from reportgen.environment import collect, cpu, gpus, lock_file
from reportgen.i18n import translate, translate_msg
from reportgen.predictions import RunPredictions
from reportgen.render import render_folder
from reportgen.study.changes import changes, open_gate
from tests.test_regression_gate import LARGE_BEFORE, LARGE_NOW, _record, _write_previous

RENDER_FIXTURE = Path(__file__).parent / "fixtures" / "render"
LANGUAGES = {"zh-TW": "zh-Hant-TW", "en": "en"}


def _installed(*names: str) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def test_versions_are_the_installed_distributions_and_tensorflow_stays_unimported():
    env = collect("CPU")
    assert env["reportgen"] == __version__ and env["python"] == platform.python_version()
    assert env["tensorflow"] == _installed("tensorflow-cpu", "tensorflow") is not None
    for key, distribution in [("keras", "keras"), ("numpy", "numpy"),
                              ("scikit_learn", "scikit-learn"), ("weasyprint", "weasyprint")]:
        assert env[key] == metadata.version(distribution), key
    assert env["cpu"]["cores"] == os.cpu_count() and env["device"] == "CPU"
    assert json.loads(json.dumps(env)) == env  # metrics.json takes it as is
    # Collected in a fresh process: TensorFlow is not imported for it.
    probe = ("import sys; from reportgen.environment import collect; collect('CPU'); "
             "print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    assert done.stdout.strip() == "False"


def test_lock_file_hash_is_the_sha256_of_the_installed_extras_lock(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\n", encoding="utf-8")
    assert lock_file(tmp_path, "cpu") is None  # an older checkout: no locks/
    (tmp_path / "locks").mkdir()
    content = b"numpy==2.4.6 \\\n    --hash=sha256:00ff\n"
    (tmp_path / "locks" / "cpu.txt").write_bytes(content)
    assert lock_file(tmp_path, "cpu") == {"file": "locks/cpu.txt",
                                          "sha256": hashlib.sha256(content).hexdigest()}
    assert lock_file(tmp_path, "gpu") is None
    (tmp_path / "pyproject.toml").unlink()  # installed from a wheel: no repository around it
    assert lock_file(tmp_path, "cpu") is None
    # This checkout: the lock of the extra TensorFlow came from, when the checkout has it.
    root = Path(__file__).resolve().parent.parent
    extra = "cpu" if _installed("tensorflow-cpu") else "gpu"
    lock = root / "locks" / f"{extra}.txt"
    expected = hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None
    assert (collect("CPU")["lock"] or {}).get("sha256") == expected


def test_cpu_model_and_gpus_from_the_system_tools(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) "
                       "Gold 6230 CPU @ 2.10GHz\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) "
                       "Gold 6230 CPU @ 2.10GHz\n", encoding="utf-8")
    assert cpu(cpuinfo) == {"model": "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz", "cores": os.cpu_count()}
    # nvidia-smi -L's format, from a stand-in on PATH; none on PATH: no GPU detected.
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-1a2b)'\n"
                   "echo 'GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-3c4d)'\n", encoding="utf-8")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(smi.parent))
    assert gpus() == ["NVIDIA A100-SXM4-40GB", "NVIDIA A100-SXM4-40GB"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert gpus() == []


def _render(tmp_path: Path, environment: dict | None) -> BeautifulSoup:
    """tests/fixtures/render (a build's records, html only) rendered, its environment replaced
    unless None (then as the fixture has it: an older build's few entries)."""
    out = tmp_path / "out"
    shutil.copytree(RENDER_FIXTURE, out)
    figure = out / "experiments" / "faces" / "figures" / "cm.png"
    figure.parent.mkdir(parents=True)
    Image.new("RGB", (6, 4), (200, 10, 10)).save(figure)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    metrics["manifest"] = str(out / "experiments.toml")
    if environment is not None:
        metrics["environment"] = environment
    (out / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    render_folder(out)
    return BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")


def _cell_texts(cell) -> set[str]:
    """A cell's text in each report language (one span per distinct text), or its plain text."""
    spans = cell.select("span.l")
    return {s.get_text() for s in spans} if spans else {cell.get_text(strip=True)}


def _expected(msgid: str, params: dict | None = None, plural: str | None = None) -> set[str]:
    return {translate(msgid, language, params, plural) for language in LANGUAGES}


def test_the_environment_table_ends_the_report_in_both_languages(tmp_path):
    env = {**collect("CPU"), "lock": {"file": "locks/cpu.txt", "sha256": "9f" * 32},
           "cpu": {"model": "AMD EPYC", "cores": 2}, "gpu": []}
    soup = _render(tmp_path, env)
    table = soup.select("table.environment")[-1]
    assert table is soup.select("table")[-1]  # the last table of the report
    caption = table.caption.select("span.l")
    assert {(s["lang"], s.get_text()) for s in caption} == {("zh-Hant-TW", "執行環境"), ("en", "Environment")}
    rows = [(row.th, row.td) for row in table.select("tr")]
    labels = [_cell_texts(th) for th, _ in rows]
    values = dict(zip([" ".join(sorted(t)) for t in labels], [td for _, td in rows]))
    for name, key in [("Keras", "keras"), ("NumPy", "numpy"), ("scikit-learn", "scikit_learn"),
                      ("WeasyPrint", "weasyprint"), ("TensorFlow", "tensorflow"), ("Python", "python")]:
        assert values[name].get_text(strip=True) == env[key], name
    lock_label = " ".join(sorted(_expected("Lock file")))
    assert values[lock_label].get_text(strip=True) == "locks/cpu.txt sha256:" + "9f" * 6
    assert _cell_texts(values["CPU"]) == _expected("{model}, {count} logical core",
                                                   {"model": "AMD EPYC", "count": 2},
                                                   "{model}, {count} logical cores")
    assert _cell_texts(values["GPU"]) == _expected("none detected")
    assert [lang for lang in LANGUAGES.values() if soup.select(f"table.environment span.l[lang='{lang}']")] \
        == list(LANGUAGES.values())

    # An older build's metrics.json (reportgen, Python, TensorFlow, Keras, device): the rest is —.
    old = _render(tmp_path / "old", None).select_one("table.environment")
    shown = {" ".join(sorted(_cell_texts(r.th))): r.td.get_text(strip=True) for r in old.select("tr")}
    assert shown["Keras"] == "3.15.0" and shown["NumPy"] == "—" and shown[lock_label] == "—"
    assert shown[" ".join(sorted(_expected("Computed on")))] == "CPU"


def _gate_against(tmp_path: Path, environment: dict | None):
    """A 2.8-point significant drop (test_regression_gate's large test set) judged by open_gate on
    a previous metrics.json whose environment is ``environment`` (None: none recorded)."""
    path = _write_previous(tmp_path, {"digits_plain": LARGE_BEFORE})
    if environment is not None:
        document = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps({**document, "environment": environment}), encoding="utf-8")
    gate = open_gate(path, fail_on_drop=2)
    now = {"digits_plain": _record(*LARGE_NOW)}
    predictions = {"digits_plain": RunPredictions(LARGE_NOW[0], LARGE_NOW[1], ())}
    return changes(gate.previous, now, gate.fail_on_drop, gate.source, predictions,
                   environment_before=gate.environment, environment_now=collect("CPU"))


def test_the_gate_names_what_changed_in_the_environment(tmp_path):
    current = collect("CPU")
    before = {**current, "keras": "3.15.0", "lock": {"file": "locks/cpu.txt", "sha256": "ab" * 32}}
    section, regressions = _gate_against(tmp_path, before)
    assert len(regressions) == 2  # accuracy and macro-F1, each with the clause
    assert regressions[0].startswith("digits_plain: accuracy dropped 2.8 points (0.8400 → 0.8120; "
                                     "McNemar p = ")
    lock_now = "locks/cpu.txt sha256:" + current["lock"]["sha256"][:12] if current["lock"] else "—"
    for line in regressions:
        assert line.endswith(f"); Keras 3.15.0 → {current['keras']} and the lock file locks/cpu.txt "
                             f"sha256:{'ab' * 6} → {lock_now} changed in between")
    metrics = section.result.metrics
    assert metrics["environment_changes"] == [
        {"entry": "keras", "previous": "3.15.0", "now": current["keras"]},
        {"entry": "lock", "previous": before["lock"], "now": current["lock"]}]
    note = translate_msg(section.result.notes[-1], "en")
    assert note == (f"Changed in the environment since the previous run: Keras 3.15.0 → "
                    f"{current['keras']}; the lock file locks/cpu.txt sha256:{'ab' * 6} → {lock_now}.")
    assert translate_msg(section.result.notes[-1], "zh-TW").count("→") == 2

    # The same environment: said once, and the regression line has nothing to add.
    section, regressions = _gate_against(tmp_path / "same", current)
    assert section.result.metrics["environment_changes"] == []
    assert all(line.endswith(")") and "in between" not in line for line in regressions)
    assert section.result.notes[-1].msgid.startswith("The environment is the same")


@pytest.mark.parametrize("previous", [None, {"reportgen": "0.1.0", "python": platform.python_version(),
                                             "tensorflow": None, "keras": None, "device": "CPU"}])
def test_an_older_previous_metrics_json_compares_what_it_recorded(tmp_path, previous):
    """No environment at all: nothing is said. An older build's few entries: only those are
    compared (here Keras and TensorFlow, recorded as not installed)."""
    section, regressions = _gate_against(tmp_path, previous)
    assert len(regressions) == 2
    changed = section.result.metrics["environment_changes"]
    notes = [translate_msg(n, "en") for n in section.result.notes]
    if previous is None:
        assert changed is None and not any("in between" in line for line in regressions)
        assert not any("environment" in n for n in notes)
    else:
        assert [c["entry"] for c in changed] == ["tensorflow", "keras"]
        assert regressions[0].endswith(f"; TensorFlow — → {collect('CPU')['tensorflow']} and Keras — → "
                                       f"{collect('CPU')['keras']} changed in between")
