"""A one-line progress display on stderr, shown only on a terminal (never in pipes, logs or CI)."""

from __future__ import annotations

import sys
import time
from types import TracebackType


class Progress:
    """``with Progress("training") as step: step("reading data") ...`` shows the current phase and time."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.enabled = sys.stderr.isatty()
        self.started = time.perf_counter()

    def __call__(self, phase: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self.started
            sys.stderr.write(f"\r\033[K{self.title}: {phase} ({elapsed:.1f}s)")
            sys.stderr.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.clear()

    def clear(self) -> None:
        """Erase the line, before output is printed from inside the ``with`` block."""
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
