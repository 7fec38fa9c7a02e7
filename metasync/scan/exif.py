"""The only owner of ExifTool: one persistent `-stay_open` process per run, batched reads and writes."""
from __future__ import annotations

import base64
import json
import logging
import shutil
import threading
from pathlib import Path
from typing import Any, Iterable

import exiftool
from exiftool.exceptions import ExifToolException, ExifToolExecuteError

from ..errors import ExifReadError, ExifToolError, ExifToolMissingError, MetasyncError
from ..fields import FIELDS, GPS_FIELDS, POSITION_FIELDS
from ..models import Metadata
from ..naming import find_existing_sidecar
from ..timeutil import split_offset

log = logging.getLogger(__name__)

BATCH = 200
PREVIEW_BATCH = 16  # raw previews are base64 in JSON: keep batches small
PREVIEW_TAGS = ("PreviewImage", "JpgFromRaw", "OtherImage", "ThumbnailImage")  # preferred first

# Besides each field's tags and their companions: what tells an image from anything else.
READ_TAGS: tuple[str, ...] = tuple(dict.fromkeys(
    [t for f in FIELDS.values() for t in (*f.read_tags, *f.companion_tags)] + ["File:MIMEType", "ExifTool:Error"]))
# Requested without their group: ExifTool then matches names only (~30% less CPU a file) and still reports
# every group's copy under its `-G` name, which normalize() looks up.
_REQUEST_TAGS = tuple(dict.fromkeys(t.split(":", 1)[1] for t in READ_TAGS))


class ExifTool:
    """A lazily started ExifToolHelper with `-G -n` (group names, numeric values) and execute checks on.

    Making one costs nothing and needs no ExifTool installed: the executable is looked for when first used."""

    def __init__(self, executable: str | None = None) -> None:
        self._executable = executable
        self._helper: exiftool.ExifToolHelper | None = None
        self.starts = 0  # how many times a process was started (tests assert 0 on unchanged rescans)
        self._keeper_stop: threading.Event | None = None
        self._start_lock = threading.Lock()

    def _running(self) -> exiftool.ExifToolHelper:
        with self._start_lock:
            if self._helper is None:
                exe = self._executable or shutil.which("exiftool")
                if not exe:
                    raise ExifToolMissingError(
                        "ExifTool is not installed: Debian/Ubuntu 'sudo apt-get install libimage-exiftool-perl', "
                        "macOS 'brew install exiftool', Windows: https://exiftool.org")
                self._helper = exiftool.ExifToolHelper(executable=exe, common_args=["-G", "-n"], check_execute=True)
            if not self._helper.running:
                self._start(self._helper)
        return self._helper

    def _start(self, helper: exiftool.ExifToolHelper) -> None:
        """Start the process from a thread that lives until close().

        pyexiftool ties the process to the thread that forked it (PR_SET_PDEATHSIG), so a process first used by
        a short-lived thread (a bridge job) would be killed when that thread ends.
        """
        started, stop = threading.Event(), threading.Event()
        failure: list[BaseException] = []

        def keeper() -> None:
            try:
                helper.run()
            except BaseException as exc:  # handed to the caller below
                failure.append(exc)
            finally:
                started.set()
            stop.wait()

        threading.Thread(target=keeper, name="exiftool-keeper", daemon=True).start()
        started.wait()
        if failure:
            raise failure[0]
        self._keeper_stop = stop
        self.starts += 1

    def close(self) -> None:
        if self._helper is not None and self._helper.running:
            self._helper.terminate()
        if self._keeper_stop is not None:
            self._keeper_stop.set()
            self._keeper_stop = None

    def __enter__(self) -> "ExifTool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def version(self) -> str:
        return str(self._running().version)

    def read_raw(self, paths: Iterable[Path], tags: Iterable[str] | None = None,
                 params: Iterable[str] = (), batch_size: int = BATCH) -> dict[str, dict[str, Any] | ExifReadError]:
        """Raw `-G -n` tag dicts keyed by the path string (all tags, or only `tags`).

        A file ExifTool rejects maps to an ExifReadError. ExifTool exits non-zero when any file of a batch fails
        but still prints JSON for every file, so the batch is kept; only unparseable output is retried file by file.
        """
        paths = [str(p) for p in paths]
        tags = list(tags) if tags is not None else None
        out: dict[str, dict[str, Any] | ExifReadError] = {}
        helper = self._running()
        for i in range(0, len(paths), batch_size):
            batch = paths[i:i + batch_size]
            try:
                dicts = helper.get_tags(batch, tags, params=list(params))
            except ExifToolExecuteError as exc:
                dicts = _json_list(exc.stdout)
                if dicts is None:
                    dicts = self._read_one_by_one(batch, tags, params, exc)
            except (ExifToolException, ValueError) as exc:
                if not helper.running:  # the process died: no file is to blame, nothing is recorded
                    raise ExifToolError(f"ExifTool stopped while reading: {_first_line(exc)}") from exc
                dicts = self._read_one_by_one(batch, tags, params, exc)
            for d in dicts:
                if isinstance(d, ExifReadError):
                    out[d.path] = d
                    continue
                error = d.get("ExifTool:Error") or d.get("File:Error")
                out[d["SourceFile"]] = ExifReadError(d["SourceFile"], str(error)) if error else d
        for p in paths:  # a path ExifTool said nothing about (e.g. vanished meanwhile)
            out.setdefault(p, ExifReadError(p, "file not found or not readable"))
        return out

    def _read_one_by_one(self, batch: list[str], tags: list[str] | None, params: Iterable[str],
                         exc: BaseException) -> list[dict[str, Any] | ExifReadError]:
        helper = self._running()
        res: list[dict[str, Any] | ExifReadError] = []
        for p in batch:
            try:
                res.extend(helper.get_tags(p, tags, params=list(params)))
            except ExifToolExecuteError as one:
                res.extend(_json_list(one.stdout) or [ExifReadError(p, _first_line(one) or _first_line(exc))])
            except (ExifToolException, ValueError) as one:
                res.append(ExifReadError(p, _first_line(one) or _first_line(exc)))
        return res

    def read_metadata(self, paths: Iterable[Path]) -> dict[str, Metadata | ExifReadError]:
        """Canonical metadata per photo: embedded tags merged with its existing XMP sidecar (sidecar wins).

        Photo and sidecar are read in the same batched call. A file ExifTool cannot read, or that is not an
        image, maps to an ExifReadError; a broken sidecar is logged and ignored (the embedded data stays).
        """
        photos = [str(p) for p in paths]
        sidecars = {p: find_existing_sidecar(Path(p)) for p in photos}
        # -fast: do not scan JPEGs to the end for trailers (gain maps, ...), none of which we read
        raw = self.read_raw(photos + [str(s) for s in sidecars.values() if s is not None], tags=_REQUEST_TAGS,
                            params=["-fast"])
        out: dict[str, Metadata | ExifReadError] = {}
        for p in photos:
            got = raw[p]
            if isinstance(got, ExifReadError):
                out[p] = got
                continue
            mime = str(got.get("File:MIMEType") or "")
            if not mime.startswith("image/"):
                out[p] = ExifReadError(p, f"not an image ({mime or 'unknown file type'})")
                continue
            meta = normalize(got)
            sidecar = sidecars[p]
            if sidecar is not None:
                side = raw[str(sidecar)]
                if isinstance(side, ExifReadError):
                    log.warning("ignoring unreadable sidecar %s: %s", sidecar, side.reason)
                else:
                    meta = merge(meta, normalize(side))
            out[p] = meta
        return out

    def read_previews(self, paths: Iterable[Path]) -> dict[str, tuple[bytes, int] | None]:
        """Each raw file's embedded preview (the first of PREVIEW_TAGS it has) and its EXIF orientation.

        Read with `-b` in small batches (JSON carries the bytes as base64); None for a file without a preview
        (e.g. a stripped raw).
        """
        raw = self.read_raw(paths, tags=[*PREVIEW_TAGS, "EXIF:Orientation"], params=["-b"],
                            batch_size=PREVIEW_BATCH)
        out: dict[str, tuple[bytes, int] | None] = {}
        for p, d in raw.items():
            out[p] = None
            if isinstance(d, ExifReadError):
                continue
            for name in PREVIEW_TAGS:
                value = next((v for k, v in d.items() if k.split(":")[-1] == name), None)
                if isinstance(value, str) and value.startswith("base64:"):
                    out[p] = (base64.b64decode(value[7:]), _orientation(d.get("EXIF:Orientation")))
                    break
        return out

    def write_tags(self, path: Path, tags: dict[str, Any], extra: Iterable[str] = ("-overwrite_original",)) -> None:
        """Write tags into one file (used by the demo generator and by `--write-original`)."""
        try:
            self._running().set_tags(str(path), tags, params=list(extra))
        except ExifToolException as exc:
            raise MetasyncError(f"ExifTool could not write {path}: {_first_line(exc)}") from exc

    def execute(self, *args: str) -> str:
        """Run one raw ExifTool command in the persistent process (e.g. extracting a raw preview)."""
        try:
            return self._running().execute(*args)
        except ExifToolException as exc:
            raise ExifToolError(f"ExifTool failed: {_first_line(exc)}") from exc


def _json_list(text: str | None) -> list[dict[str, Any]] | None:
    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    return data if isinstance(data, list) and all(isinstance(d, dict) for d in data) else None


def _orientation(value: Any) -> int:
    try:
        o = int(value)
    except (TypeError, ValueError):
        return 1
    return o if 1 <= o <= 8 else 1


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- normalisation: raw `-G -n` tag dicts -> canonical Metadata ---------------------------------------------------
def normalize(raw: dict[str, Any]) -> Metadata:
    """Turn one file's `-G -n` tags into canonical fields, each from the first of its tags with a valid value.

    Invalid values (latitude 213, GPS 0,0, month 0) are treated as absent and logged.
    """
    values = {name: f.read(raw) for name, f in FIELDS.items() if name not in GPS_FIELDS}
    values.update(_gps(raw, str(raw.get("SourceFile", "?"))))
    dt = values["datetime_original"]
    offset = values["offset_time"] or (split_offset(dt)[1] if dt else None)
    values["datetime_original"] = _with_offset(dt, offset)
    values["offset_time"] = offset
    return Metadata(**values)


def merge(embedded: Metadata, sidecar: Metadata) -> Metadata:
    """Field by field, the sidecar wins (as darktable and digiKam read them); tags are the union.

    The GPS position is one value: latitude and longitude never come from different files.
    """
    values = {name: getattr(sidecar, name) for name in FIELDS
              if name not in ("tags", *POSITION_FIELDS) and getattr(sidecar, name) is not None}
    if sidecar.has_gps:
        values.update(gps_latitude=sidecar.gps_latitude, gps_longitude=sidecar.gps_longitude)
    values["tags"] = tuple(dict.fromkeys(embedded.tags + sidecar.tags))
    merged = embedded.with_values(**values)
    return merged.with_values(datetime_original=_with_offset(merged.datetime_original, merged.offset_time))


def _with_offset(dt: str | None, offset: str | None) -> str | None:
    """A capture time carries the photo's offset when it is known and the time has none of its own."""
    if dt is None or offset is None or split_offset(dt)[1] is not None:
        return dt
    return dt + offset


def _gps(raw: dict[str, Any], src: str) -> dict[str, float | None]:
    """Latitude and longitude from the first group holding both (signed by their refs); altitude likewise."""
    out: dict[str, float | None] = dict.fromkeys(GPS_FIELDS)
    lat_field, lon_field = FIELDS["gps_latitude"], FIELDS["gps_longitude"]
    rejected: list[str] = []
    for lat_tag, lon_tag in zip(lat_field.read_tags, lon_field.read_tags):
        lat = lat_field.from_exiftool(raw, lat_tag)
        lon = lon_field.from_exiftool(raw, lon_tag)
        if lat is None or lon is None:
            continue
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            rejected.append(f"out-of-range position {lat:g}, {lon:g} in {lat_tag}")
        elif lat == 0 and lon == 0:
            rejected.append(f"position 0, 0 in {lat_tag} (null island: a receiver without a fix)")
        else:
            out.update(gps_latitude=lat, gps_longitude=lon)
            break
    if rejected:
        log.warning("%s: ignoring GPS %s", src, rejected[0])
    if out["gps_latitude"] is not None:  # an altitude without a position (or with a rejected one) says nothing
        out["gps_altitude"] = FIELDS["gps_altitude"].read(raw)
    return out
