"""Benchmark the default build: cold (empty output folder) and warm (cached models).

Usage: python bench/build.py [MANIFEST]   — prints one JSON object:
wall seconds of both builds (TF start-up included), of ``reportgen render`` on the result
(render only: no TensorFlow), render seconds of HTML and PDF in-process, and the PDF's page
count and size.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pypdf import PdfReader


def _build(manifest: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "reportgen", "build", str(manifest), "--out", str(out), "-q"],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _render(out: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "reportgen", "render", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    from reportgen.config import load_manifest
    from reportgen.render import render_outputs

    manifest = Path(sys.argv[1] if len(sys.argv) > 1 else "experiments.toml").resolve()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cold = _build(manifest, out)
        warm = _build(manifest, out)
        render_only = _render(out)
        _, render = render_outputs(load_manifest(manifest).report, out, manifest.parent)
        metrics = json.loads((out / "metrics.json").read_text())
        pdf = out / "report.pdf"
        result = {
            "manifest": manifest.name,
            "cold_build_s": round(cold, 2),
            "warm_build_s": round(warm, 2),
            "render_command_s": round(render_only, 2),
            "render_html_s": round(render["html"], 2),
            "render_pdf_s": round(render.get("pdf", 0.0), 2),
            "pdf_pages": len(PdfReader(pdf).pages),
            "pdf_bytes": pdf.stat().st_size,
            "html_bytes": (out / "report.html").stat().st_size,
            "experiments": {name: {"status": e["status"], "accuracy": e["accuracy"]}
                            for name, e in metrics["experiments"].items()},
            "device": metrics["environment"]["device"],
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
