"""Apply writes sidecars (journaled, verified); revert gives back exactly what was there."""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from support.apply import TARGET_VALUES, read_tags, temp_files, tree_state

from metasync.errors import ConflictError, LockedError, MetasyncError
from metasync.fields import FIELDS
from metasync.models import GroupMember, Photo
from metasync.write import apply as apply_module
from metasync.write import journal
from metasync.write.apply import revert_group
from metasync.write.lock import library_lock


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def host_edit(exiftool, path: Path, **tags) -> None:
    """A host program edits the sidecar after our apply (ExifTool plays the host)."""
    exiftool.write_tags(path, tags)


def test_apply_creates_sidecars_and_revert_removes_them(lib, tmp_path, exiftool):
    photos = tmp_path / "photos"
    before = tree_state(photos)

    result = lib.apply_plan(lib.group, lib.plan())

    assert set(result) == {"group", "applied", "skipped", "sidecars", "files"}
    assert result["group"] == lib.group.id
    assert result["applied"] == len(lib.targets) * len(TARGET_VALUES)
    assert result["skipped"] == []
    assert result["sidecars"] == sorted(t + ".xmp" for t in lib.targets)
    for t in lib.targets:
        city, lat = read_tags(exiftool, Path(t + ".xmp"), "XMP:City", "XMP:GPSLatitude")
        assert (city, round(lat, 6)) == ("Paris", 48.85837)
        assert result["files"][t]["city"] == "Paris"
        assert result["files"][t]["make"] == "Canon"  # unchanged values are part of the picture
    assert lib.refresh_group().status == "applied"
    assert temp_files(photos) == []

    reverted = revert_group(lib.engine.index, lib.group.id)

    assert reverted["group"] == lib.group.id
    assert reverted["removed"] == sorted(t + ".xmp" for t in lib.targets)
    assert reverted["restored"] == []
    assert reverted["files"][lib.targets[0]]["city"] is None
    assert tree_state(photos) == before
    assert lib.refresh_group().status == "reverted"
    assert lib.engine.index.photo_by_path(lib.targets[0]).meta.city is None


CORPUS_SIDECARS = [
    pytest.param("sidecars/darktable/0175-agx.xmp", ".jpg.xmp", id="darktable-v5"),
    pytest.param("sidecars/darktable/0000-nop.xmp", ".jpg.xmp", id="darktable-gps"),
    pytest.param("sidecars/darktable/_27A1417.CR2.xmp", ".jpg.xmp", id="darktable-legacy-bibble"),
    pytest.param("sidecars/digikam/20240107_110258.jpg.xmp", ".jpg.xmp", id="digikam-xap-prefix"),
    pytest.param("sidecars/digikam/digikam-example.xmp", ".jpg.xmp", id="digikam-tagslist"),
    pytest.param("sidecars/lightroom/flatxmp.xmp", ".xmp", id="lightroom-classic"),
    pytest.param("sidecars/lightroom/testimagedesc1.xmp", ".xmp", id="lightroom-6"),
]


def _place_sidecar(corpus: Path, rel: str, photo: str, suffix: str) -> Path:
    dest = Path(photo[:-len(".jpg")] + suffix if suffix == ".xmp" else photo + ".xmp")
    shutil.copyfile(corpus / rel, dest)
    return dest


@pytest.mark.parametrize(("rel", "suffix"), CORPUS_SIDECARS)
def test_round_trip_with_host_sidecar_restores_identical_bytes(lib, corpus, tmp_path, exiftool, rel, suffix):
    photos = tmp_path / "photos"
    existing = _place_sidecar(corpus, rel, lib.targets[0], suffix)
    before = tree_state(photos)

    result = lib.apply_plan(lib.group, lib.plan())

    assert str(existing) in result["sidecars"], "the host's sidecar is the one written"
    assert not Path(lib.targets[0] + ".xmp").exists() or suffix == ".jpg.xmp", "never two sidecars for one photo"
    assert sha(existing) != before[existing.name]
    assert read_tags(exiftool, existing, "XMP:City") == ["Paris"]

    reverted = revert_group(lib.engine.index, lib.group.id)

    assert str(existing) in reverted["restored"]
    assert tree_state(photos) == before, "every file back to identical bytes, created sidecars gone"


def test_revert_after_host_edit_keeps_the_edit_and_restores_previous_values(lib, corpus, exiftool):
    """darktable's sidecar had GPS; we changed it and added a city; the user then rated the photo."""
    existing = _place_sidecar(corpus, "sidecars/darktable/0000-nop.xmp", lib.targets[0], ".jpg.xmp")
    [old_lat] = read_tags(exiftool, existing, "XMP:GPSLatitude")
    lib.apply_plan(lib.group, lib.plan())
    host_edit(exiftool, existing, **{"XMP-xmp:Rating": 5, "XMP-dc:Title": "Edited in host"})
    edited_sha = sha(existing)

    reverted = revert_group(lib.engine.index, lib.group.id)

    assert str(existing) in reverted["restored"]
    assert sha(existing) != edited_sha
    rating, title, city, lat = read_tags(exiftool, existing, "XMP:Rating", "XMP:Title", "XMP:City",
                                         "XMP:GPSLatitude")
    assert (rating, title) == (5, "Edited in host"), "the host's edit survives the revert"
    assert city is None, "our city is gone"
    assert abs(lat - old_lat) < 1e-6, "the sidecar's own GPS is back"
    assert "darktable:history" in existing.read_text(encoding="utf-8")
    # the untouched second target was restored byte-exact (removed: it had no sidecar)
    assert lib.targets[1] + ".xmp" in reverted["removed"]


def test_revert_keeps_a_field_the_host_changed_after_us(lib, exiftool):
    lib.apply_plan(lib.group, lib.plan())
    target = Path(lib.targets[0] + ".xmp")
    host_edit(exiftool, target, **{"XMP-photoshop:City": "Versailles"})

    reverted = revert_group(lib.engine.index, lib.group.id)

    city, lat = read_tags(exiftool, target, "XMP:City", "XMP:GPSLatitude")
    assert city == "Versailles"
    assert lat is None, "fields still ours were taken out"
    assert reverted["files"][lib.targets[0]]["city"] == "Versailles"


HOSTILE = {
    "billion-laughs": (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                       b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                       b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
                       b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&lol3;</x:xmpmeta>'),
    "external-entity": (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&xxe;</x:xmpmeta>'),
    "not-xml": b"\x89PNG\r\n\x1a\n this is not a sidecar at all \x00\x01",
}


@pytest.mark.parametrize("kind", [*HOSTILE, "50MB"])
def test_hostile_sidecar_is_skipped_with_a_reason_and_left_untouched(lib, tmp_path, kind):
    bad = Path(lib.targets[0] + ".xmp")
    if kind == "50MB":
        with open(bad, "wb") as fh:
            fh.write(b'<x:xmpmeta xmlns:x="adobe:ns:meta/">' + b" " * (50 * 2**20) + b"</x:xmpmeta>")
    else:
        bad.write_bytes(HOSTILE[kind])
    bad_sha = sha(bad)

    result = lib.apply_plan(lib.group, lib.plan())

    assert sha(bad) == bad_sha
    reasons = [s for s in result["skipped"] if s["path"] == lib.targets[0]]
    assert {s["field"] for s in reasons} == set(TARGET_VALUES)
    assert all(str(bad) in s["reason"] or "sidecar" in s["reason"] for s in reasons)
    assert result["sidecars"] == [lib.targets[1] + ".xmp"], "the other photo is still applied"
    assert result["applied"] == len(TARGET_VALUES)


def test_low_confidence_and_conflicts_are_skipped_with_reasons(lib):
    plan = lib.plan(confidence=0.5)
    result = lib.apply_plan(lib.group, plan, min_confidence=0.7)
    assert result["applied"] == 0 and result["sidecars"] == []
    assert all("below the minimum 0.70" in s["reason"] for s in result["skipped"])
    assert lib.refresh_group().status == "pending", "nothing written, nothing applied"

    conflicted = lib.plan(conflict=True)
    assert lib.apply_plan(lib.group, conflicted)["applied"] == 0
    result = lib.apply_plan(lib.group, conflicted, include_conflicts=True)
    assert result["applied"] == len(lib.targets) * len(TARGET_VALUES)


def test_reapply_after_revert_and_history(lib):
    target = lib.targets[0]
    lib.apply_plan(lib.group, lib.plan())
    with pytest.raises(ConflictError, match="already applied"):
        lib.apply_plan(lib.refresh_group(), lib.plan())
    revert_group(lib.engine.index, lib.group.id)
    with pytest.raises(ConflictError, match="nothing applied"):
        revert_group(lib.engine.index, lib.group.id)
    again = lib.apply_plan(lib.refresh_group(), lib.plan({"city": "Lyon"}))
    assert again["applied"] == len(lib.targets)

    versions = lib.engine.history(target)

    assert [v["kind"] for v in versions] == ["apply", "revert", "apply"]
    assert [v["group"] for v in versions] == [lib.group.id] * 3
    assert versions[0]["changes"]["city"] == {"old": None, "new": "Paris", "source": lib.source}
    assert versions[1]["changes"]["city"] == {"old": "Paris", "new": None}
    assert versions[1]["before_sha256"] == versions[0]["after_sha256"]
    assert versions[0]["before_sha256"] is None and versions[1]["after_sha256"] is None
    assert versions[2]["changes"]["city"]["new"] == "Lyon"
    latest = lib.engine.index.execute("SELECT latest_version_id FROM files WHERE path=?", (target,)).fetchone()[0]
    assert latest == versions[2]["version"]


def test_previous_bytes_are_content_addressed_blobs(lib, corpus):
    existing = _place_sidecar(corpus, "sidecars/digikam/digikam-example.xmp", lib.targets[0], ".jpg.xmp")
    original = existing.read_bytes()
    lib.apply_plan(lib.group, lib.plan())
    digest = hashlib.sha256(original).hexdigest()
    blob = lib.engine.index.data_dir / "blobs" / digest[:2] / digest
    assert blob.read_bytes() == original
    assert journal.get_blob(lib.engine.index, digest) == original


def test_second_writer_waits_then_fails_with_a_clear_message(lib):
    with library_lock(lib.engine.index.db_path):
        with pytest.raises(LockedError, match="another metasync process .* is writing to this library"):
            lib.apply_plan(lib.group, lib.plan())
    assert not Path(lib.targets[0] + ".xmp").exists()
    assert lib.apply_plan(lib.group, lib.plan())["applied"] > 0, "the lock is free again"


@pytest.mark.parametrize(("field", "planned", "read", "same"), [
    pytest.param("gps_latitude", 48.85837, 48.858370000001, True, id="float-eps"),
    pytest.param("gps_latitude", 48.85837, 48.86, False, id="float-off"),
    pytest.param("datetime_original", "2024-05-12T14:03:07+02:00", "2024:05:12 14:03:07+02:00", True, id="exif-dt"),
    pytest.param("datetime_original", "2024-05-12T14:03:07+02:00", "2024:05:12 14:03:07+01:00", False, id="dt-off"),
    pytest.param("tags", ["a", "b"], ["b", "a", "host tag"], True, id="tags-kept"),
    pytest.param("tags", ["a", "b"], "a", False, id="tag-missing"),
    pytest.param("serial_number", "012345", "012345", True, id="str"),
    pytest.param("city", None, None, True, id="absent"),
])
def test_same_value(field, planned, read, same):
    assert FIELDS[field].same(planned, read) is same


def test_write_original_puts_values_into_the_image_and_revert_restores_its_bytes(lib, tmp_path, exiftool):
    photos = tmp_path / "photos"
    before = tree_state(photos)
    plan = lib.plan({**TARGET_VALUES, "datetime_original": "2024-05-12T14:05:00+02:00", "gps_altitude": -3.5})

    result = lib.apply_plan(lib.group, plan, write_original=True)

    image = Path(lib.targets[0])
    assert sha(image) != before[image.name]
    city, lat, alt, below_sea, when = read_tags(exiftool, image, "XMP:City", "XMP:GPSLatitude", "XMP:GPSAltitude",
                                                "XMP:GPSAltitudeRef", "XMP:DateTimeOriginal")
    assert (city, round(lat, 6), alt, below_sea) == ("Paris", 48.85837, 3.5, 1)
    assert when.startswith("2024:05:12 14:05:00")
    assert result["sidecars"] == sorted(t + ".xmp" for t in lib.targets), "the sidecars are written as well"
    kinds = {v["target"] for v in lib.engine.history(str(image))}
    assert kinds == {"sidecar", "original"}

    reverted = revert_group(lib.engine.index, lib.group.id)

    assert str(image) in reverted["restored"]
    assert tree_state(photos) == before, "images back to their exact previous bytes"


def test_photos_sharing_one_lightroom_sidecar_are_written_once(lib, corpus):
    """A RAW+JPEG pair with Lightroom naming shares photo.xmp: one of them is written, the other says why not."""
    jpeg = Path(lib.targets[0])
    twin = jpeg.with_suffix(".tif")
    shutil.copyfile(jpeg, twin)
    shared = _place_sidecar(corpus, "sidecars/lightroom/flatxmp.xmp", str(jpeg), ".xmp")
    index = lib.engine.index
    index.upsert_photos([(Photo(id=0, path=str(twin)), None, None)])
    twin_member = GroupMember(index.photo_by_path(str(twin)).id, str(twin), is_source=False)
    index.save_group(replace(lib.group, members=(*lib.group.members, twin_member)))
    plan = lib.plan()
    plan = replace(plan, changes=plan.changes + tuple(replace(c, path=str(twin)) for c in plan.changes
                                                      if c.path == str(jpeg)))

    result = lib.apply_plan(lib.refresh_group(), plan)

    assert result["sidecars"].count(str(shared)) == 1
    assert {s["path"] for s in result["skipped"]} == {str(twin)}
    assert all(f"shares its sidecar {shared}" in s["reason"] for s in result["skipped"])


def test_history_does_not_wait_for_a_busy_writer(lib):
    lib.apply_plan(lib.group, lib.plan())
    with library_lock(lib.engine.index.db_path):
        assert [v["kind"] for v in lib.engine.history(lib.targets[0])] == ["apply"]


def test_engine_apply_plans_the_group_and_stores_overrides_first(lib, exiftool):
    override = {"path": lib.targets[0], "field": "city", "value": "Lyon"}

    result = lib.engine.apply(lib.group.id, overrides=[override])

    assert result["files"][lib.targets[0]]["city"] == "Lyon"
    assert result["files"][lib.targets[1]]["city"] == "Paris"
    assert read_tags(exiftool, Path(lib.targets[0] + ".xmp"), "XMP:City") == ["Lyon"]
    assert lib.engine.revert(lib.group.id)["removed"] == result["sidecars"]


def test_an_offset_travels_inside_the_capture_time(lib, exiftool):
    """XMP has no offset tag: a planned offset writes the photo's capture time with it (and revert undoes it)."""
    index = lib.engine.index
    undated = index.photo_by_path(lib.targets[1])
    index.upsert_photos([(replace(undated, meta=replace(undated.meta, datetime_original=None)), None, None)])

    result = lib.apply_plan(lib.group, lib.plan({"offset_time": "+02:00", "city": "Paris"}))

    assert read_tags(exiftool, Path(lib.targets[0] + ".xmp"), "XMP:DateTimeOriginal") == ["2024:05:12 14:03:07+02:00"]
    assert result["files"][lib.targets[0]]["datetime_original"] == "2024-05-12T14:03:07+02:00"
    assert result["files"][lib.targets[0]]["offset_time"] == "+02:00"
    assert result["applied"] == 3, "the offset of the undated photo is skipped, its city is not"
    assert [(s["path"], s["field"]) for s in result["skipped"]] == [(lib.targets[1], "offset_time")]
    assert "no capture time" in result["skipped"][0]["reason"]
    history_changes = lib.engine.history(lib.targets[0])[0]["changes"]
    assert set(history_changes) == {"offset_time", "city", "datetime_original"}

    revert_group(lib.engine.index, lib.group.id)
    assert not Path(lib.targets[0] + ".xmp").exists()


def test_a_value_xmp_cannot_hold_is_skipped_alone(lib, exiftool):
    result = lib.apply_plan(lib.group, lib.plan({"gps_latitude": 213.0, "city": "Paris"}))

    assert {(s["field"], "outside -90..90" in s["reason"]) for s in result["skipped"]} == {("gps_latitude", True)}
    assert result["applied"] == len(lib.targets)
    assert read_tags(exiftool, Path(lib.targets[0] + ".xmp"), "XMP:City", "XMP:GPSLatitude") == ["Paris", None]


def test_a_failed_write_puts_every_file_back(lib, corpus, tmp_path, monkeypatch):
    """The disk fills up at the second sidecar (simulated: a full disk cannot be made on demand here)."""
    _place_sidecar(corpus, "sidecars/digikam/digikam-example.xmp", lib.targets[0], ".jpg.xmp")
    photos = tmp_path / "photos"
    before = tree_state(photos)
    real_replace, calls = os.replace, []

    def replace_until_full(src, dst):
        if Path(dst).parent == photos:  # sidecars, not the journal's blobs
            calls.append(dst)
        if len(calls) == 2 and calls[-1] == dst:
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(apply_module.os, "replace", replace_until_full)
    with pytest.raises(MetasyncError, match="No space left on device; every file was put back"):
        lib.apply_plan(lib.group, lib.plan())
    monkeypatch.undo()

    assert len(calls) >= 2, "the first sidecar had been written when the disk filled up"
    assert tree_state(photos) == before
    assert journal.pending_operations(lib.engine.index) == []
    assert lib.refresh_group().status == "pending"


def test_long_file_names_keep_temp_names_within_limits(lib, tmp_path, exiftool):
    long_photo = Path(lib.targets[0]).with_name("x" * 240 + ".jpg")
    Path(lib.targets[0]).rename(long_photo)
    index = lib.engine.index
    index.move_file(lib.targets[0], str(long_photo), long_photo.stat().st_mtime_ns)
    lib.targets[0] = str(long_photo)

    result = lib.apply_plan(lib.refresh_group(), lib.plan())

    assert str(long_photo) + ".xmp" in result["sidecars"]
