"""Rendering: outcomes → view model → HTML (Jinja) → PDF (WeasyPrint), each written atomically."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.artifacts import write_bytes_atomic
from reportgen.outcomes import ExperimentOutcome

if TYPE_CHECKING:
    from reportgen.config.schema import Manifest


def render_outputs(manifest: Manifest, outcomes: list[ExperimentOutcome], env: dict[str, Any],
                   out_dir: Path, comparisons: list | None = None,
                   base_dir: Path | None = None) -> tuple[list[Path], dict[str, float]]:
    """Write report.html and/or report.pdf; returns their paths and seconds spent on each."""
    from reportgen.render.context import report_view
    from reportgen.render.html import render_html

    formats = manifest.report.formats
    view = report_view(manifest, outcomes, env, comparisons or [], base_dir)
    outputs, timings = [], {}
    start = time.perf_counter()
    html = render_html(view, medium="screen")
    if "html" in formats:
        outputs.append(write_bytes_atomic(out_dir / "report.html", html.encode("utf-8")))
    timings["html"] = time.perf_counter() - start
    if "pdf" in formats:
        from reportgen.render.pdf import html_to_pdf

        start = time.perf_counter()
        pdf = html_to_pdf(render_html(view, medium="print"), out_dir / "cache" / "fonts")
        outputs.append(write_bytes_atomic(out_dir / "report.pdf", pdf))
        timings["pdf"] = time.perf_counter() - start
    return outputs, timings
