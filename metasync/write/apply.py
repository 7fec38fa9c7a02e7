"""Apply a plan to XMP sidecars, revert it, roll back what a crash left half done: the only writer of user folders.

Protocol of every operation (apply, revert, rollback alike): journal the operation, store the previous bytes of
every file it will touch as fsync'd blobs and record before/after sha256 per file, then replace each file
atomically (temp file in the same folder, fsync, rename, fsync folder), then mark the operation committed. A
pending operation found later (the process died) is rolled back file by file: a file holding the new bytes gets
its old bytes back, so every file is wholly old or wholly new.
"""
from __future__ import annotations

import logging
import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from ..config import Settings
from ..errors import ConflictError, InvalidRequestError, MetasyncError, SidecarError, StorageError
from ..fields import FIELDS, TIME_FIELDS
from ..groups import set_override
from ..index import Index, now_iso
from ..models import CANONICAL_FIELDS, FieldChange, Group, GroupKind, Photo, Plan
from ..naming import sidecar_path_for
from ..scan.exif import ExifTool, normalize
from ..timeutil import split_offset
from . import journal, sidecar
from .faults import fault_point
from .journal import fsync_dir, sha256, write_new_file
from .lock import WAIT_S, library_lock

log = logging.getLogger(__name__)

TMP_SUFFIX = ".metasync-tmp"
MAX_SIDECAR_BYTES = sidecar.MAX_SIDECAR_BYTES
# why a change whose sources disagree is skipped; the CLI adds its own flag for writing it anyway
CONFLICTING = "conflicting sources disagree; choose a value (override) or include conflicting changes"


@dataclass
class _Target:
    """One file an operation will replace (`after` None: remove it)."""

    photo: Photo | None
    kind: str  # "sidecar" | "original"
    path: Path
    before: bytes | None
    after: bytes | None
    changes: dict[str, dict[str, Any]]
    prepared: Path | None = field(default=None)  # original: the new file, already written beside it


# -- entry points (each holds the library lock and first rolls back what a crash left behind) ------------
@contextmanager
def _writer(index: Index) -> Iterator[None]:
    with library_lock(index.db_path):
        _recover(index)
        yield


def apply_plan(index: Index, exif: ExifTool, settings: Settings, group: Group, plan: Plan, *,
               min_confidence: float = 0.0, include_conflicts: bool = False, host: str | None = None,
               write_original: bool = False) -> dict[str, Any]:
    """Write the plan's changes into sidecars (and, optionally, into the images themselves)."""
    with _writer(index):
        return _apply(index, exif, settings, group, plan, min_confidence=min_confidence,
                      include_conflicts=include_conflicts, host=host, write_original=write_original)


def apply_group(index: Index, exif: ExifTool, settings: Settings, group_id: int, plan: Callable[[int], Plan], *,
                overrides: Iterable[Mapping[str, Any]] | None = None, min_confidence: float = 0.0,
                include_conflicts: bool = False, host: str | None = None, write_original: bool = False
                ) -> dict[str, Any]:
    """Store the user's overrides, plan the group (`plan`: group id -> its plan, overrides included) and apply the
    plan, all under one lock."""
    with _writer(index):
        for o in overrides or ():
            _set_override(index, group_id, o)
        group = index.group(group_id)
        return _apply(index, exif, settings, group, plan(group_id), min_confidence=min_confidence,
                      include_conflicts=include_conflicts, host=host, write_original=write_original)


def revert_group(index: Index, group_id: int) -> dict[str, Any]:
    """Undo the group's latest apply: exact previous bytes where nobody touched the file since, otherwise
    only our fields are taken out again (their previous values restored) and the host's edits stay."""
    with _writer(index):
        return _revert(index, group_id)


def recover(index: Index, wait_s: float = WAIT_S) -> dict[str, Any]:
    """Roll back operations a dead process left pending; cheap (one query) when there are none."""
    if not journal.pending_operations(index):
        return {"rolled_back": []}
    with library_lock(index.db_path, wait_s):
        return {"rolled_back": _recover(index)}


# -- apply ------------------------------------------------------------------------------------------------
def _apply(index: Index, exif: ExifTool, settings: Settings, group: Group, plan: Plan, *, min_confidence: float,
           include_conflicts: bool, host: str | None, write_original: bool) -> dict[str, Any]:
    if group.status == "applied":
        raise ConflictError(f"group {group.id} is already applied; revert it first to change it")
    photos = {p.path: p for p in index.photos_by_id(m.photo_id for m in group.members).values()}
    skipped: list[dict[str, Any]] = []
    wanted: dict[str, list[FieldChange]] = {}
    for change in plan.changes:
        reason = _skip_reason(change, photos, min_confidence, include_conflicts)
        if reason:
            skipped.append({"path": change.path, "field": change.field, "reason": reason})
        else:
            wanted.setdefault(change.path, []).append(change)

    kind = "time_shift" if group.kind == GroupKind.TIME_SHIFT else "apply"
    op_id = journal.begin(index, group.id, kind)
    fault_point("apply:begin")
    try:
        targets: list[_Target] = []
        applied = 0
        writers: dict[Path, str] = {}  # sidecar -> photo it is written for (a RAW+JPEG pair may share one)
        for path, changes in wanted.items():
            try:
                photo_targets, n = _prepare_photo(exif, settings, photos, photos[path], changes, group.id, op_id,
                                                  host, write_original, writers, skipped)
            except SidecarError as exc:
                skipped.extend({"path": path, "field": c.field, "reason": str(exc)} for c in changes)
                continue
            applied += n
            targets.extend(t for t in photo_targets if t.after != t.before)
        if not targets:
            journal.discard(index, op_id)
            return _apply_result(group.id, applied, skipped, [], {})
        _journal(index, op_id, targets, "apply")
        _write_all(targets, op_id, "apply")
        _verify(exif, targets)
        files = _new_metadata(targets, lambda c: c["new"])
        fault_point("apply:commit")
        journal.finish(index, op_id, "committed", group_status="applied",
                       file_updates=_file_updates(targets, files))
    except BaseException as exc:
        _rollback(index, op_id, group.id)
        if isinstance(exc, OSError):
            raise _storage_error(exc) from exc
        raise
    sidecars = sorted({str(t.path) for t in targets if t.kind == "sidecar"})
    log.info("group %s: applied %d change(s) to %d file(s), skipped %d", group.id, applied, len(targets),
             len(skipped))
    return _apply_result(group.id, applied, skipped, sidecars,
                         {t.photo.path: files[t.photo.id] for t in targets if t.photo is not None})


def _storage_error(exc: OSError) -> StorageError:
    return StorageError(f"cannot write {exc.filename or 'a file'}: {exc.strerror or exc}; every file was put back "
                        "as it was")


def _apply_result(group_id: int | None, applied: int, skipped: list[dict[str, Any]], sidecars: list[str],
                  files: dict[str, Any]) -> dict[str, Any]:
    return {"group": group_id, "applied": applied, "skipped": skipped, "sidecars": sidecars, "files": files}


def _skip_reason(change: FieldChange, photos: Mapping[str, Photo], min_confidence: float,
                 include_conflicts: bool) -> str | None:
    if change.path not in photos:
        return "not a member of this group"
    if change.field not in CANONICAL_FIELDS:
        return f"unknown field {change.field!r}"
    if not FIELDS[change.field].writable:
        return f"{change.field} has no place in an XMP sidecar"
    if change.conflict and not include_conflicts:
        return CONFLICTING
    if change.confidence < min_confidence:
        return f"confidence {change.confidence:.2f} is below the minimum {min_confidence:.2f}"
    if not Path(change.path).is_file():
        return "the photo no longer exists"
    return None


def _prepare_photo(exif: ExifTool, settings: Settings, photos: Mapping[str, Photo], photo: Photo,
                   changes: list[FieldChange], group_id: int | None, op_id: int, host: str | None,
                   write_original: bool, writers: dict[Path, str], skipped: list[dict[str, Any]]
                   ) -> tuple[list[_Target], int]:
    """The photo's new sidecar bytes (and new image file), and how many of its changes they carry.

    Raises SidecarError to skip the whole photo (its sidecar is unreadable or taken); a single value XMP cannot
    hold is skipped on its own, with its reason added to `skipped`.
    """
    path = sidecar_path_for(Path(photo.path), settings.sidecar_naming, host)
    if path in writers:
        raise SidecarError(f"shares its sidecar {path} with {writers[path]}, which is written in this apply")
    writers[path] = photo.path
    before = _read_sidecar(path)
    if before is not None:
        sidecar.parse_sidecar(before)  # malformed or hostile: SidecarError, file left alone
    planned = changes
    changes = _carry_offset(photo, changes, skipped)
    sources = {c.field: (c.field, c.source or "", photos[c.source].content_hash if c.source in photos else None)
               for c in changes}

    def merge(subset: list[FieldChange]) -> bytes:
        provenance = sidecar.Provenance(group_id=group_id or 0, operation_id=op_id, applied_at=now_iso(),
                                        sources=tuple(sources[c.field] for c in subset),
                                        fields=tuple(c.field for c in subset))
        return sidecar.merge_values(before, {c.field: c.new for c in subset}, provenance)

    try:
        after = merge(changes)
    except SidecarError:
        changes, refused = _writable(changes, merge)
        skipped.extend({"path": photo.path, "field": c.field, "reason": refused[c.field]}
                       for c in planned if c.field in refused)
        if not changes:
            return [], 0
        after = merge(changes)
    kept = {c.field for c in changes}
    applied = sum(1 for c in planned if c.field in kept)
    journal_changes = {c.field: {"old": _jsonable(c.old), "new": _jsonable(c.new), "source": c.source}
                       for c in changes}
    targets = [_Target(photo, "sidecar", path, before, after, journal_changes)]
    if write_original:
        values = {c.field: c.new for c in changes}
        targets.append(_prepare_original(exif, photo, values, journal_changes, op_id))
    return targets, applied


def _carry_offset(photo: Photo, changes: list[FieldChange], skipped: list[dict[str, Any]]) -> list[FieldChange]:
    """XMP has no offset tag: a new offset travels inside the capture time, so that time is written too."""
    offset = next((c for c in changes if c.field == "offset_time" and c.new is not None), None)
    timed = next((c for c in changes if c.field == "datetime_original"), None)
    if offset is None or (timed is not None and (not timed.new or split_offset(str(timed.new))[1])):
        return changes
    if timed is not None:  # a corrected time without an offset takes the new one
        carried = replace(timed, new=str(timed.new) + offset.new, reason=f"{timed.reason}; {offset.reason}")
        return [carried if c is timed else c for c in changes]
    current = photo.meta.datetime_original
    if not current:
        skipped.append({"path": photo.path, "field": "offset_time",
                        "reason": "the photo has no capture time to carry the offset (XMP keeps it inside "
                                  "exif:DateTimeOriginal)"})
        return [c for c in changes if c is not offset]
    carried = FieldChange(photo.path, "datetime_original", current, split_offset(current)[0] + offset.new,
                          offset.source, f"carries the offset: {offset.reason}", offset.confidence)
    return [*changes, carried]


def _writable(changes: list[FieldChange], merge: Any) -> tuple[list[FieldChange], dict[str, str]]:
    """After a merge failed: the changes XMP can hold, and why each other one cannot (tried one by one; the
    capture time and its offset together)."""
    def unit(c: FieldChange) -> str:
        return "time" if c.field in TIME_FIELDS else c.field

    keep: list[FieldChange] = []
    refused: dict[str, str] = {}
    for key in dict.fromkeys(unit(c) for c in changes):
        subset = [c for c in changes if unit(c) == key]
        try:
            merge(subset)
        except SidecarError as exc:
            refused.update((c.field, str(exc)) for c in subset)
        else:
            keep.extend(subset)
    if not refused:
        raise SidecarError("the sidecar cannot take these values together")  # not one value's fault
    return keep, refused


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _read_sidecar(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_SIDECAR_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SidecarError(f"cannot read sidecar {path}: {exc.strerror}; left untouched") from exc
    if len(data) > MAX_SIDECAR_BYTES:
        raise SidecarError(f"sidecar {path} is larger than {MAX_SIDECAR_BYTES // 2**20} MB, which no host "
                           "writes; left untouched")
    return data


# -- write into the image itself (--write-original) -------------------------------------------------------
def original_tags(values: Mapping[str, Any]) -> dict[str, Any]:
    """ExifTool tags (numeric, -n) that put canonical values into an image's embedded XMP, where hosts that
    ignore sidecars for JPEGs (Lightroom) read them; the same properties as the sidecar's."""
    return {tag: v for name, value in values.items() for tag, v in FIELDS[name].to_exiftool(value).items()}


def _prepare_original(exif: ExifTool, photo: Photo, values: Mapping[str, Any], changes: dict[str, dict[str, Any]],
                      op_id: int) -> _Target:
    path = Path(photo.path)
    before = path.read_bytes()
    tmp = _tmp_name(path, op_id)
    write_new_file(tmp, before)
    try:
        exif.write_tags(tmp, original_tags(values))
        after = tmp.read_bytes()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _Target(photo, "original", path, before, after, changes, prepared=tmp)


# -- journal and writes -----------------------------------------------------------------------------------
def _journal(index: Index, op_id: int, targets: list[_Target], step: str) -> None:
    """Previous bytes as fsync'd blobs, then one durable transaction with every file's before/after hash."""
    rows = []
    for t in targets:
        rows.append({
            "file_id": t.photo.id if t.photo else None, "path": t.photo.path if t.photo else str(t.path),
            "target": t.kind, "target_path": str(t.path),
            "before_sha256": journal.put_blob(index, t.before) if t.before is not None else None,
            "after_sha256": sha256(t.after) if t.after is not None else None,
            "changes": t.changes,
        })
    fault_point(f"{step}:blobs")
    journal.add_versions(index, op_id, rows)
    fault_point(f"{step}:journal")


def _write_all(targets: list[_Target], op_id: int, step: str) -> None:
    for t in targets:
        if t.after is None:
            _remove(t.path)
        elif t.prepared is not None:
            os.replace(t.prepared, t.path)
            fsync_dir(t.path.parent)
        else:
            _replace(t.path, t.after, op_id, step)
        fault_point(f"{step}:write")


def _tmp_name(path: Path, op_id: int) -> Path:
    """`.<name>.op<id>.<random>.metasync-tmp`, the name cut so that it stays within 255 bytes."""
    return path.with_name(f".{path.name[:200]}.op{op_id}.{secrets.token_hex(4)}{TMP_SUFFIX}")


def _replace(path: Path, data: bytes, op_id: int, step: str) -> None:
    """Atomic replace: readers see the old file or the new one, never a mix."""
    tmp = _tmp_name(path, op_id)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666  # umask applies, as for any new file
    try:
        write_new_file(tmp, data, mode)
        fault_point(f"{step}:tmp")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)


def _current(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


# -- read-back check --------------------------------------------------------------------------------------
def _verify(exif: ExifTool, targets: list[_Target]) -> None:
    """Every written field must read back through ExifTool as planned, else the operation is rolled back.

    Each written file is read on its own (its XMP only), so a sidecar cannot hide a bad write into an image.
    """
    written = [t for t in targets if t.after is not None]
    raw = exif.read_raw([t.path for t in written], tags=["XMP:all"])
    problems = []
    for t in written:
        tags = raw.get(str(t.path))
        if not isinstance(tags, dict):
            problems.append(f"{t.path}: ExifTool cannot read it back ({tags})")
            continue
        meta = normalize(tags)
        for name, change in t.changes.items():
            got = getattr(meta, name)
            if not FIELDS[name].same(change["new"], got):
                problems.append(f"{t.path}: {name} reads back as {got!r}, planned {change['new']!r}")
    if problems:
        raise MetasyncError("the written files do not read back as planned, so nothing was changed: "
                            + "; ".join(problems[:5]))


# -- index view after an operation ------------------------------------------------------------------------
def _new_metadata(targets: list[_Target], pick: Any) -> dict[int, dict[str, Any]]:
    """Photo id -> canonical values after the operation (the plugins push these into host databases)."""
    out: dict[int, dict[str, Any]] = {}
    for t in targets:
        if t.photo is None or t.photo.id in out:
            continue
        values = {name: pick(c) for name, c in t.changes.items() if name in CANONICAL_FIELDS}
        out[t.photo.id] = t.photo.meta.with_values(**values).to_dict()
    return out


def _file_updates(targets: list[_Target], files: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    updates: dict[int, dict[str, Any]] = {}
    for t in targets:
        if t.photo is None or t.kind != "sidecar":
            continue
        exists = t.after is not None
        updates[t.photo.id] = {"metadata": files[t.photo.id], "sidecar_path": str(t.path) if exists else None,
                               "sidecar_mtime_ns": t.path.stat().st_mtime_ns if exists else None}
    return updates


# -- revert -----------------------------------------------------------------------------------------------
def _revert(index: Index, group_id: int) -> dict[str, Any]:
    group = index.group(group_id)
    applied = journal.latest_unreverted_apply(index, group_id)
    if applied is None or group.status != "applied":
        raise ConflictError(f"group {group_id} has nothing applied to revert (status: {group.status})")
    op_id = journal.begin(index, group_id, "revert", reverts_id=applied.id)
    fault_point("revert:begin")
    skipped: list[dict[str, Any]] = []
    try:
        versions = journal.versions(index, applied.id)
        photos = index.photos_by_id(v.file_id for v in versions if v.file_id is not None)
        targets = []
        for v in versions:
            target = _revert_target(index, v, photos.get(v.file_id) if v.file_id else None, skipped)
            if target is not None:
                targets.append(target)
        _journal(index, op_id, targets, "revert")
        _write_all(targets, op_id, "revert")
        files = _new_metadata(targets, lambda c: c["new"])
        fault_point("revert:commit")
        journal.finish(index, op_id, "committed", group_status="reverted",
                       file_updates=_file_updates(targets, files))
    except BaseException as exc:
        _rollback(index, op_id, group_id)
        if isinstance(exc, OSError):
            raise _storage_error(exc) from exc
        raise
    for s in skipped:
        log.warning("revert of group %s: %s: %s", group_id, s["path"], s["reason"])
    return {
        "group": group_id,
        "restored": sorted(str(t.path) for t in targets if t.after is not None),
        "removed": sorted(str(t.path) for t in targets if t.after is None),
        "skipped": skipped,
        "files": {t.photo.path: files[t.photo.id] for t in targets if t.photo is not None},
    }


def _revert_target(index: Index, v: journal.Version, photo: Photo | None,
                   skipped: list[dict[str, Any]]) -> _Target | None:
    """What one file becomes on revert: its exact previous bytes, or (edited since) the edit minus our fields."""
    path = Path(v.target_path)
    current = _current(path)
    now = sha256(current) if current is not None else None
    back = {name: {"old": c["new"], "new": c["old"]} for name, c in v.changes.items()}
    if now == v.before_sha256:
        return None  # already as it was before
    if now == v.after_sha256:
        before = journal.get_blob(index, v.before_sha256) if v.before_sha256 else None
        return _Target(photo, v.target, path, current, before, back)
    if current is None:
        skipped.append({"path": str(path), "reason": "deleted since the apply; nothing to revert"})
        return None
    if v.target != "sidecar":
        skipped.append({"path": str(path), "reason": "the image changed since the apply; left as it is"})
        return None
    try:
        after = _unmerge(index, v, current, back)
    except SidecarError as exc:
        skipped.append({"path": str(path), "reason": f"edited since the apply and now unreadable: {exc}"})
        return None
    return _Target(photo, "sidecar", path, current, after, back)


def _unmerge(index: Index, v: journal.Version, current: bytes, back: dict[str, dict[str, Any]]) -> bytes | None:
    """Take our fields out of a sidecar a host edited since; a field the host changed is the host's now."""
    now_values = sidecar.read_values(current)
    ours = [name for name, c in v.changes.items() if FIELDS[name].same(c["new"], now_values.get(name))]
    for name in set(back) - set(ours):
        back[name]["new"] = _jsonable(now_values.get(name))
    previous = sidecar.read_values(journal.get_blob(index, v.before_sha256)) if v.before_sha256 else {}
    restore = {name: previous[name] for name in ours if previous.get(name) is not None}
    return sidecar.remove_values(current, ours, restore)


# -- crash recovery ---------------------------------------------------------------------------------------
def _recover(index: Index) -> list[int]:
    rolled = []
    for op in journal.pending_operations(index):
        log.warning("rolling back operation %d (%s of group %s), left unfinished by a process that died",
                    op.id, op.kind, op.group_id)
        _rollback(index, op.id, op.group_id)
        rolled.append(op.id)
    return rolled


def _rollback(index: Index, op_id: int, group_id: int | None) -> None:
    """Put every file of a pending operation back to its before-bytes; remove the operation's temp files."""
    folders = set()
    for v in reversed(journal.versions(index, op_id)):
        path = Path(v.target_path)
        folders.add(path.parent)
        current = _current(path)
        now = sha256(current) if current is not None else None
        if now == v.before_sha256:
            continue
        if now != v.after_sha256:
            log.warning("%s changed since operation %d began; left as it is", path, op_id)
            continue
        if v.before_sha256 is None:
            _remove(path)
        else:
            _replace(path, journal.get_blob(index, v.before_sha256), op_id, "rollback")
    if group_id is not None:
        folders.update(Path(m.path).parent for m in _members(index, group_id))
    for folder in folders:
        for tmp in folder.glob(f".*.op{op_id}.*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)
    journal.finish(index, op_id, "rolled_back")


def _members(index: Index, group_id: int) -> tuple[Any, ...]:
    try:
        return index.group(group_id).members
    except MetasyncError:
        return ()


def _set_override(index: Index, group_id: int, override: Mapping[str, Any]) -> None:
    try:
        path, name, value = override["path"], override["field"], override["value"]
    except (KeyError, TypeError) as exc:
        raise InvalidRequestError(f"an override needs path, field and value: {override!r}") from exc
    set_override(index, group_id, path, name, value)
