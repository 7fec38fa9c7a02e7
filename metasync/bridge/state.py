"""What one bridge app holds: the engine (one per app, calls serialized by a lock), jobs, token and policy."""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from flask import current_app

from ..config import Settings
from ..engine import Engine
from ..errors import MetasyncError
from .jobs import Jobs
from .security import resolve_in_roots

log = logging.getLogger(__name__)

HEALTH_WAIT_S = 0.5


@dataclass
class Bridge:
    settings: Settings
    engine: Engine
    token: str
    allowed_hosts: frozenset[str]
    background_above: int  # auto-detect runs as a job when a folder holds more files than this
    owns_engine: bool
    jobs: Jobs = field(default_factory=Jobs)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _exiftool_version: str | None = None

    def exiftool_version(self) -> str | None:
        """ExifTool's version for /api/health, which must answer at once even while a job holds the engine."""
        if self._exiftool_version is None and self.lock.acquire(timeout=HEALTH_WAIT_S):
            try:
                self._exiftool_version = self.engine.exiftool_version()
            except MetasyncError as exc:
                log.warning("health: %s", exc)
            finally:
                self.lock.release()
        return self._exiftool_version

    @contextmanager
    def calling(self) -> Iterator[Engine]:
        """The engine, exclusively: it holds one SQLite connection and one ExifTool process."""
        with self.lock:
            yield self.engine

    def path(self, raw: object) -> str:
        """A request's path, realpath'ed and checked against the library roots (403 outside)."""
        return resolve_in_roots(raw, self.settings.library_roots)  # type: ignore[arg-type]

    def close(self) -> None:
        self.jobs.shutdown()
        if self.owns_engine:
            with self.lock:
                self.engine.close()


def bridge() -> Bridge:
    return current_app.extensions["metasync"]
