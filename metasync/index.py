"""The photo index: the only module that speaks SQLite. WAL mode, versioned migrations."""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import GroupNotFoundError, NotIndexedError, StorageError
from .models import Group, GroupKind, GroupMember, GroupOptions, Metadata, Photo, evidence_from_dict

# (version, SQL). Append only; never edit a migration that has shipped.
MIGRATIONS: list[tuple[int, str]] = [
    (1, """
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL DEFAULT 0,
        mtime_ns INTEGER NOT NULL DEFAULT 0,
        sidecar_path TEXT,
        sidecar_mtime_ns INTEGER,
        content_hash TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        phash TEXT,
        error TEXT,
        scanned_at TEXT,
        sync_group_id INTEGER REFERENCES sync_groups(id) ON DELETE SET NULL,
        sync_source_id INTEGER REFERENCES files(id) ON DELETE SET NULL,
        sync_timestamp TEXT,
        latest_version_id INTEGER
    );
    CREATE INDEX files_content_hash ON files(content_hash);
    CREATE TABLE sync_groups (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        user_created INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'reverted')),
        confidence REAL NOT NULL DEFAULT 1.0,
        kind TEXT NOT NULL DEFAULT 'event',
        options TEXT NOT NULL DEFAULT '{}',
        reasons TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE sync_group_files (
        group_id INTEGER NOT NULL REFERENCES sync_groups(id) ON DELETE CASCADE,
        file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        priority INTEGER NOT NULL DEFAULT 0,
        is_source INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (group_id, file_id)
    );
    CREATE INDEX sync_group_files_file ON sync_group_files(file_id);
    CREATE TABLE overrides (
        group_id INTEGER NOT NULL REFERENCES sync_groups(id) ON DELETE CASCADE,
        file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (group_id, file_id, field)
    );
    """),
    # the history journal (write/journal.py): one operation per apply or revert, one version per file written
    (2, """
    CREATE TABLE operations (
        id INTEGER PRIMARY KEY,
        group_id INTEGER REFERENCES sync_groups(id) ON DELETE SET NULL,
        kind TEXT NOT NULL CHECK (kind IN ('apply', 'revert', 'time_shift')),
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'committed', 'rolled_back')),
        reverts_id INTEGER REFERENCES operations(id),
        started_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE INDEX operations_group ON operations(group_id, state);
    CREATE TABLE versions (
        id INTEGER PRIMARY KEY,
        operation_id INTEGER NOT NULL REFERENCES operations(id) ON DELETE CASCADE,
        file_id INTEGER REFERENCES files(id) ON DELETE SET NULL,
        path TEXT NOT NULL,
        target TEXT NOT NULL DEFAULT 'sidecar' CHECK (target IN ('sidecar', 'original')),
        target_path TEXT NOT NULL,
        before_sha256 TEXT,
        after_sha256 TEXT,
        changes TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
    );
    CREATE INDEX versions_operation ON versions(operation_id);
    CREATE INDEX versions_file ON versions(file_id)
"""),
    # scene analysis results, keyed by image content hash (or a set of them) and analyzer name
    (3, """
    CREATE TABLE scene_cache (
        key TEXT NOT NULL,
        analyzer TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (key, analyzer)
    )
"""),
    # what the last detection was made on, so an unchanged library answers from its stored groups
    (4, """
    CREATE TABLE state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
"""),
    # a group's options hold what the user set; what detection found about it moves to its own column
    (5, """
    ALTER TABLE sync_groups ADD COLUMN evidence TEXT NOT NULL DEFAULT '{}';
    UPDATE sync_groups SET
        evidence = json_remove(options, '$.copy_camera'),
        options = json_remove(options, '$.shift_s', '$.camera', '$.pairs', '$.spread_s', '$.matches',
                              '$.camera_times', '$.scene', '$.gps_conflict')
"""),
    # the finer pHash that tells which of several look-alike shots a messenger copy was made of
    (6, """
    ALTER TABLE files ADD COLUMN detail_hash TEXT
"""),
    # a photo's exposure, which tells a copy's original from look-alikes its hashes cannot (from cached features)
    (7, """
    ALTER TABLE files ADD COLUMN lightness REAL;
    UPDATE files SET lightness = (SELECT json_extract(payload, '$.brightness') FROM scene_cache
                                  WHERE scene_cache.key = files.content_hash AND analyzer = 'local'
                                    AND json_extract(payload, '$.v') = 2)
"""),
]


def _options_json(group: Group) -> tuple[str, str]:
    """The group's options and evidence columns."""
    return json.dumps(group.options.to_dict()), json.dumps(group.evidence.to_dict() if group.evidence else {})


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Index:
    """One SQLite database per library set. Cheap to open; use as a context manager."""

    def __init__(self, db_path: Path | str) -> None:
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(str(self.db_path), timeout=10.0, isolation_level=None,
                                        check_same_thread=False)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open index {self.db_path}: {exc}") from exc
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    # -- lifecycle ---------------------------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def data_dir(self) -> Path:
        """Folder beside the database for blobs and caches that belong to this index."""
        return self.db_path.with_name(self.db_path.name + ".d")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; rolls back on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def execute(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def _migrate(self) -> None:
        current = self.conn.execute("PRAGMA user_version").fetchone()[0]
        for version, sql in sorted(MIGRATIONS, key=lambda m: m[0]):
            if version <= current:
                continue
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                # re-check inside the lock: another process may have migrated meanwhile
                if self.conn.execute("PRAGMA user_version").fetchone()[0] >= version:
                    self.conn.execute("ROLLBACK")
                    continue
                for stmt in (s for s in sql.split(";") if s.strip()):
                    self.conn.execute(stmt)
                self.conn.execute(f"PRAGMA user_version = {version}")
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    # -- files -------------------------------------------------------------------------------------
    @staticmethod
    def _photo(row: sqlite3.Row) -> Photo:
        return Photo(
            id=row["id"],
            path=row["path"],
            meta=Metadata.from_dict(json.loads(row["metadata"] or "{}")),
            phash=int(row["phash"], 16) if row["phash"] else None,
            size=row["size"],
            mtime_ns=row["mtime_ns"],
            content_hash=row["content_hash"],
            error=row["error"],
            detail_hash=int(row["detail_hash"], 16) if row["detail_hash"] else None,
            lightness=row["lightness"],
        )

    def hashed_before_details(self) -> set[str]:
        """Paths with a pHash but no detail hash: indexed before detail hashes (and received days) were read."""
        return {r["path"] for r in self.conn.execute(
            "SELECT path FROM files WHERE phash IS NOT NULL AND detail_hash IS NULL")}

    def file_stats(self, under: Iterable[str] = ()) -> dict[str, tuple[int, int, str | None, int | None]]:
        """path -> (size, mtime_ns, sidecar_path, sidecar_mtime_ns): what a rescan compares against."""
        rows = self.conn.execute("SELECT path, size, mtime_ns, sidecar_path, sidecar_mtime_ns FROM files")
        prefixes = tuple(p.rstrip("/") + "/" for p in under)
        return {
            r["path"]: (r["size"], r["mtime_ns"], r["sidecar_path"], r["sidecar_mtime_ns"])
            for r in rows
            if not prefixes or r["path"].startswith(prefixes)
        }

    def upsert_photos(self, photos: Iterable[tuple[Photo, str | None, int | None]]) -> None:
        """Store (photo, sidecar_path, sidecar_mtime_ns) rows in one transaction."""
        stamp = now_iso()
        with self.transaction() as c:
            c.executemany(
                """INSERT INTO files (path, size, mtime_ns, sidecar_path, sidecar_mtime_ns, content_hash,
                                      metadata, phash, error, scanned_at, detail_hash, lightness)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns,
                     sidecar_path=excluded.sidecar_path, sidecar_mtime_ns=excluded.sidecar_mtime_ns,
                     content_hash=excluded.content_hash, metadata=excluded.metadata, phash=excluded.phash,
                     error=excluded.error, scanned_at=excluded.scanned_at, detail_hash=excluded.detail_hash,
                     lightness=excluded.lightness""",
                [
                    (p.path, p.size, p.mtime_ns, sc, sc_m, p.content_hash, json.dumps(p.meta.to_dict()),
                     f"{p.phash:016x}" if p.phash is not None else None, p.error, stamp,
                     f"{p.detail_hash:064x}" if p.detail_hash is not None else None, p.lightness)
                    for p, sc, sc_m in photos
                ],
            )

    def move_file(self, old_path: str, new_path: str, mtime_ns: int) -> None:
        """A moved file keeps its row (groups, history) under its new path."""
        with self.transaction() as c:
            c.execute("UPDATE files SET path=?, mtime_ns=? WHERE path=?", (new_path, mtime_ns, old_path))

    def remove_files(self, paths: Iterable[str]) -> int:
        paths = list(paths)
        with self.transaction() as c:
            c.executemany("DELETE FROM files WHERE path=?", [(p,) for p in paths])
        return len(paths)

    def photos(self, under: Iterable[str] = (), with_errors: bool = False) -> list[Photo]:
        prefixes = tuple(p.rstrip("/") + "/" for p in under)
        sql = "SELECT * FROM files" + ("" if with_errors else " WHERE error IS NULL") + " ORDER BY path"
        return [
            self._photo(r) for r in self.conn.execute(sql)
            if not prefixes or r["path"].startswith(prefixes)
        ]

    def scan_counts(self) -> list[tuple[str, str | None, bool, bool]]:
        """(path, error, has GPS, has capture time) of every file, read in SQL: a scan's summary without parsing
        every row's metadata."""
        return [(r[0], r[1], bool(r[2]), bool(r[3])) for r in self.conn.execute(
            """SELECT path, error,
                      json_extract(metadata, '$.gps_latitude') IS NOT NULL
                        AND json_extract(metadata, '$.gps_longitude') IS NOT NULL,
                      json_extract(metadata, '$.datetime_original') IS NOT NULL
               FROM files""")]

    def photo_by_path(self, path: str) -> Photo:
        row = self.conn.execute("SELECT * FROM files WHERE path=?", (path,)).fetchone()
        if row is None:
            raise NotIndexedError(f"{path} is not in the index; scan its folder first")
        return self._photo(row)

    def photos_by_id(self, ids: Iterable[int]) -> dict[int, Photo]:
        ids = list(ids)
        out: dict[int, Photo] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            q = f"SELECT * FROM files WHERE id IN ({','.join('?' * len(chunk))})"
            out.update({r["id"]: self._photo(r) for r in self.conn.execute(q, chunk)})
        return out

    def errors(self) -> list[tuple[str, str]]:
        return [(r["path"], r["error"]) for r in
                self.conn.execute("SELECT path, error FROM files WHERE error IS NOT NULL ORDER BY path")]

    # -- groups ------------------------------------------------------------------------------------
    def save_group(self, group: Group) -> int:
        """Insert a new group (group.id None) or replace an existing group's members and attributes."""
        stamp = now_iso()
        with self.transaction() as c:
            if group.id is None:
                cur = c.execute(
                    """INSERT INTO sync_groups (created_at, updated_at, user_created, status, confidence, kind,
                                                options, evidence, reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (stamp, stamp, int(group.user_created), group.status, group.confidence, group.kind.value,
                     *_options_json(group), json.dumps(list(group.reasons))))
                gid = int(cur.lastrowid)
            else:
                gid = group.id
                cur = c.execute(
                    """UPDATE sync_groups SET updated_at=?, user_created=?, status=?, confidence=?, kind=?,
                                              options=?, evidence=?, reasons=? WHERE id=?""",
                    (stamp, int(group.user_created), group.status, group.confidence, group.kind.value,
                     *_options_json(group), json.dumps(list(group.reasons)), gid))
                if cur.rowcount == 0:
                    raise GroupNotFoundError(f"no group {gid}")
                c.execute("DELETE FROM sync_group_files WHERE group_id=?", (gid,))
            c.executemany(
                "INSERT INTO sync_group_files (group_id, file_id, priority, is_source) VALUES (?, ?, ?, ?)",
                [(gid, m.photo_id, m.priority, int(m.is_source)) for m in group.members])
            c.executemany("UPDATE files SET sync_group_id=? WHERE id=?", [(gid, m.photo_id) for m in group.members])
        return gid

    def group(self, group_id: int) -> Group:
        row = self.conn.execute("SELECT * FROM sync_groups WHERE id=?", (group_id,)).fetchone()
        if row is None:
            raise GroupNotFoundError(f"no group {group_id}")
        return self._group(row)

    def groups(self, status: str | None = None, kind: GroupKind | None = None,
               files: Iterable[int] | None = None) -> list[Group]:
        """Groups, optionally only those with a status, of a kind, or holding any of the file ids `files`."""
        where = [f"{column}=?" for column, value in (("status", status), ("kind", kind)) if value]
        params: list[Any] = [value for value in (status, kind) if value]
        if files is not None:
            ids = list(files)
            where.append(f"id IN (SELECT group_id FROM sync_group_files WHERE file_id IN ({','.join('?' * len(ids))}))")
            params += ids
        sql = "SELECT * FROM sync_groups" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        return [self._group(r) for r in self.conn.execute(sql, params)]

    def _group(self, row: sqlite3.Row) -> Group:
        members = tuple(
            GroupMember(photo_id=m["file_id"], path=m["path"], is_source=bool(m["is_source"]), priority=m["priority"])
            for m in self.conn.execute(
                """SELECT g.file_id, f.path, g.is_source, g.priority FROM sync_group_files g
                   JOIN files f ON f.id = g.file_id WHERE g.group_id=? ORDER BY g.priority DESC, f.path""",
                (row["id"],)))
        kind = GroupKind(row["kind"])
        return Group(id=row["id"], members=members, confidence=row["confidence"], status=row["status"],
                     user_created=bool(row["user_created"]), kind=kind,
                     options=GroupOptions.from_dict(json.loads(row["options"])),
                     evidence=evidence_from_dict(kind, json.loads(row["evidence"])),
                     reasons=tuple(json.loads(row["reasons"])), created_at=row["created_at"],
                     updated_at=row["updated_at"])

    def set_group_status(self, group_id: int, status: str) -> None:
        with self.transaction() as c:
            cur = c.execute("UPDATE sync_groups SET status=?, updated_at=? WHERE id=?", (status, now_iso(), group_id))
            if cur.rowcount == 0:
                raise GroupNotFoundError(f"no group {group_id}")

    def delete_group(self, group_id: int) -> None:
        with self.transaction() as c:
            cur = c.execute("DELETE FROM sync_groups WHERE id=?", (group_id,))
            if cur.rowcount == 0:
                raise GroupNotFoundError(f"no group {group_id}")

    def delete_groups(self, ids: Iterable[int]) -> None:
        with self.transaction() as c:
            c.executemany("DELETE FROM sync_groups WHERE id=?", [(i,) for i in ids])

    def fingerprint(self) -> str:
        """Changes whenever a file is added, removed or rescanned, a group is saved or deleted, an override set or
        an operation written: what detection and suggestions depend on, in a few aggregate queries."""
        parts = [tuple(self.conn.execute(q).fetchone()) for q in (
            "SELECT count(*), max(id), total(size), total(mtime_ns), total(sidecar_mtime_ns), total(length(metadata)),"
            " max(latest_version_id), total(length(error)) FROM files",
            "SELECT count(*), max(id), max(updated_at), total(status='applied') FROM sync_groups",
            "SELECT count(*), max(rowid) FROM overrides",
            "SELECT count(*), max(id), total(state='committed') FROM operations")]
        return json.dumps(parts)

    def state(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))

    def set_override(self, group_id: int, photo_id: int, field: str, value: Any) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO overrides (group_id, file_id, field, value) VALUES (?, ?, ?, ?)",
                      (group_id, photo_id, field, json.dumps(value)))

    def overrides(self, group_id: int) -> dict[tuple[int, str], Any]:
        return {(r["file_id"], r["field"]): json.loads(r["value"]) for r in
                self.conn.execute("SELECT file_id, field, value FROM overrides WHERE group_id=?", (group_id,))}


    # -- scene analysis cache ----------------------------------------------------------------------
    def scene_cache_get(self, analyzer: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """key (content hash) -> stored analysis payload for `analyzer`; absent keys are simply missing."""
        keys = list(dict.fromkeys(keys))
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = f"SELECT key, payload FROM scene_cache WHERE analyzer=? AND key IN ({','.join('?' * len(chunk))})"
            out.update({r["key"]: json.loads(r["payload"]) for r in self.conn.execute(q, [analyzer, *chunk])})
        return out

    def scene_cache_put(self, analyzer: str, items: dict[str, dict[str, Any]]) -> None:
        stamp = now_iso()
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO scene_cache (key, analyzer, payload, created_at) VALUES (?, ?, ?, ?)",
                          [(k, analyzer, json.dumps(v), stamp) for k, v in items.items()])
