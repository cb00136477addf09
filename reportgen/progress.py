"""Progress lines on stderr: which experiment, which stage, which epoch."""

from __future__ import annotations

import sys
import time

from rich.console import Console


class Progress:
    """Prints ``[2/3] digits_aug · training · epoch 4/15: …`` lines with elapsed time."""

    def __init__(self, quiet: bool = False):
        self.console = Console(stderr=True, highlight=False, soft_wrap=True,
                               force_terminal=None if sys.stderr.isatty() else False)
        self.quiet = quiet
        self.start = time.perf_counter()
        self.prefix = ""

    def experiment(self, position: int, total: int, name: str) -> None:
        self.prefix = f"[{position}/{total}] {name}"
        self.say("start")

    def say(self, message: str) -> None:
        if not self.quiet:
            elapsed = time.perf_counter() - self.start
            head = f"{self.prefix} · " if self.prefix else ""
            self.console.print(f"{elapsed:7.1f}s {head}{message}", markup=False)

    def stage(self, stage: str):
        """A callable that prefixes messages with ``stage`` (handed to training as its reporter)."""
        return lambda message: self.say(f"{stage} · {message}")

    def done(self, message: str) -> None:
        self.prefix = ""
        self.say(message)


_CURRENT: Progress | None = None
"""The build's progress reporter; ``track`` reports through it (none outside a build)."""


def set_current(progress: Progress | None) -> None:
    global _CURRENT
    _CURRENT = progress


def track(items, description: str, total: int | None = None, unit: str = "items"):
    """Yield ``items`` while the current build reports how far it got (files/s etc.).

    Code below ``run/`` uses this instead of taking a reporter argument; outside a build (tests,
    benchmarks) it only yields.
    """
    # Stub: the progress issue replaces this with a rich bar / timestamped lines.
    yield from items
