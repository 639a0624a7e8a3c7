"""A one-line progress bar on stderr, drawn only when stderr is a terminal (SPEC §2)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

# Redraw at most this often: a bulk import reports every row, from the writer thread.
REDRAW_SECONDS = 0.1
WIDTH = 30


class ProgressBar:
    """`bar(done)` as work advances; `close()` ends the line. Silent off a terminal, so
    logs and pipes get no control characters."""

    def __init__(
        self, label: str, total: int, stream: TextIO | None = None, unit: str = ""
    ) -> None:
        self._stream = sys.stderr if stream is None else stream
        self._label = label
        self._unit = f" {unit}" if unit else ""
        self._total = max(total, 1)
        self._enabled = self._stream.isatty()
        self._next_draw = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int | None = None) -> None:
        """`total`, when given, replaces the one known so far (a backup learns it as it goes)."""
        if not self._enabled:
            return
        if total is not None:
            self._total = max(total, 1)
        now = time.monotonic()
        if now < self._next_draw and done < self._total:
            return
        self._next_draw = now + REDRAW_SECONDS
        total = max(self._total, done)  # the total may have been an estimate
        share = done / total
        filled = int(share * WIDTH)
        bar = "#" * filled + "." * (WIDTH - filled)
        self._stream.write(f"\r{self._label} [{bar}] {share:4.0%} {done:,}/{total:,}{self._unit}")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False
