"""The JSON API: each view validates its input, checks paths against the library roots and makes one or two
Engine calls under the engine lock. No decision is made here."""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from flask import Response, jsonify, request

from .. import __version__
from ..errors import GroupNotFoundError, InvalidRequestError, MetasyncError, OutsideLibraryError
from ..models import CANONICAL_FIELDS
from ..naming import RAW_EXTENSIONS
from ..scan.phash import describe, thumbnail_jpeg
from ..scan.walk import PHOTO_EXTENSIONS
from .jobs import Job
from .openapi import PATH, Api, arr, obj, ref
from .state import Bridge, bridge

api = Api("api", __name__, url_prefix="/api")

MAX_ID = 2**63 - 1  # SQLite's integer range: larger ids cannot exist
THUMB_SIZES = (64, 512)


class ThumbnailError(MetasyncError):
    code = "thumbnail"
    status = 422


class NotFoundError(MetasyncError):
    code = "not_found"
    status = 404


# -- input -------------------------------------------------------------------------------------------------
def body() -> dict[str, Any]:
    """The JSON object of the request (an empty body is {}); anything else is a 400 with the parser's message."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"malformed JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    return data


def paths_of(value: Any, name: str, b: Bridge, required: bool = True) -> list[str]:
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value) or (required and not value):
        raise InvalidRequestError(f"'{name}' must be a {'non-empty ' if required else ''}list of paths")
    return [b.path(p) for p in value]


def number(data: dict[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise InvalidRequestError(f"'{name}' must be a number from {lo} to {hi}")
    return float(value)


def flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise InvalidRequestError(f"'{name}' must be true or false")
    return value


def group_id_of(group_id: int) -> int:
    if not 1 <= group_id <= MAX_ID:
        raise GroupNotFoundError(f"no group {group_id}")
    return group_id


def overrides_of(value: Any, b: Bridge) -> list[dict[str, Any]] | None:
    """[{path, field, value}] with every path inside the roots and every field canonical."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(o, dict) and {"path", "field", "value"} <= set(o)
                                              for o in value):
        raise InvalidRequestError("'overrides' must be a list of {path, field, value}")
    unknown = sorted({str(o["field"]) for o in value} - set(CANONICAL_FIELDS))
    if unknown:
        raise InvalidRequestError(f"unknown field(s) in overrides: {', '.join(unknown)}")
    return [{"path": b.path(o["path"]), "field": o["field"], "value": o["value"]} for o in value]


def query_path(name: str = "path") -> str:
    raw = request.args.get(name)
    if not raw:
        raise InvalidRequestError(f"query parameter '{name}' is required")
    return bridge().path(raw)


# -- groups ------------------------------------------------------------------------------------------------
def group_detail(b: Bridge, group_id: int) -> dict[str, Any]:
    """The preview of a group's changes with its summary and members: what a host shows before Apply."""
    with b.calling() as engine:
        return {"id": group_id, **engine.preview(group_id)}


@api.operation("GET", "/health", "Version, ExifTool version and library roots", "Health", auth=False)
def health():
    b = bridge()
    return jsonify({"status": "ok", "version": __version__, "exiftool": b.exiftool_version(),
                    "library_roots": [str(r) for r in b.settings.library_roots]})


@api.operation("GET", "/openapi.json", "This OpenAPI 3 document", obj())
def openapi_document():
    return jsonify(api.document())


@api.operation("GET", "/metadata-sync/groups", "Groups with status, confidence and counts", "GroupList")
def list_groups():
    with bridge().calling() as engine:
        return jsonify({"groups": engine.list_groups()})


@api.operation("POST", "/metadata-sync/groups", "Create a group from selected files (optionally naming sources)",
               "GroupDetail", status=201, body=ref("CreateGroup"), body_required=True, errors=(404, 409, 422))
def create_group():
    b, data = bridge(), body()
    files = paths_of(data.get("files"), "files", b)
    sources = paths_of(data.get("sources"), "sources", b, required=False)
    options = data.get("options", {})
    if not isinstance(options, dict):
        raise InvalidRequestError("'options' must be an object")
    with b.calling() as engine:
        engine.scan([Path(p) for p in dict.fromkeys(files + sources)])  # picked in the browser: maybe never indexed
        group_id = engine.create_group(files, sources=sources or None, options=options or None)
    return jsonify(group_detail(b, group_id)), 201


@api.operation("GET", "/metadata-sync/groups/<int:group_id>", "A group with the preview of its changes",
               "GroupDetail", errors=(404,))
def get_group(group_id: int):
    return jsonify(group_detail(bridge(), group_id_of(group_id)))


@api.operation("DELETE", "/metadata-sync/groups/<int:group_id>", "Delete a group (applied changes stay)",
               "Deleted", errors=(404, 409))
def delete_group(group_id: int):
    with bridge().calling() as engine:
        engine.delete_group(group_id_of(group_id))
    return jsonify({"deleted": group_id})


@api.operation("POST", "/metadata-sync/groups/<int:group_id>/apply", "Apply a group's changes (sidecars)",
               "ApplyResult", body=ref("ApplyRequest"), errors=(404, 409, 422))
def apply_group(group_id: int):
    b, data = bridge(), body()
    host = data.get("host")
    if host is not None and not isinstance(host, str):
        raise InvalidRequestError("'host' must be a string")
    kwargs = {"min_confidence": number(data, "min_confidence", 0.0, 0.0, 1.0),
              "include_conflicts": flag(data, "include_conflicts"),
              "overrides": overrides_of(data.get("overrides"), b), "host": host}
    with b.calling() as engine:
        return jsonify(engine.apply(group_id_of(group_id), **kwargs))


@api.operation("POST", "/metadata-sync/groups/<int:group_id>/revert", "Revert a group's last apply",
               "RevertResult", body=obj(), errors=(404, 409, 422))
def revert_group(group_id: int):
    body()  # reject malformed JSON even though no field is read
    with bridge().calling() as engine:
        return jsonify(engine.revert(group_id_of(group_id)))


@api.operation("GET", "/metadata-sync/suggestions", "Suggested groups, optionally for some files or a folder",
               "SuggestionList", query=(("path", arr(PATH), False),), errors=(400, 422))
def suggestions():
    b = bridge()
    paths = [b.path(p) for p in request.args.getlist("path")] or [str(r) for r in b.settings.library_roots]
    with b.calling() as engine:
        return jsonify({"suggestions": engine.suggest(paths)})


def _count_files(folder: str, limit: int) -> int:
    """How many files a folder holds, counting no further than `limit` + 1."""
    n = 0
    for _root, _dirs, names in os.walk(folder):
        n += len(names)
        if n > limit:
            break
    return n


def _detect(b: Bridge, folder: str, job: Job | None = None) -> dict[str, Any]:
    with b.calling() as engine:
        return {"suggestions": engine.suggest([folder], progress=job.progress if job else None)}


@api.operation("POST", "/metadata-sync/auto-detect",
               "Scan a folder and detect groups; a big folder (or background=true) answers 202 with a job",
               "AutoDetectResult", body=ref("AutoDetectRequest"), body_required=True, errors=(422,),
               extra_responses={202: ("accepted: poll /api/jobs/{id}", ref("JobAccepted"))})
def auto_detect():
    b, data = bridge(), body()
    raw = data.get("path")
    if not isinstance(raw, str):
        raise InvalidRequestError("'path' (a folder inside the library) is required")
    folder = b.path(raw)
    if not os.path.isdir(folder):
        raise InvalidRequestError(f"{raw} is not a folder")
    if flag(data, "background") or _count_files(folder, b.background_above) > b.background_above:
        job = b.jobs.submit("auto-detect", lambda j: _detect(b, folder, j))
        return jsonify({"job": job.to_dict()}), 202
    return jsonify(_detect(b, folder))


@api.operation("GET", "/jobs/<job_id>", "Progress (done/total) and, when done, the result of a job", "Job",
               errors=(404,))
def get_job(job_id: str):
    return jsonify(bridge().jobs.get(job_id).to_dict())


# -- files -------------------------------------------------------------------------------------------------
@api.operation("GET", "/files/history", "One photo's current metadata and its versions, oldest first",
               "History", query=(("path", PATH, True),), errors=(400, 404))
def file_history():
    path = query_path()
    with bridge().calling() as engine:
        return jsonify({"path": path, "current": engine.show(path), "history": engine.history(path)})


def _make_thumbnail(b: Bridge, path: str, size: int) -> bytes:
    """Decoding belongs to phash.py; a raw file is shown by its embedded preview, which ExifTool extracts."""
    source: str | bytes = path
    orientation = None
    if Path(path).suffix.lower() in RAW_EXTENSIONS:
        with b.calling() as engine:
            preview = engine.previews([path]).get(path)
        if preview is None:
            raise ThumbnailError(f"{path} has no embedded preview to show")
        source, orientation = preview
    try:
        return thumbnail_jpeg(source, size, orientation)
    except Exception as exc:  # noqa: BLE001 - decoders raise anything; the client gets why
        raise ThumbnailError(f"cannot make a thumbnail of {path}: {describe(exc)}") from exc


@api.operation("GET", "/files/thumbnail", "A small JPEG of a photo (cached)", {"type": "string",
                                                                                 "format": "binary"},
               media="image/jpeg", errors=(400, 404, 422),
               query=(("path", PATH, True), ("size", {"type": "integer", "minimum": THUMB_SIZES[0],
                                                       "maximum": THUMB_SIZES[1]}, False)))
def thumbnail():
    b, path = bridge(), query_path()
    size = request.args.get("size", "256")
    if not size.isdigit() or not THUMB_SIZES[0] <= int(size) <= THUMB_SIZES[1]:
        raise InvalidRequestError(f"'size' must be an integer from {THUMB_SIZES[0]} to {THUMB_SIZES[1]}")
    try:
        st = os.stat(path)
    except OSError as exc:
        raise NotFoundError(f"{path}: {exc.strerror}") from exc
    key = hashlib.sha256(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{size}".encode()).hexdigest()
    cached = b.engine.thumbnail_dir / key[:2] / f"{key}.jpg"
    try:
        data = cached.read_bytes()
    except FileNotFoundError:
        data = _make_thumbnail(b, path, int(size))
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, cached)
    resp = Response(data, mimetype="image/jpeg")
    resp.headers["Cache-Control"] = "private, max-age=300"
    return resp


@api.operation("GET", "/files", "Folders and photos of one library folder (the group creator's browser)",
               "Listing", query=(("dir", PATH, False),), errors=(400, 404))
def list_files():
    b = bridge()
    raw = request.args.get("dir")
    if not raw:
        roots = [str(r) for r in b.settings.library_roots]
        return jsonify({"dir": None, "parent": None, "photos": [],
                        "folders": [{"name": r, "path": r} for r in roots]})
    folder = b.path(raw)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name.lower())
    except NotADirectoryError as exc:
        raise InvalidRequestError(f"{raw} is not a folder") from exc
    except OSError as exc:
        raise NotFoundError(f"{raw}: {exc.strerror}") from exc
    folders, photos = [], []
    for e in entries:
        if e.name.startswith("."):
            continue
        try:
            real = b.path(e.path)  # a symlink out of the library is not shown
        except OutsideLibraryError:
            continue
        if os.path.isdir(real):
            folders.append({"name": e.name, "path": real})
        elif os.path.isfile(real) and Path(real).suffix.lower() in PHOTO_EXTENSIONS:
            photos.append({"name": e.name, "path": real})
    try:
        parent: str | None = b.path(os.path.dirname(folder))
    except OutsideLibraryError:
        parent = None
    return jsonify({"dir": folder, "parent": parent, "folders": folders, "photos": photos})
