"""Scan library folders into the index, incrementally: only new or changed files are read.

A file is unchanged when its (size, mtime_ns) and its sidecar's (path, mtime_ns) match the index; such files
are not opened at all, and when nothing changed ExifTool is never started. A new path whose content
fingerprint equals a vanished file's is a move: the row (and its groups, history) follows the file.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..errors import ExifReadError, InvalidRequestError
from ..models import Metadata, Photo
from ..naming import RAW_EXTENSIONS, find_existing_sidecar, sidecar_candidates

if TYPE_CHECKING:
    from ..index import Index
    from .exif import ExifTool
    from .phash import FileHash

log = logging.getLogger(__name__)

PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".heic", ".heif", ".webp"}) | RAW_EXTENSIONS
CHUNK = 100  # photos read, hashed and stored per round (bounds memory, paces progress)

Progress = Callable[[str, int, int], None]


@dataclass
class ScanSummary:
    photos: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    with_gps: int = 0
    with_datetime: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "photos": self.photos, "new": self.new, "changed": self.changed, "unchanged": self.unchanged,
            "removed": self.removed, "with_gps": self.with_gps, "with_datetime": self.with_datetime,
            "errors": [{"path": p, "error": e} for p, e in self.errors],
        }


@dataclass(frozen=True)
class Found:
    """A photo file seen on disk, with what an incremental rescan compares."""

    path: str
    size: int
    mtime_ns: int
    sidecar: str | None
    sidecar_mtime_ns: int | None

    @property
    def stats(self) -> tuple[int, int, str | None, int | None]:
        return (self.size, self.mtime_ns, self.sidecar, self.sidecar_mtime_ns)

    @property
    def is_raw(self) -> bool:
        return os.path.splitext(self.path)[1].lower() in RAW_EXTENSIONS


def scan_library(index: Index, exif: ExifTool, paths: list[Path], progress: Progress | None = None) -> ScanSummary:
    """Bring the index up to date with the photo files under `paths` (folders or single files).

    `exif` is started only when a file must be read. Per-file problems are recorded and listed in the summary; only a
    path that does not exist raises.
    """
    roots = [_resolve_root(p) for p in paths]
    found, errors = walk(roots)
    known = index.file_stats()
    folders = [str(r) for r in roots if r.is_dir()]
    # only a scanned folder can tell that a file vanished; scanning single files never removes their neighbours
    vanished = [p for p in index.file_stats(under=folders) if p not in found] if folders else []
    new = [f for f in found.values() if f.path not in known]

    moves = _detect_moves(index, new, vanished)
    for f in new:
        if f.path in moves:
            old = moves[f.path]
            index.move_file(old, f.path, f.mtime_ns)
            size, _, sidecar, sidecar_mtime = known.pop(old)
            known[f.path] = (size, f.mtime_ns, sidecar, sidecar_mtime)
    new = [f for f in new if f.path not in moves]
    older = index.hashed_before_details()  # read once more, so a copy's original can be told from look-alikes
    changed = [f for f in found.values() if f.path in known and (known[f.path] != f.stats or f.path in older)]
    moved_from = set(moves.values())
    gone = [p for p in vanished if p not in moved_from]
    if gone:
        index.remove_files(gone)

    to_read = new + changed
    if to_read:
        # only the sidecar changed: the hashes stay
        same_pixels = [f for f in changed if known[f.path][:2] == (f.size, f.mtime_ns) and f.path not in older]
        _read_and_store(index, exif, to_read, progress, _stored_hashes(index, same_pixels))
    summary = _summarize(index, found, errors)
    summary.new, summary.changed, summary.removed = len(new), len(changed), len(gone)
    summary.unchanged = len(found) - len(new) - len(changed)
    log.info("scan: %s", summary.to_dict())
    return summary


def _resolve_root(path: Path) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise InvalidRequestError(f"{path}: no such file or folder")
    return path.resolve()


# -- walking ----------------------------------------------------------------------------------------------------
def walk(roots: list[Path]) -> tuple[dict[str, Found], list[tuple[str, str]]]:
    """Photo files under `roots` by resolved path, and the folders that could not be listed (with why).

    Hidden files and folders are skipped; symlinked folders are followed once ((st_dev, st_ino) seen set).
    """
    found: dict[str, Found] = {}
    errors: list[tuple[str, str]] = []
    seen: set[tuple[int, int]] = set()
    for root in roots:
        if root.is_file():
            if root.suffix.lower() in PHOTO_EXTENSIONS:
                _add(found, errors, str(root), root.stat(), None)
            else:
                errors.append((str(root), "not a photo file type"))
            continue
        stack = [root]
        while stack:
            folder = stack.pop()
            for entry_path, st, names in _list(folder, seen, errors):
                if st is None:
                    stack.append(Path(entry_path))
                else:
                    _add(found, errors, entry_path, st, names)
    return found, errors


def _list(folder: Path, seen: set[tuple[int, int]], errors: list[tuple[str, str]]
          ) -> Iterator[tuple[str, os.stat_result | None, set[str] | None]]:
    """(path, stat, the folder's sidecar names) for photo files and (path, None, names) for subfolders.

    Paths below a symlinked folder are given through its resolved path.
    """
    try:
        real = Path(os.path.realpath(folder))
        st = real.stat()
        key = (st.st_dev, st.st_ino)
        if key in seen:
            if real != folder:  # reached through a link: a loop, or a second way into the same folder
                errors.append((str(folder), "symlink loop or second link to a folder already scanned; skipped"))
            return
        seen.add(key)
        with os.scandir(real) as it:
            entries = list(it)
    except PermissionError:
        errors.append((str(folder), "permission denied"))
        return
    except OSError as exc:
        errors.append((str(folder), f"cannot list folder: {exc.strerror or exc}"))
        return
    names = {e.name for e in entries if e.name[-4:].lower() == ".xmp"}  # only these can be sidecars
    for e in entries:
        if e.name.startswith("."):
            continue
        try:
            if e.is_dir():
                yield e.path, None, names
            elif e.is_file() and os.path.splitext(e.name)[1].lower() in PHOTO_EXTENSIONS:
                if e.is_symlink():  # the target is the photo; its sidecar lives beside the target
                    yield os.path.realpath(e.path), os.stat(e.path), None
                else:
                    yield e.path, e.stat(), names
        except OSError as exc:
            errors.append((e.path, f"cannot read: {exc.strerror or exc}"))


def _add(found: dict[str, Found], errors: list[tuple[str, str]], path: str, st: os.stat_result,
         names: set[str] | None) -> None:
    """Record one photo with its sidecar; `names` are its folder's .xmp names (None: look on disk)."""
    if names is not None:  # most folders have no sidecar at all: then no candidate paths are built
        sidecar = next((str(c) for c in sidecar_candidates(Path(path)) if c.name in names), None) if names else None
    else:
        hit = find_existing_sidecar(Path(path))
        sidecar = str(hit) if hit else None
    sidecar_mtime = None
    if sidecar is not None:
        try:
            sidecar_mtime = os.stat(sidecar).st_mtime_ns
        except OSError as exc:
            errors.append((sidecar, f"cannot read sidecar: {exc.strerror or exc}"))
            sidecar = None
    found[path] = Found(path, st.st_size, st.st_mtime_ns, sidecar, sidecar_mtime)


# -- moves ------------------------------------------------------------------------------------------------------
def _detect_moves(index: Index, new: list[Found], vanished: list[str]) -> dict[str, str]:
    """new path -> vanished path, for new files whose content fingerprint equals a vanished file's."""
    if not new or not vanished:
        return {}
    from . import phash  # imported when needed: numpy and imagehash cost an unchanged rescan a third of a second
    gone = set(vanished)
    by_hash: dict[str, list[str]] = {}
    for photo in index.photos(with_errors=True):
        if photo.path in gone and photo.content_hash:
            by_hash.setdefault(photo.content_hash, []).append(photo.path)
    moves: dict[str, str] = {}
    for f in new:
        if not by_hash:
            break
        try:
            fingerprint = phash.content_hash(f.path)
        except OSError:
            continue
        candidates = by_hash.get(fingerprint)
        if candidates:
            moves[f.path] = candidates.pop()
            if not candidates:
                del by_hash[fingerprint]
    return moves


# -- reading ----------------------------------------------------------------------------------------------------
def _stored_hashes(index: Index, files: list[Found]) -> dict[str, FileHash]:
    """The indexed hashes of files whose pixels did not change (size and mtime as stored), to keep."""
    from . import phash

    out: dict[str, FileHash] = {}
    for f in files:
        photo = index.photo_by_path(f.path)
        if photo.error is None and photo.content_hash:
            out[f.path] = phash.FileHash(f.path, photo.phash, photo.content_hash, detail_hash=photo.detail_hash,
                                         lightness=photo.lightness)
    return out


def _read_and_store(index: Index, exif: ExifTool, files: list[Found], progress: Progress | None,
                    stored: dict[str, FileHash]) -> None:
    """ExifTool reads (main process) overlap with pixel hashing (worker pool); rows stored per chunk, and with them
    the scene features of the same decode in the index's scene cache, so scene analysis decodes none of them again.

    Files in `stored` (only their sidecar changed) keep their hashes and are not decoded again.
    """
    from . import phash
    from .pixels import LOCAL

    done = 0
    if progress:
        progress("scan", 0, len(files))
    with phash.hashing([f.path for f in files if not f.is_raw and f.path not in stored]) as hashes:
        for i in range(0, len(files), CHUNK):
            chunk = files[i:i + CHUNK]
            metas = exif.read_metadata([f.path for f in chunk])
            raws = [f.path for f in chunk if f.is_raw and f.path not in stored]
            previews = exif.read_previews(raws) if raws else {}
            rows = []
            features = {}
            for f in chunk:
                if f.path in stored:
                    h = stored[f.path]
                else:
                    h = phash.hash_preview(f.path, previews.get(f.path)) if f.is_raw else next(hashes)
                rows.append((_photo(f, metas[f.path], h), f.sidecar, f.sidecar_mtime_ns))
                if h.scene is not None and h.content_hash:
                    features[h.content_hash] = h.scene
            index.upsert_photos(rows)
            if features:
                index.scene_cache_put(LOCAL, features)
            done += len(chunk)
            if progress:
                progress("scan", done, len(files))


def _photo(f: Found, meta: Metadata | ExifReadError, h: FileHash) -> Photo:
    error = None
    if isinstance(meta, ExifReadError):
        error, meta = meta.reason, Metadata()
    elif h.error:
        error = h.error
    return Photo(id=0, path=f.path, meta=meta, phash=h.phash, size=f.size, mtime_ns=f.mtime_ns,
                 content_hash=h.content_hash, error=error, detail_hash=h.detail_hash, lightness=h.lightness)


def _summarize(index: Index, found: dict[str, Found], errors: list[tuple[str, str]]) -> ScanSummary:
    summary = ScanSummary(errors=list(errors))
    for path, error, has_gps, has_datetime in index.scan_counts():
        if path not in found:
            continue
        if error:
            summary.errors.append((path, error))
            continue
        summary.photos += 1
        summary.with_gps += has_gps
        summary.with_datetime += has_datetime
    summary.errors.sort()
    return summary
