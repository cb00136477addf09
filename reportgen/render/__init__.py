"""Rendering: records → view model → HTML (Jinja) → PDF (WeasyPrint), each written atomically.

Reads only what a build wrote (``metrics.json``, ``comparison/record.json``, the figures) and the
manifest's ``[report]`` header: no TensorFlow, no model, no dataset.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.artifacts import write_bytes_atomic
from reportgen.errors import RenderError
from reportgen.records import METRICS_FILE, STUDY_RECORD, read_json

if TYPE_CHECKING:
    from reportgen.config.schema import ReportSpec


def render_outputs(report: ReportSpec, out_dir: Path, base_dir: Path,
                   cache_dir: Path | None = None) -> tuple[list[Path], dict[str, float]]:
    """Write report.html and/or report.pdf from the records in ``out_dir`` (a generation
    folder, see reportgen.publish); returns their paths and the seconds spent on each.
    ``base_dir`` resolves the questions' answer files; the PDF's font subset is cached under
    ``cache_dir`` (default ``out_dir/cache``)."""
    from reportgen.render.html import render_html
    from reportgen.render.view import report_view

    try:
        metrics = read_json(out_dir / METRICS_FILE)
        sections = read_json(out_dir / STUDY_RECORD)
    except (OSError, ValueError) as exc:
        raise RenderError(f"{out_dir} holds no complete build to render ({exc}); run "
                          "`reportgen build` first") from None
    view = report_view(report, metrics, sections, base_dir)
    outputs, timings = [], {}
    start = time.perf_counter()
    html = render_html(view, medium="screen", out_dir=out_dir)
    if "html" in report.formats:
        outputs.append(write_bytes_atomic(out_dir / "report.html", html.encode("utf-8")))
    timings["html"] = time.perf_counter() - start
    if "pdf" in report.formats:
        from reportgen.render.pdf import html_to_pdf

        start = time.perf_counter()
        fonts = (cache_dir or out_dir / "cache") / "fonts"
        pdf = html_to_pdf(render_html(view, medium="print", out_dir=out_dir), fonts)
        outputs.append(write_bytes_atomic(out_dir / "report.pdf", pdf))
        timings["pdf"] = time.perf_counter() - start
    return outputs, timings


def render_folder(out_dir: Path, manifest_path: Path | None = None, wait: bool = False) -> list[Path]:
    """``reportgen render OUT_DIR``: the report of a finished build drawn again from its records,
    with the ``[report]`` header of ``manifest_path`` (default: the manifest the build recorded),
    e.g. after editing a question's answer or the report's languages."""
    from reportgen.config import load_manifest
    from reportgen.publish import (
        copy_generation,
        current_generation,
        discard_unless_published,
        output_lock,
        publish,
    )

    out_dir = Path(out_dir).resolve()
    try:
        recorded = read_json(out_dir / METRICS_FILE).get("manifest")
    except FileNotFoundError:
        raise RenderError(f"OUT_DIR: {out_dir} has no {METRICS_FILE}: not the output folder of a "
                          "finished `reportgen build`") from None
    except (OSError, ValueError) as exc:
        raise RenderError(f"OUT_DIR: {out_dir / METRICS_FILE} is not readable: {exc}") from None
    path = Path(manifest_path or recorded or "")
    if not path.is_file():
        raise RenderError(f"--manifest: manifest {path} not found (the build recorded {recorded}); "
                          "give the manifest with --manifest")
    manifest = load_manifest(path)
    with output_lock(out_dir, wait):
        source = current_generation(out_dir)
        if source is None:  # an output folder written before generations existed
            outputs, _ = render_outputs(manifest.report, out_dir, path.resolve().parent)
            return outputs
        _, generation = copy_generation(out_dir, source)
        with discard_unless_published(out_dir, generation):
            outputs, _ = render_outputs(manifest.report, generation, path.resolve().parent,
                                        out_dir / "cache")
            publish(out_dir, generation)
    return [out_dir / p.name for p in outputs]
