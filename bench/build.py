"""Benchmark the default build where users wait: cold, warm, warm with one option changed, render.

Usage: python bench/build.py [MANIFEST] [--change OLD NEW]   — prints one JSON object of wall
times in seconds, each measured in this run (process start, TensorFlow import included):

- ``cold_s``: build into an empty output folder (trains and computes everything);
- ``warm_s``: the same build again (nothing changed: every result comes from the cache);
- ``warm_one_option_changed_s``: the build with one analysis option changed (``--change``: the
  manifest text OLD replaced by NEW; default: the occlusion patch of the default manifest's
  face experiment, 4 → 5), so that analysis alone is computed; null when OLD is not found;
- ``render_s``: ``reportgen render OUT`` (HTML + PDF from the records, no TensorFlow);
- ``pdf_s``: the PDF alone, rendered in this process (``render_outputs``' own timing);
- ``help_s``: ``reportgen --help``;

plus the PDF's page count and size and each experiment's status and accuracy.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pypdf import PdfReader

DEFAULT_CHANGE = ('{ method = "occlusion", patch = 4 }', '{ method = "occlusion", patch = 5 }')


def _wall(*args: str | Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "reportgen", *map(str, args)], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _changed_manifest(manifest: Path, old: str, new: str) -> Path | None:
    """A copy of ``manifest`` beside it (relative paths still resolve) with OLD → NEW."""
    text = manifest.read_text(encoding="utf-8")
    if old not in text:
        return None
    copy = manifest.with_name(f".bench-{manifest.name}")
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


def main() -> None:
    from reportgen.config import load_manifest
    from reportgen.render import render_outputs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", nargs="?", default="experiments.toml")
    parser.add_argument("--change", nargs=2, metavar=("OLD", "NEW"), default=DEFAULT_CHANGE)
    args = parser.parse_args()
    manifest = Path(args.manifest).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cold = _wall("build", manifest, "--out", out, "-q")
        warm = _wall("build", manifest, "--out", out, "-q")
        changed = _changed_manifest(manifest, *args.change)
        try:
            one_option = _wall("build", changed, "--out", out, "-q") if changed else None
        finally:
            if changed:
                changed.unlink()
        _wall("build", manifest, "--out", out, "-q")  # back to the manifest's own report
        render = _wall("render", out, "--manifest", manifest)
        _, seconds = render_outputs(load_manifest(manifest).report, out, manifest.parent)
        help_s = _wall("--help")
        metrics = json.loads((out / "metrics.json").read_text())
        pdf = out / "report.pdf"
        result = {
            "manifest": manifest.name,
            "cold_s": round(cold, 2),
            "warm_s": round(warm, 2),
            "warm_one_option_changed_s": round(one_option, 2) if one_option is not None else None,
            "render_s": round(render, 2),
            "pdf_s": round(seconds.get("pdf", 0.0), 2),
            "html_s": round(seconds["html"], 2),
            "help_s": round(help_s, 2),
            "pdf_pages": len(PdfReader(pdf).pages),
            "pdf_bytes": pdf.stat().st_size,
            "html_bytes": (out / "report.html").stat().st_size,
            "experiments": {name: {"status": e["status"], "accuracy": e["accuracy"],
                                   "reused": e.get("reused")}
                            for name, e in metrics["experiments"].items()},
            "device": metrics["environment"]["device"],
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
