"""Progress on stderr: which experiment, which stage, and how far a long loop got.

Three modes, chosen once per :class:`Progress`:

- a terminal: ``say`` lines plus a live rich display (bar, done/total, rate, ETA) for every open
  task (dataset decoding, batches of an epoch, prediction), erased when the task ends;
- not a terminal (CI logs, Ray workers, ``2> log``): the same ``say`` lines and, per task, at most
  one plain timestamped line every ``interval`` seconds (``decoding fer_test: 4,000/7,178 files,
  812 files/s``);
- ``quiet``: nothing at all.

A task that ran for ``interval`` seconds or more ends with one summary line in both modes, so a
log shows where the time went; shorter tasks leave no trace.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as Bars
from rich.text import Text

INTERVAL = 5.0
"""Seconds between two plain lines of one task (and the duration that earns a summary line)."""
BAR_UPDATE = 0.1
"""Seconds between two updates of a task's rich bar (per-file updates would cost more than they show)."""


def _speed(rate: float | None, unit: str) -> str:
    if not rate:
        return f"— {unit}/s"
    return f"{rate:,.1f} {unit}/s" if rate < 10 else f"{rate:,.0f} {unit}/s"


def _rate(done: float, seconds: float, unit: str) -> str:
    return _speed(done / seconds if seconds > 0 else None, unit)


class RateColumn(ProgressColumn):
    """Items per second in the task's own unit (rich's speed column only knows bytes)."""

    def render(self, task: Any) -> Text:
        return Text(_speed(task.finished_speed or task.speed, task.fields.get("unit", "items")))


class Task:
    """One loop being reported: ``advance`` it (from any thread), then ``close`` it."""

    def __init__(self, progress: Progress | None, description: str, total: int | None, unit: str,
                 summary: bool):
        self.progress, self.description, self.total, self.unit = progress, description, total, unit
        self.summary = summary
        self.done = 0
        self.note = ""
        self.start = self.last_line = time.perf_counter()
        self._lock = threading.Lock()
        self._bar_id: Any = None
        self.closed = False
        if progress is not None and not progress.quiet and progress.live:
            self._bar_id = progress._add_bar(self)

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def advance(self, count: int = 1, note: str | None = None) -> None:
        self.update(self.done + count, note)

    def update(self, done: int, note: str | None = None) -> None:
        """Set the number done (never moves back: batch callbacks may arrive out of order)."""
        progress = self.progress
        if progress is None or progress.quiet:
            return
        with self._lock:
            if self.closed or done < self.done:  # a late or out-of-order batch callback
                return
            self.done = done
            if note is not None:
                self.note = note
            now = time.perf_counter()
            if self._bar_id is not None:
                bars = progress._bars  # redrawn 4 times a second: no need to tell it more often
                if bars is not None and (now - self.last_line >= BAR_UPDATE or done == self.total):
                    self.last_line = now
                    bars.update(self._bar_id, completed=self.done, note=self.note)
                return
            if now - self.last_line < progress.interval:
                return
            self.last_line = now
            line = self.line(now)
        progress.say(line)

    def line(self, now: float) -> str:
        count = f"{self.done:,}/{self.total:,}" if self.total is not None else f"{self.done:,}"
        note = f", {self.note}" if self.note else ""
        rate = _rate(self.done, now - self.start, self.unit)
        return f"{self.description}: {count} {self.unit}, {rate}{note}"

    def close(self) -> None:
        progress = self.progress
        with self._lock:
            if self.closed:
                return
            self.closed = True
        if progress is None or progress.quiet:
            return
        if self._bar_id is not None:
            progress._remove_bar(self._bar_id, self.done, self.note)
            self._bar_id = None
        seconds = time.perf_counter() - self.start
        if self.summary and seconds >= progress.interval:
            progress.say(f"{self.description}: {self.done:,} {self.unit} in {seconds:.1f} s "
                         f"({_rate(self.done, seconds, self.unit)})")


class Progress:
    """Prints ``[2/3] digits_aug · training · epoch 4/15: …`` lines with elapsed time, and
    reports tasks (see the module docstring).

    Creating one makes it the current reporter of :func:`track` and :func:`task` (one build per
    process: the CLI's, or a Ray worker's); use it as a context manager to end its live display
    and unset it afterwards.
    """

    def __init__(self, quiet: bool = False, console: Console | None = None,
                 interval: float = INTERVAL):
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True,
                                          force_terminal=None if sys.stderr.isatty() else False)
        self.quiet = quiet
        self.interval = interval
        self.start = time.perf_counter()
        self.prefix = ""
        self._bars: Any = None  # rich.progress.Progress while a task is open on a terminal
        self._open = 0
        self._bars_lock = threading.Lock()
        set_current(self)

    @property
    def live(self) -> bool:
        """True on a terminal: tasks are drawn as rich bars instead of plain lines."""
        return self.console.is_terminal

    def __enter__(self) -> Progress:
        set_current(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._bars_lock:
            if self._bars is not None:
                self._bars.stop()
                self._bars, self._open = None, 0
        if _CURRENT is self:
            set_current(None)

    def experiment(self, position: int, total: int, name: str) -> None:
        self.prefix = f"[{position}/{total}] {name}"
        self.say("start")

    def say(self, message: str) -> None:
        if not self.quiet:
            elapsed = time.perf_counter() - self.start
            head = f"{self.prefix} · " if self.prefix else ""
            self.console.print(f"{elapsed:7.1f}s {head}{message}", markup=False, highlight=False)

    def stage(self, stage: str):
        """A callable that prefixes messages with ``stage`` (handed to training as its reporter)."""
        return lambda message: self.say(f"{stage} · {message}")

    def done(self, message: str) -> None:
        self.prefix = ""
        self.say(message)

    def task(self, description: str, total: int | None = None, unit: str = "items",
             summary: bool = True) -> Task:
        """A task to ``advance`` and ``close`` (see :func:`task` for the context-manager form)."""
        return Task(self, description, total, unit, summary)

    def track(self, items: Iterable, description: str, total: int | None = None,
              unit: str = "items") -> Iterator:
        if total is None and hasattr(items, "__len__"):
            total = len(items)  # type: ignore[arg-type]
        if self.quiet:
            yield from items
            return
        current = self.task(description, total, unit)
        try:
            for item in items:
                yield item
                current.advance()
        finally:
            current.close()

    def _add_bar(self, task: Task) -> Any:
        with self._bars_lock:
            if self._bars is None:
                self._bars = Bars(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  RateColumn(), TimeRemainingColumn(), TextColumn("{task.fields[note]}"),
                                  console=self.console, transient=True, refresh_per_second=4)
                self._bars.start()
            self._open += 1
            head = f"{self.prefix} · " if self.prefix else ""
            return self._bars.add_task(f"{head}{task.description}", total=task.total,
                                       unit=task.unit, note="")

    def _remove_bar(self, bar_id: Any, done: int, note: str) -> None:
        with self._bars_lock:
            if self._bars is None:
                return
            self._bars.update(bar_id, completed=done, note=note)
            self._bars.refresh()  # the finished count is drawn once before the row goes
            self._bars.remove_task(bar_id)
            self._open -= 1
            if self._open <= 0:
                self._bars.stop()
                self._bars, self._open = None, 0


_CURRENT: Progress | None = None
"""The build's progress reporter; ``track`` reports through it (none outside a build)."""


def set_current(progress: Progress | None) -> None:
    global _CURRENT
    _CURRENT = progress


def current() -> Progress | None:
    return _CURRENT


def track(items: Iterable, description: str, total: int | None = None, unit: str = "items") -> Iterator:
    """Yield ``items`` while the current build reports how far it got (files/s etc.).

    Code below ``run/`` uses this instead of taking a reporter argument; outside a build (tests,
    benchmarks) it only yields.
    """
    if _CURRENT is None:
        yield from items
    else:
        yield from _CURRENT.track(items, description, total, unit)


def task(description: str, total: int | None = None, unit: str = "items",
         summary: bool = True) -> Task:
    """``with task("predicting", total=n, unit="images") as t: … t.advance(len(batch))`` — reported
    through the current build's :class:`Progress`; a silent task outside a build. Without
    ``with``, call ``close()`` when done."""
    return Task(_CURRENT, description, total, unit, summary)
