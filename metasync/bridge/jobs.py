"""Background jobs for long work (auto-detect on a big folder): one worker thread, progress kept for polling."""
from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import MetasyncError

log = logging.getLogger(__name__)

KEEP = 50  # finished jobs remembered for polling


class JobNotFoundError(MetasyncError):
    code = "job_not_found"
    status = 404


@dataclass
class Job:
    id: str
    kind: str
    status: str = "queued"  # queued | running | done | failed
    stage: str = ""
    done: int = 0
    total: int = 0
    result: Any = None
    error: dict[str, str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def progress(self, stage: str, done: int, total: int) -> None:
        """The engine's progress callback (stage, done, total)."""
        with self._lock:
            self.stage, self.done, self.total = stage, done, total

    def finish(self, status: str, result: Any = None, error: dict[str, str] | None = None) -> None:
        with self._lock:
            self.status, self.result, self.error = status, result, error

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            out = {"id": self.id, "kind": self.kind, "status": self.status, "stage": self.stage,
                   "done": self.done, "total": self.total}
            if self.status == "done":
                out["result"] = self.result
            if self.error is not None:
                out["error"] = self.error
            return out


class Jobs:
    """Runs one job at a time (the engine is serialized anyway) and keeps the last few for polling."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metasync-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(self, kind: str, work: Callable[[Job], Any]) -> Job:
        job = Job(id=uuid.uuid4().hex, kind=kind)
        with self._lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.status in {"done", "failed"}]
            for old in finished[:-KEEP]:
                del self._jobs[old.id]
        self._pool.submit(self._run, job, work)
        return job

    @staticmethod
    def _run(job: Job, work: Callable[[Job], Any]) -> None:
        job.finish("running")
        try:
            result = work(job)
        except MetasyncError as exc:
            job.finish("failed", error={"code": exc.code, "message": str(exc)})
        except Exception as exc:  # a job must never die silently: the poller gets the message
            log.exception("job %s failed", job.id)
            job.finish("failed", error={"code": "internal", "message": f"{type(exc).__name__}: {exc}"})
        else:
            job.finish("done", result=result)

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFoundError(f"no job {job_id!r} (finished jobs are kept for a while only)")
        return job

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
