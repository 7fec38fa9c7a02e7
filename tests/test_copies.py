"""Messenger copies: the received day from the name (never a capture time, never over a precise one), and the
original among look-alikes (a DSLR shot and its phone twin) whose time, place and camera a copy takes."""
from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.lookups import LOOKUPS
from support.rows import phone, when

from demokit.library import View, draw_scene, render_view, whatsapp_copy
from metasync.config import Settings
from metasync.detect.events import assign_roles
from metasync.engine import Engine
from metasync.errors import InvalidRequestError
from metasync.fields import FIELDS
from metasync.index import Index
from metasync.models import Group, Metadata, Photo
from metasync.naming import find_existing_sidecar, received_day
from metasync.plan import plan_group
from metasync.plan.copies import LIGHTNESS_NOISE, original_of
from metasync.scan.exif import ExifTool
from metasync.write import sidecar

S = Settings(db_path="/nonexistent/index.db")
SIZE = (512, 384)
PHONE = {"EXIF:Make": "Apple", "EXIF:Model": "iPhone 15", "EXIF:OffsetTimeOriginal": "+01:00",
         "EXIF:GPSLatitudeRef": "N", "EXIF:GPSLongitudeRef": "W", "EXIF:GPSAltitude": 50, "EXIF:GPSAltitudeRef": 0}
CANON = {"EXIF:Make": "Canon", "EXIF:Model": "Canon EOS R6", "EXIF:SerialNumber": "012345678901",
         "EXIF:LensModel": "RF24-105mm F4 L IS USM", "EXIF:FNumber": 4.0, "EXIF:FocalLength": 50.0}


def test_received_day_is_read_from_messenger_names_only():
    assert received_day("IMG-20240605-WA0012.jpg") == "2024-06-05"
    assert received_day("VID-20240605-WA3.mp4") == "2024-06-05"
    assert received_day("img-20240605-wa0012 (1).jpeg") == "2024-06-05"
    assert received_day("IMG-20241305-WA0001.jpg") is None  # month 13
    assert received_day("IMG_20240605_143000.jpg") is None  # a phone's own name carries a capture time
    assert received_day("Screenshot_20240605-143000.png") is None
    with pytest.raises(InvalidRequestError, match="read from the file name"):  # nobody sets it by hand
        FIELDS["received_day"].from_user("2024-06-05")


# -- the original among look-alikes, on Photo rows ---------------------------------------------------------------
def _row(pid: int, path: str, meta: Metadata, phash: int, detail: int | None = None) -> Photo:
    return Photo(pid, path, meta, phash=phash, detail_hash=detail)


def _plan(*photos: Photo):
    group = Group(7, assign_roles(list(photos)), confidence=0.9)
    plan = plan_group(group, {p.id: p for p in photos}, S, LOOKUPS)
    return {(c.path.rsplit("/", 1)[-1], c.field): c for c in plan.changes}


H = 0x0123456789ABCDEF
D = (1 << 255) | 0xFFFF  # a 256-bit detail hash


def test_a_copy_of_a_dslr_shot_takes_the_dslr_not_its_phone_twin():
    """The phone shot and the DSLR shot 4 s later look alike to the 64-bit pHash; the detail hash tells which one
    the copy was made of, though the DSLR is a target (it gives nothing) and the phone a source."""
    twin = phone(1, 0, phash=H)
    twin = Photo(1, twin.path, twin.meta, phash=H, detail_hash=D ^ 0xFF00FF)  # 16 bits from the copy
    camera = _row(2, "/lib/c/_MG_0001.JPG", Metadata(datetime_original="2024-05-12T14:00:04", make="Canon",
                                                    model="Canon EOS R6", serial_number="0123"), H ^ 1, D ^ 0b11)
    copy = _row(3, "/lib/wa/IMG-20240513-WA0001.jpg", Metadata(received_day="2024-05-13"), H ^ 2, D)
    ch = _plan(twin, camera, copy)
    name = copy.name
    assert ch[(name, "make")].new == "Canon" and ch[(name, "serial_number")].new == "0123"
    assert ch[(name, "datetime_original")].new == "2024-05-12T14:00:04"
    assert ch[(name, "datetime_original")].source == camera.path
    assert "detail distance 2" in ch[(name, "datetime_original")].reason
    # the copy's position is the one the DSLR gets in this very plan, not the phone's own
    assert ch[(name, "gps_latitude")].new == ch[("_MG_0001.JPG", "gps_latitude")].new
    assert ch[(name, "gps_latitude")].source == camera.path


def test_the_received_day_rules_out_later_originals_and_prefers_the_days_before():
    copy = _row(9, "/lib/wa/IMG-20240514-WA0001.jpg", Metadata(received_day="2024-05-14"), H)
    shot = {d: _row(d, f"/lib/a/IMG_{d:04d}.JPG", Metadata(datetime_original=f"2024-05-{d:02d}T12:00:00+02:00",
                                                            make="Apple", model="iPhone 13"), H ^ 1)
            for d in (6, 13, 16)}
    found = original_of(copy, list(shot.values()), S)
    assert found is not None and found.photo.id == 13 and found.alike == ()  # the 16th is after it was received
    assert "received 2024-05-14" in found.why
    found = original_of(copy, [shot[6], shot[16]], S)
    assert found is not None and found.photo.id == 6 and "taken outside the days before" in found.why
    assert original_of(copy, [shot[16]], S) is None


def test_a_messenger_copy_without_an_original_gets_no_time():
    """A timeless photo takes the nearest photo's time when nothing better exists; a messenger copy does not: its
    name says when it was received, and a look-alike (similar, not the same shot) is no original."""
    source = phone(1, 0, phash=H)
    similar = H ^ 0b1111111  # 7 bits: similar, not the same shot
    plain = _row(2, "/lib/x/scan.jpg", Metadata(), similar)
    copy = _row(3, "/lib/wa/IMG-20240512-WA0001.jpg", Metadata(received_day="2024-05-12"), similar)
    ch = _plan(source, plain, copy)
    assert ch[("scan.jpg", "datetime_original")].new == when(0)
    assert not {f for n, f in ch if n == copy.name} & {"datetime_original", "offset_time", "received_day"}


def test_a_copys_own_precise_time_is_kept_and_its_day_never_planned():
    original = phone(1, 0, phash=H)
    copy = _row(2, "/lib/wa/IMG-20240514-WA0001.jpg",
                Metadata(datetime_original=when(2), received_day="2024-05-14"), H ^ 1)
    ch = _plan(original, copy)
    assert (copy.name, "datetime_original") not in ch and (copy.name, "received_day") not in ch
    assert ch[(copy.name, "make")].new == "Apple"


def test_originals_alike_to_both_hashes_are_told_apart_by_exposure():
    """Two phone shots of one view 4 min apart hash alike to the copy at 64 and 256 bits; only the exposure (mean
    lightness, which hashes ignore and a copy keeps) tells which one it was made of, the second in path order."""
    def shot(pid: int, minutes: float, iso: float, lightness: float | None) -> Photo:
        p = phone(pid, minutes, iso=iso)
        return Photo(pid, p.path, p.meta, phash=H ^ 1, detail_hash=D ^ 0b11, lightness=lightness)

    first, second = shot(1, 0, 400.0, 36.69), shot(2, 4, 100.0, 35.24)
    copy = Photo(3, "/lib/wa/IMG-20240514-WA0001.jpg", Metadata(received_day="2024-05-14"), phash=H, detail_hash=D,
                 lightness=35.31)
    ch = _plan(first, second, copy)
    taken = ch[(copy.name, "datetime_original")]
    assert taken.new == when(4) and taken.source == second.path and not taken.conflict
    assert "exposed alike (lightness 35.24, the copy 35.31; 1 look-alike(s) as near by hash are not)" in taken.reason
    assert ch[(copy.name, "iso")].new == 100.0 and not ch[(copy.name, "iso")].conflict
    # exposed alike within what recompression moves, or the copy's exposure unknown: both stay equally near
    near = Photo(2, second.path, second.meta, phash=H ^ 1, detail_hash=D ^ 0b11,
                 lightness=first.lightness - LIGHTNESS_NOISE / 2)
    for case in (original_of(copy, [first, near], S),
                 original_of(Photo(3, copy.path, copy.meta, phash=H, detail_hash=D), [first, second], S)):
        assert case is not None and {case.photo.id, *(p.id for p in case.alike)} == {1, 2}
    assert ch[(copy.name, "iso")].source == second.path


# -- real files: scan, suggest, apply, read back -----------------------------------------------------------------
def _shot(path: Path, exif: ExifTool, scene, view: View, tags: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    render_view(scene, SIZE, view).save(path, "JPEG", quality=92)
    exif.write_tags(path, tags)
    return path


def _messenger_copy(path: Path, original: Path, received: datetime) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(original) as im:
        whatsapp_copy(im.convert("RGB")).save(path, "JPEG", quality=70)
    os.utime(path, (received.timestamp(), received.timestamp()))
    return path


def _applied(root: Path, tmp: Path) -> dict[str, dict]:
    with Engine(Settings(db_path=tmp / "index.db", library_roots=(root,))) as engine:
        engine.suggest([root])
        for g in engine.index.groups(status="pending"):
            engine.apply(g.id, min_confidence=0.0)
        days = {Path(p.path).name: p.meta.received_day for p in engine.index.photos()}
    out = {}
    for photo in root.rglob("*.jpg"):
        xmp = find_existing_sidecar(photo)
        out[photo.name] = {**(sidecar.read_values(xmp.read_bytes()) if xmp else {}), "day": days[photo.name]}
    return out


def test_copies_on_disk_take_their_originals_values_never_their_received_day(tmp_path: Path, exiftool: ExifTool):
    rng = np.random.default_rng(5)
    root = tmp_path / "lib"
    scene, other = draw_scene(11, SIZE), draw_scene(912, SIZE)
    view = View(0.004, -0.003, 1.01, 0.1)
    iphone = {"IMG_0001.jpg": ("2024:06:05 14:00:00", "120", 38.7223, view),
              "IMG_0002.jpg": ("2024:06:05 14:05:00", "480", 38.7240, View(-0.01, 0.008, 1.03, -0.2))}
    for name, (t, sub, lat, v) in iphone.items():
        _shot(root / "iPhone" / name, exiftool, scene, v, {**PHONE, "EXIF:DateTimeOriginal": t,
              "EXIF:SubSecTimeOriginal": sub, "EXIF:GPSLatitude": lat, "EXIF:GPSLongitude": 9.1393})
    dslr = _shot(root / "EOS" / "_MG_0001.jpg", exiftool, scene, view.near(rng, 0.006, (1.03, 1.05)),
                 {**CANON, "EXIF:DateTimeOriginal": "2024:06:05 14:01:30"})  # 90 s after the phone's
    lisbon = timezone(datetime.fromisoformat("2024-06-05T00:00:00+01:00").utcoffset())
    _messenger_copy(root / "WhatsApp" / "IMG-20240606-WA0001.jpg", dslr, datetime(2024, 6, 6, 9, 30, tzinfo=lisbon))
    # a copy whose original is not in the library, and a copy that kept a precise time of its own
    _shot(tmp_path / "elsewhere.jpg", exiftool, other, View(), {"EXIF:Make": "Canon"})
    _messenger_copy(root / "WhatsApp" / "IMG-20240607-WA0002.jpg", tmp_path / "elsewhere.jpg",
                    datetime(2024, 6, 7, 20, 0, tzinfo=lisbon))
    kept = _messenger_copy(root / "WhatsApp" / "IMG-20240607-WA0003.jpg", root / "iPhone" / "IMG_0002.jpg",
                           datetime(2024, 6, 7, 21, 0, tzinfo=lisbon))
    exiftool.write_tags(kept, {"EXIF:DateTimeOriginal": "2024:06:05 14:05:30", "EXIF:OffsetTimeOriginal": "+01:00"})

    got = _applied(root, tmp_path)
    copy, camera = got["IMG-20240606-WA0001.jpg"], got["_MG_0001.jpg"]
    assert copy["day"] == "2024-06-06" and copy.get("received_day") is None  # indexed, never written
    assert (copy["make"], copy["model"], copy["serial_number"]) == ("Canon", "Canon EOS R6", "012345678901")
    assert copy["datetime_original"].startswith("2024-06-05T14:01:30")  # the DSLR's, not the phone twin's
    assert camera["gps_latitude"] is not None and copy["gps_latitude"] == camera["gps_latitude"]
    assert copy["gps_longitude"] == camera["gps_longitude"]
    lonely = got["IMG-20240607-WA0002.jpg"]
    assert lonely["day"] == "2024-06-07" and lonely.get("datetime_original") is None
    assert got["IMG-20240607-WA0003.jpg"].get("datetime_original") in (None, "2024-06-05T14:05:30+01:00")


def test_photos_indexed_before_detail_hashes_are_read_again_once(tmp_path: Path, exiftool: ExifTool):
    root = tmp_path / "lib"
    _messenger_copy(root / "IMG-20240606-WA0001.jpg", _shot(tmp_path / "o.jpg", exiftool, draw_scene(3, SIZE),
                                                             View(), {"EXIF:Make": "Canon"}), datetime(2024, 6, 6))
    with Engine(Settings(db_path=tmp_path / "index.db", library_roots=(root,))) as engine:
        engine.scan([root])
        path = str((root / "IMG-20240606-WA0001.jpg").resolve())
        fresh = engine.index.photo_by_path(path)
        assert fresh.detail_hash is not None and fresh.meta.received_day == "2024-06-06"
        with engine.index.transaction() as c:  # the row as an index of the previous version holds it
            c.execute("UPDATE files SET detail_hash = NULL, metadata = '{}' WHERE path = ?", (path,))
        assert engine.scan([root])["changed"] == 1
        again = engine.index.photo_by_path(path)
        assert (again.detail_hash, again.meta.received_day) == (fresh.detail_hash, "2024-06-06")
        assert engine.scan([root])["changed"] == 0


def test_a_copy_keeps_its_originals_lightness_through_the_scan_and_old_indexes_get_it_from_the_cache(
        tmp_path: Path, exiftool: ExifTool):
    root = tmp_path / "lib"
    original = _shot(root / "o.jpg", exiftool, draw_scene(5, SIZE), View(), {"EXIF:Make": "Canon"})
    _messenger_copy(root / "IMG-20240606-WA0001.jpg", original, datetime(2024, 6, 6))
    db = tmp_path / "index.db"
    with Engine(Settings(db_path=db, library_roots=(root,))) as engine:
        engine.scan([root])
        o, c = (engine.index.photo_by_path(str(p.resolve())) for p in (original, root / "IMG-20240606-WA0001.jpg"))
        cached = engine.index.scene_cache_get("local", [o.content_hash])[o.content_hash]
        assert o.lightness == cached["brightness"] and c.lightness is not None
        assert abs(o.lightness - c.lightness) <= LIGHTNESS_NOISE
    with sqlite3.connect(db) as conn:  # the rows as an index of schema 6 holds them, the scene cache beside
        conn.execute("UPDATE files SET lightness = NULL")
        conn.execute("ALTER TABLE files DROP COLUMN lightness")
        conn.execute("PRAGMA user_version = 6")
    with Index(db) as index:
        assert index.schema_version >= 7 and index.photo_by_path(o.path).lightness == o.lightness
