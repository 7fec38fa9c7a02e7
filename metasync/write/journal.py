"""The history journal: operations, per-file versions and the content-addressed blobs of previous bytes.

Every apply/revert is an operation; every file it writes is a version that records the file's sha256 before
(NULL: no file existed) and after (NULL: the file was removed) and the field changes old -> new. The previous
bytes live as blobs under `<index data dir>/blobs/ab/abcdef...`, fsync'd before any user file is touched, so a
revert restores them exactly and a crash can always be rolled back. This module never writes into user folders.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import JournalError
from ..index import Index, now_iso

log = logging.getLogger(__name__)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Version:
    """One journaled write of one file (a sidecar, or the image itself with --write-original)."""

    id: int
    operation_id: int
    file_id: int | None
    path: str
    target: str
    target_path: str
    before_sha256: str | None
    after_sha256: str | None
    changes: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    id: int
    group_id: int | None
    kind: str
    state: str
    reverts_id: int | None
    started_at: str
    finished_at: str | None


# -- blobs -----------------------------------------------------------------------------------------------
def blob_path(index: Index, sha: str) -> Path:
    return index.data_dir / "blobs" / sha[:2] / sha


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in `path` durable (the folder's entry, not just the file's bytes)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new_file(path: Path, data: bytes, mode: int = 0o666) -> None:
    """Create `path` (it must not exist) with `data`, fsync'd before returning."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def put_blob(index: Index, data: bytes) -> str:
    """Store `data` durably (file and folders fsync'd) under its sha256; storing it twice is free."""
    sha = sha256(data)
    path = blob_path(index, sha)
    if path.is_file() and path.stat().st_size == len(data):
        return sha
    created = [p for p in (path.parent.parent, path.parent) if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{sha}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # left by a process of ours that died
    write_new_file(tmp, data)
    os.replace(tmp, path)
    fsync_dir(path.parent)
    for folder in created:
        fsync_dir(folder.parent)
    return sha


def get_blob(index: Index, sha: str) -> bytes:
    path = blob_path(index, sha)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise JournalError(f"journal blob {sha[:12]} is missing ({path}): {exc}") from exc
    if sha256(data) != sha:
        raise JournalError(f"journal blob {path} is corrupt (sha256 mismatch)")
    return data


# -- operations and versions ------------------------------------------------------------------------------
@contextmanager
def _durable(index: Index) -> Iterator[None]:
    """A journal transaction synced to disk on commit (WAL + synchronous=NORMAL alone may lose it on power loss)."""
    index.execute("PRAGMA synchronous=FULL")
    try:
        with index.transaction():
            yield
    finally:
        index.execute("PRAGMA synchronous=NORMAL")


def begin(index: Index, group_id: int | None, kind: str, reverts_id: int | None = None) -> int:
    with _durable(index):
        cur = index.execute("INSERT INTO operations (group_id, kind, reverts_id, started_at) VALUES (?, ?, ?, ?)",
                            (group_id, kind, reverts_id, now_iso()))
    return int(cur.lastrowid)


def add_versions(index: Index, operation_id: int, rows: list[dict[str, Any]]) -> list[int]:
    """Record the files an operation is about to write; call only after their before-bytes are blobs."""
    ids = []
    stamp = now_iso()
    with _durable(index):
        for r in rows:
            cur = index.execute(
                """INSERT INTO versions (operation_id, file_id, path, target, target_path, before_sha256,
                                         after_sha256, changes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (operation_id, r.get("file_id"), r["path"], r.get("target", "sidecar"), r["target_path"],
                 r["before_sha256"], r["after_sha256"], json.dumps(r.get("changes", {}), default=str), stamp))
            ids.append(int(cur.lastrowid))
    return ids


def finish(index: Index, operation_id: int, state: str, *, group_status: str | None = None,
           file_updates: dict[int, dict[str, Any]] | None = None) -> None:
    """Close an operation; a commit also moves files.latest_version_id and the index's view of the files.

    file_updates: file id -> {"metadata": dict, "sidecar_path": str|None, "sidecar_mtime_ns": int|None}.
    """
    with _durable(index):
        op = index.execute("SELECT group_id FROM operations WHERE id=?", (operation_id,)).fetchone()
        index.execute("UPDATE operations SET state=?, finished_at=? WHERE id=?", (state, now_iso(), operation_id))
        if state != "committed":
            return
        index.execute(
            """UPDATE files SET latest_version_id = (SELECT MAX(v.id) FROM versions v WHERE v.file_id = files.id)
               WHERE id IN (SELECT file_id FROM versions WHERE operation_id=?)""", (operation_id,))
        for file_id, upd in (file_updates or {}).items():
            index.execute("UPDATE files SET metadata=?, sidecar_path=?, sidecar_mtime_ns=? WHERE id=?",
                          (json.dumps(upd["metadata"]), upd.get("sidecar_path"), upd.get("sidecar_mtime_ns"),
                           file_id))
        if group_status and op is not None and op["group_id"] is not None:
            index.execute("UPDATE sync_groups SET status=?, updated_at=? WHERE id=?",
                          (group_status, now_iso(), op["group_id"]))


def discard(index: Index, operation_id: int) -> None:
    """Forget an operation that wrote nothing (every change was skipped)."""
    with index.transaction():
        index.execute("DELETE FROM operations WHERE id=?", (operation_id,))


def _operation(row: Any) -> Operation:
    return Operation(id=row["id"], group_id=row["group_id"], kind=row["kind"], state=row["state"],
                     reverts_id=row["reverts_id"], started_at=row["started_at"], finished_at=row["finished_at"])


def _version(row: Any) -> Version:
    return Version(id=row["id"], operation_id=row["operation_id"], file_id=row["file_id"], path=row["path"],
                   target=row["target"], target_path=row["target_path"], before_sha256=row["before_sha256"],
                   after_sha256=row["after_sha256"], changes=json.loads(row["changes"]))


def pending_operations(index: Index) -> list[Operation]:
    return [_operation(r) for r in
            index.execute("SELECT * FROM operations WHERE state='pending' ORDER BY id DESC")]


def versions(index: Index, operation_id: int) -> list[Version]:
    return [_version(r) for r in
            index.execute("SELECT * FROM versions WHERE operation_id=? ORDER BY id", (operation_id,))]


def latest_unreverted_apply(index: Index, group_id: int) -> Operation | None:
    """The group's newest committed apply that no committed revert has undone yet."""
    row = index.execute(
        """SELECT * FROM operations o WHERE o.group_id=? AND o.state='committed' AND o.kind IN ('apply', 'time_shift')
             AND NOT EXISTS (SELECT 1 FROM operations r WHERE r.reverts_id=o.id AND r.state='committed')
           ORDER BY o.id DESC LIMIT 1""", (group_id,)).fetchone()
    return _operation(row) if row else None


def file_history(index: Index, path: str) -> list[dict[str, Any]]:
    """Committed versions of one photo, oldest first: when, group, operation kind, old -> new per field."""
    row = index.execute("SELECT id FROM files WHERE path=?", (path,)).fetchone()
    where, arg = ("v.file_id=?", row["id"]) if row else ("v.path=?", path)
    rows = index.execute(
        f"""SELECT v.*, o.group_id, o.kind, o.reverts_id FROM versions v JOIN operations o ON o.id = v.operation_id
            WHERE {where} AND o.state='committed' ORDER BY v.id""", (arg,))
    return [
        {"version": r["id"], "when": r["created_at"], "group": r["group_id"], "operation": r["operation_id"],
         "kind": r["kind"], "reverts": r["reverts_id"], "path": r["path"], "target": r["target"],
         "file": r["target_path"], "before_sha256": r["before_sha256"], "after_sha256": r["after_sha256"],
         "changes": json.loads(r["changes"])}
        for r in rows
    ]
