"""Report sets published whole or not at all, and one build per output folder at a time.

A build writes its whole set (``report.html``, ``report.pdf``, ``metrics.json``,
``experiments/``, ``comparison/``) into a fresh generation folder, ``OUT/.generations/<id>``.
``OUT/current`` is a symbolic link to the published generation, and the names a reader opens
(``OUT/report.html`` …) are fixed links through it (``report.html → current/report.html``).
Publishing is one ``rename`` of a new ``current`` link over the old one, so a reader, or a
build killed at any moment, sees the previous set or the new one, never a mix. The trained-model,
face-box and font caches stay in ``OUT/cache`` (their own writes are atomic).

The lock is an ``fcntl`` lock on ``OUT/.lock``: the kernel drops it when its process dies, so a
killed build never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from reportgen.errors import ReportgenError

GENERATIONS = ".generations"
CURRENT = "current"
PUBLISHED = ("report.html", "report.pdf", "metrics.json", "experiments", "comparison")
"""What a generation holds; ``OUT/<name>`` links to ``current/<name>``."""
LOCK = ".lock"


class OutputLocked(ReportgenError):
    """Another build or render holds the output folder (exit 2)."""


def new_generation(out_dir: Path) -> tuple[str, Path]:
    """A fresh, empty generation folder and its id (time of the build, then the process id)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    gen_id = f"{stamp}-{os.getpid()}"
    path = out_dir / GENERATIONS / gen_id
    path.mkdir(parents=True)
    return gen_id, path


def current_generation(out_dir: Path) -> Path | None:
    """The published generation's folder, or None before the first publish."""
    link = out_dir / CURRENT
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def _replace_with_link(path: Path, target: str) -> None:
    """``path`` becomes a link to ``target``, in one rename where ``path`` is a file or a link.
    A real folder (the layout before generations) is moved aside first, once."""
    if path.is_symlink() and os.readlink(path) == target:
        return
    if path.is_dir() and not path.is_symlink():
        path.rename(path.parent / GENERATIONS / f"old-{path.name}-{os.getpid()}")
    tmp = path.with_name(f".{path.name}.link-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, path)


def publish(out_dir: Path, generation: Path) -> None:
    """Make ``generation`` the published set (the one atomic step), then point the fixed names
    at it: a name this generation lacks (``report.pdf`` of an HTML-only build) is removed, so
    no file of an older build stays beside the new ones."""
    _replace_with_link(out_dir / CURRENT, os.path.relpath(generation, out_dir))
    for name in PUBLISHED:
        path = out_dir / name
        if (generation / name).exists():
            _replace_with_link(path, f"{CURRENT}/{name}")
        elif path.is_symlink() or path.is_file():
            path.unlink()
    remove_stale_generations(out_dir)


def is_published(out_dir: Path, generation: Path) -> bool:
    return current_generation(out_dir) == generation.resolve()


@contextlib.contextmanager
def discard_unless_published(out_dir: Path, generation: Path) -> Iterator[None]:
    """Around the work that fills ``generation``: if the block ends (error, interrupt) before
    ``generation`` was published, it is removed; a published one stays, whatever came after."""
    try:
        yield
    finally:
        if not is_published(out_dir, generation):
            shutil.rmtree(generation, ignore_errors=True)


def remove_stale_generations(out_dir: Path) -> None:
    """Every generation folder but the published one: sets of earlier builds, and the staging
    folders of builds that were killed or failed."""
    keep = current_generation(out_dir)
    root = out_dir / GENERATIONS
    if not root.is_dir():
        return
    for path in root.iterdir():
        if path.resolve() != keep:
            shutil.rmtree(path, ignore_errors=True)


def copy_generation(out_dir: Path, source: Path) -> tuple[str, Path]:
    """A new generation holding ``source``'s records and figures as hard links (no bytes
    copied), without its HTML and PDF: ``reportgen render`` draws those again."""
    gen_id, path = new_generation(out_dir)
    path.rmdir()
    shutil.copytree(source, path, copy_function=_link_or_copy,
                    ignore=lambda folder, names: [n for n in names if Path(folder) == source
                                                  and n in ("report.html", "report.pdf")])
    return gen_id, path


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copy2(source, target)


@contextlib.contextmanager
def output_lock(out_dir: Path, wait: bool = False) -> Iterator[None]:
    """Hold ``OUT/.lock`` for a build or render; another holder means exit 2 at once (or, with
    ``wait``, waiting for it)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    handle = (out_dir / LOCK).open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise OutputLocked(f"{out_dir} is in use by another reportgen build or render "
                               f"({holder}); wait for it to finish, or pass --wait to queue "
                               "behind it") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"PID {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        yield
    finally:
        handle.close()
