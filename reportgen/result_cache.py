"""The result cache: each experiment's evaluation and each analysis' result, stored under a key of
everything that determines it and reused when the key matches, so a rebuild with nothing
changed trains nothing, computes no analysis and never imports TensorFlow.

Keys (sha256, see :func:`evaluation_key`, :func:`analysis_key`):

- evaluation: the experiment's name (captions name it), its inputs (``plan.inputs_key``:
  dataset table and the size and modification time of its files, model table and files,
  training settings, seed, TensorFlow / Keras versions), the trained weights' sha256 (so a model
  trained again, which need not give the same weights, is analysed again; with seeded repeats
  every run's, so a change of ``repeats`` evaluates again) and reportgen's code fingerprint
  (version + source hash);
- analysis: the evaluation key (of the representative run's weights alone unless the analysis
  reads the repeats, see ``reuse.ResultKeys``), the analysis name, its validated parameters
  (defaults included) and the report languages (figure labels are drawn in them).

Layout under ``OUT/cache``: ``evaluations/<key>/`` (``experiment.json``: what the experiment's
record needs besides its analyses, and ``predictions.npz``) and ``analyses/<key>/``
(``result.json`` and its figures). Entries are written to a temporary folder and renamed into
place, so an interrupted build leaves either a whole entry or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from reportgen.predictions import PREDICTIONS_FILE
from reportgen.report_types import AnalysisResult, Figure, Msg, Table, from_jsonable, jsonable
from reportgen.versions import code_fingerprint

EVALUATIONS = "evaluations"
ANALYSES = "analyses"
EXPERIMENT_FILE = "experiment.json"
RESULT_FILE = "result.json"
WEIGHTS_FILE = "model.keras"
WEIGHTS_DIGEST_FILE = "weights.sha256"


def _hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def weights_digest(train_dir: Path) -> str | None:
    """sha256 of a cached trained model (None when there is none), remembered next to it for
    the file's size and modification time so a large model is hashed once."""
    model = train_dir / WEIGHTS_FILE
    try:
        stat = model.stat()
    except OSError:
        return None
    stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
    memo = train_dir / WEIGHTS_DIGEST_FILE
    try:
        saved_stamp, digest = memo.read_text().split()
        if saved_stamp == stamp:
            return digest
    except (OSError, ValueError):
        pass
    with model.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    try:
        memo.write_text(f"{stamp} {digest}\n")
    except OSError:
        pass  # a read-only cache only costs the hash next time
    return digest


def evaluation_key(experiment: str, inputs_key: str, weights: str | list[str] | None) -> str:
    """``weights``: the trained model's sha256, each seeded run's in seed order, or None for a
    model evaluated as loaded."""
    # The experiment's name too: captions and notes name it, so two experiments with the same
    # inputs never share a result.
    return _hash({"experiment": experiment, "inputs": inputs_key, "weights": weights,
                  "code": code_fingerprint()})


def analysis_key(evaluation: str, method: str, params: dict[str, Any], languages: list[str]) -> str:
    return _hash({"evaluation": evaluation, "method": method, "params": params,
                  "languages": languages})


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _dumps(document: Any) -> str:
    # Plain json (NaN kept as NaN): a reused value must equal the computed one exactly; the
    # record written from it is made strict as every record is (reportgen.strict_json).
    return json.dumps(document, ensure_ascii=False, default=_json_default)


def _store(folder: Path, files: dict[str, str], copies: dict[str, Path]) -> None:
    """Write ``files`` (name → text) and ``copies`` (name → source) into a temporary sibling of
    ``folder``, then rename it into place."""
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for name, source in copies.items():
            shutil.copyfile(source, tmp / name)
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _link(source: Path, target: Path) -> None:
    """``target`` with ``source``'s bytes: a hard link (no copy) when the file system allows."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


class ResultCache:
    """Cached evaluations and analysis results under ``cache_dir`` (``OUT/cache``)."""

    def __init__(self, cache_dir: Path) -> None:
        self.root = cache_dir

    def evaluation_dir(self, key: str) -> Path:
        return self.root / EVALUATIONS / key

    def analysis_dir(self, key: str) -> Path:
        return self.root / ANALYSES / key

    # evaluations -------------------------------------------------------------------------
    def store_evaluation(self, key: str, entry: dict[str, Any], predictions: Path) -> None:
        self.root.joinpath(EVALUATIONS).mkdir(parents=True, exist_ok=True)
        _store(self.evaluation_dir(key), {EXPERIMENT_FILE: _dumps(jsonable(entry))},
               {PREDICTIONS_FILE: predictions})

    def load_evaluation(self, key: str, experiment_dir: Path) -> dict[str, Any] | None:
        """The stored entry, its predictions linked into ``experiment_dir``; None on a miss."""
        folder = self.evaluation_dir(key)
        try:
            entry = json.loads((folder / EXPERIMENT_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not (folder / PREDICTIONS_FILE).is_file():
            return None
        _link(folder / PREDICTIONS_FILE, experiment_dir / PREDICTIONS_FILE)
        return entry

    # analyses ----------------------------------------------------------------------------
    def store_analysis(self, key: str, result: AnalysisResult, seconds: float) -> None:
        """``result`` with its figures (by file name; all live in one figure folder)."""
        document = jsonable(result)
        for figure in document["figures"]:
            figure["path"] = Path(figure["path"]).name
        document["seconds"] = seconds
        self.root.joinpath(ANALYSES).mkdir(parents=True, exist_ok=True)
        _store(self.analysis_dir(key), {RESULT_FILE: _dumps(document)},
               {Path(f.path).name: Path(f.path) for f in result.figures})

    def has_analysis(self, key: str) -> bool:
        return (self.analysis_dir(key) / RESULT_FILE).is_file()

    def load_analysis(self, key: str, figure_dir: Path) -> tuple[AnalysisResult, float] | None:
        """(result, seconds it took to compute) with its figures linked into ``figure_dir``."""
        folder = self.analysis_dir(key)
        try:
            document = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
            for figure in document["figures"]:
                _link(folder / figure["path"], figure_dir / figure["path"])
        except (OSError, ValueError, KeyError):
            return None
        return result_from_json(document, figure_dir), float(document.get("seconds", 0.0))


def result_from_json(document: dict[str, Any], figure_dir: Path) -> AnalysisResult:
    """The :class:`AnalysisResult` that :func:`jsonable` turned into ``document`` (figure paths
    by name, under ``figure_dir``)."""
    return AnalysisResult(
        metrics=from_jsonable(document["metrics"]),
        figures=[Figure(figure_dir / f["path"], Msg.from_json(f["caption"]), f["wide"], f["part"],
                        f["parts"], f["continued"]) for f in document["figures"]],
        tables=[Table(from_jsonable(t["columns"]), from_jsonable(t["rows"]),
                      from_jsonable(t["caption"]), t["css_class"]) for t in document["tables"]],
        notes=from_jsonable(document["notes"]),
    )
