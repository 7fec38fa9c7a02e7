"""A terminal progress bar for the engine's (stage, done, total) events; drawn on stderr, never on stdout."""
from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from typing import Iterator, TextIO

MIN_TOTAL = 10  # a few files finish before a bar is worth drawing
WIDTH = 30
INTERVAL_S = 0.1


class Progress:
    """Callable progress sink: `progress("scan", 120, 1000)` redraws one line, at most every INTERVAL_S."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._last = 0.0
        self._open = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if total < MIN_TOTAL:
            return
        now = time.monotonic()
        finished = done >= total
        if not finished and now - self._last < INTERVAL_S:
            return
        self._last = now
        filled = WIDTH * done // total
        self.stream.write(f"\r{stage:<8} [{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total}")
        self._open = not finished
        if finished:
            self.stream.write("\n")
        self.stream.flush()

    def close(self) -> None:
        """End an unfinished bar's line (e.g. after an interrupt) so the next message starts clean."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


def make_progress(enabled: bool, stream: TextIO | None = None) -> Progress | None:
    """A bar when enabled (not --json) and the stream is a terminal; None otherwise (quiet)."""
    stream = stream or sys.stderr
    if not enabled or not stream.isatty():
        return None
    return Progress(stream)


class _AboveBar(logging.StreamHandler):
    """Ends the bar's line before a log message, so warnings do not run into the bar (it redraws below)."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(progress.stream)
        self.progress = progress
        self.setFormatter(logging.Formatter("metasync: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.progress.close()
        super().emit(record)


@contextmanager
def drawing(progress: Progress | None, logger: str = "metasync") -> Iterator[Progress | None]:
    """While a bar is drawn, our warnings go above it; afterwards an unfinished bar's line is ended."""
    if progress is None:
        yield None
        return
    log = logging.getLogger(logger)
    handler, propagate = _AboveBar(progress), log.propagate
    handler.setLevel(logging.WARNING)
    log.addHandler(handler)
    log.propagate = False
    try:
        yield progress
    finally:
        log.removeHandler(handler)
        log.propagate = propagate
        progress.close()
