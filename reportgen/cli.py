"""Command line: ``reportgen build``, ``render``, ``init``, ``validate`` and ``analyses``.

Exit codes: 0 all good; 1 the report was written but an experiment failed; 2 bad input
(manifest, files, options) — nothing was built; 3 the report was written but a metric regressed
against ``--compare-to`` (``--fail-on-drop`` / ``--fail-on-drop-any``); 130 interrupted (outputs
of the last good build are untouched).
"""

from __future__ import annotations

import os
import signal
import sys
from enum import StrEnum
from pathlib import Path

import typer

from reportgen import __version__
from reportgen.errors import ConfigError, ReportgenError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Turn a TOML manifest of image-classification experiments into a bilingual "
         "(Traditional Chinese + English) study report in HTML and PDF.")

EXIT_OK, EXIT_EXPERIMENT_FAILED, EXIT_BAD_INPUT, EXIT_REGRESSION, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class Executor(StrEnum):
    """Where experiments run (an Enum so typer rejects any other name); see reportgen.executors."""

    local = "local"
    ray = "ray"


def _fail(exc: ReportgenError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _quiet_tensorflow() -> None:
    # TF's C++ log lines (start-up banners, tf.data graph attribute notices) would drown the
    # progress lines; failures still surface as Python exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _interrupt_on_sigterm() -> None:
    """SIGTERM (a CI job cancelled, `kill`) stops a build the way Ctrl-C does: nothing half
    published, and a message that says so."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reportgen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                        help="Print the version and exit.")) -> None:
    """reportgen: experiments.toml → report.html + report.pdf + metrics.json."""


@app.command()
def build(
    manifest: Path = typer.Argument(..., help="The experiments manifest (TOML)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder; overrides "
                                       "[report].output_dir of the manifest."),
    only: list[str] | None = typer.Option(None, "--only", help="Run only this experiment "
                                             "(repeatable); the report then holds only these."),
    force: bool = typer.Option(False, "--force", help="Retrain every experiment even when a "
                               "cached model with the same settings exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output (bars or lines)."),
    executor: Executor = typer.Option(Executor.local, "--executor", help="local: one experiment "
                                      "after another in this process; ray: independent experiments "
                                      "in parallel as Ray tasks (pip install 'reportgen\\[ray]')."),
    address: str | None = typer.Option(None, "--address", envvar="RAY_ADDRESS",
                                          help="Ray cluster to use with --executor ray (e.g. "
                                          "ray://host:10001); default: start a local Ray."),
    compare_to: Path | None = typer.Option(None, "--compare-to", help="A previous run's "
                                              "metrics.json: adds a 'changes since the last run' "
                                              "section (accuracy and macro-F1 deltas, their 95% "
                                              "intervals and p-values; paired on the same test "
                                              "images when the previous run's predictions.npz "
                                              "files are beside it)."),
    fail_on_drop: float | None = typer.Option(None, "--fail-on-drop", min=0, help="With "
                                                 "--compare-to: exit 3 when an accuracy or macro-F1 "
                                                 "drops by more than this many points and the drop "
                                                 "is significant (not test-set noise)."),
    fail_on_drop_any: float | None = typer.Option(None, "--fail-on-drop-any", min=0, help="With "
                                                     "--compare-to: exit 3 when any accuracy or "
                                                     "macro-F1 drops by more than this many points, "
                                                     "significant or not."),
    wait: bool = typer.Option(False, "--wait", help="When another build or render is writing "
                              "the output folder, wait for it instead of exiting with code 2."),
) -> None:
    """Train or load every experiment, run its analyses and write the report.

    Progress goes to stderr: live bars on a terminal, timestamped lines elsewhere (CI logs).
    The output paths are printed at the end.
    """
    if fail_on_drop is not None and fail_on_drop_any is not None:
        _fail(ConfigError("--fail-on-drop", ["use --fail-on-drop (significant drops) or "
                                             "--fail-on-drop-any (any drop), not both"]))
    if fail_on_drop_any is not None and compare_to is None:
        _fail(ConfigError("--fail-on-drop-any", ["needs --compare-to PREVIOUS/metrics.json (the run "
                                                 "to compare with)"]))
    _quiet_tensorflow()
    from reportgen.checks import output_problems
    from reportgen.pipeline import BuildInterrupted
    from reportgen.pipeline import build as run_build
    from reportgen.progress import Progress

    if out is not None and (problems := output_problems(out)):
        _fail(ConfigError("--out", problems))
    _interrupt_on_sigterm()
    try:
        # The build's reporter for the long loops below it too (reportgen.progress.track); the
        # with-block ends its live display before the paths are printed.
        with Progress(quiet=quiet) as progress:
            outcome = run_build(manifest, out=out, only=only or None, force=force,
                                progress=progress, executor=executor.value, address=address,
                                compare_to=compare_to, fail_on_drop=fail_on_drop, wait=wait,
                                fail_on_drop_any=fail_on_drop_any)
    except ReportgenError as exc:
        _fail(exc)
    except KeyboardInterrupt as exc:
        published = isinstance(exc, BuildInterrupted) and exc.published
        typer.echo("interrupted: " + ("the new report was already published and is complete."
                                      if published else
                                      "finished experiments stay cached; the previous report (if "
                                      "any) is untouched and nothing of this build was published."),
                   err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    for path in outcome.outputs:
        typer.echo(str(path))
    if outcome.failed:
        typer.echo(f"error: {len(outcome.failed)} experiment(s) failed: {', '.join(outcome.failed)}; "
                   f"see the report and {outcome.out_dir / 'experiments'}/<name>/error.log", err=True)
        raise typer.Exit(EXIT_EXPERIMENT_FAILED)
    if outcome.regressions:
        drops = (f"significant drops of more than {fail_on_drop:g} points" if fail_on_drop is not None
                 else f"drops of more than {fail_on_drop_any:g} points")
        typer.echo(f"error: {len(outcome.regressions)} regression(s) against {compare_to} ({drops}): "
                   + "; ".join(outcome.regressions), err=True)
        raise typer.Exit(EXIT_REGRESSION)


@app.command()
def render(
    out_dir: Path = typer.Argument(..., help="The output folder of a finished build (it holds "
                                   "metrics.json)."),
    manifest: Path | None = typer.Option(None, "--manifest", "-m", help="Take the report header "
                                         "([report]: title, questions, answers, languages, formats) "
                                         "from this manifest; default: the one the build used."),
    wait: bool = typer.Option(False, "--wait", help="When a build is writing the output folder, "
                              "wait for it instead of exiting with code 2."),
) -> None:
    """Draw report.html / report.pdf again from a build's records, without training or
    TensorFlow: e.g. after editing a question's answer or switching `languages`."""
    from reportgen.render import render_folder

    try:
        outputs = render_folder(out_dir, manifest, wait)
    except ReportgenError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        typer.echo("interrupted: the previous report is untouched.", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    for path in outputs:
        typer.echo(str(path))


@app.command()
def init(
    folder: Path = typer.Argument(..., help="Your image folder: one sub-folder per class, or "
                                  "train/ and test/ each with one sub-folder per class."),
    output: Path = typer.Option(Path("experiments.toml"), "--output", "-o",
                                help="Where to write the manifest."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing manifest."),
) -> None:
    """Write a commented starter manifest (zh/en comments) for your own image folder."""
    from reportgen.init import starter_manifest

    try:
        if output.exists() and not force:
            raise ConfigError("init", [f"{output} exists; use --force to overwrite it"])
        text = starter_manifest(folder, output.resolve().parent)
    except ReportgenError as exc:
        _fail(exc)
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}; next: reportgen validate {output}")


@app.command()
def validate(manifest: Path = typer.Argument(..., help="The experiments manifest (TOML).")) -> None:
    """Check the manifest, its files and class lists without training anything."""
    _quiet_tensorflow()
    from reportgen.checks import load_checked

    try:
        parsed, notes = load_checked(manifest)
    except ReportgenError as exc:
        _fail(exc)
    for note in notes:
        typer.echo(note)
    typer.echo(f"{manifest}: OK — {len(parsed.datasets)} datasets, {len(parsed.models)} models, "
               f"{len(parsed.experiments)} experiments")


@app.command("list-analyses")
def list_analyses() -> None:
    """List the analysis methods a manifest can name."""
    from reportgen.analyses.registry import available

    for name, cls in available().items():
        typer.echo(f"{name:24s} {cls.title.msgid}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
