"""The demo generator writes what its ground truth says, and its pictures make perceptual hashing meaningful."""
from __future__ import annotations

import hashlib
import re
import statistics
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from demokit.library import Truth, generate_library
from metasync.scan.exif import ExifTool
from metasync.scan.phash import phash_file
from metasync.timeutil import parse_offset
from metasync.track import distance_m

METADATA_GROUPS = ("EXIF", "XMP", "IPTC", "MakerNotes", "ICC_Profile", "Photoshop")


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


@pytest.fixture(scope="module")
def tags(demo_library: Truth, exiftool: ExifTool) -> dict[str, dict[str, Any]]:
    """Raw `-G -n` tags of every generated file, keyed by relative path."""
    raw = exiftool.read_raw([demo_library.path(p) for p in demo_library.photos])
    return {p.path: raw[str(demo_library.path(p))] for p in demo_library.photos}


@pytest.fixture(scope="module")
def hashes(demo_library: Truth) -> dict[str, int]:
    return {p.path: phash_file(demo_library.path(p)) for p in demo_library.photos}


def local_wall(utc_iso: str, offset: str) -> datetime:
    return (datetime.fromisoformat(utc_iso) + parse_offset(offset)).replace(tzinfo=None)


def test_library_layout_and_counts(demo_library: Truth) -> None:
    kinds = [p.kind for p in demo_library.photos]
    assert (kinds.count("phone"), kinds.count("dslr"), kinds.count("whatsapp")) == (12, 6, 3)
    on_disk = {str(p.relative_to(demo_library.root)) for p in demo_library.root.rglob("*.*")} - {"ground_truth.json"}
    assert on_disk == {p.path for p in demo_library.photos}
    for p in demo_library.photos:
        folder = {"phone": "phone", "dslr": "camera", "whatsapp": "whatsapp"}[p.kind]
        assert p.path.split("/")[:2] == [p.event, folder]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} .+", p.event)
    names = [p.path.rsplit("/", 1)[1] for p in demo_library.photos]
    assert any(re.fullmatch(r"IMG_\d{4}\.JPG", n) for n in names)
    assert any(re.fullmatch(r"\d{8}_\d{6}\.jpg", n) for n in names)
    assert any(re.fullmatch(r"(_MG_|DSC_)\d{4}\.JPG", n) for n in names)
    assert all(re.fullmatch(r"IMG-\d{8}-WA\d{4}\.jpg", p.path.rsplit("/", 1)[1]) for p in demo_library.of_kind("whatsapp"))


def test_phone_photos_carry_gps_time_with_offset_and_camera(demo_library: Truth, tags) -> None:
    for p in demo_library.of_kind("phone"):
        t = tags[p.path]
        assert t["EXIF:Make"] in ("Apple", "samsung") and t["EXIF:Model"] in ("iPhone 15", "SM-S918B")
        assert t["EXIF:GPSLatitude"] == pytest.approx(p.lat, abs=2e-6)
        assert t["EXIF:GPSLongitude"] == pytest.approx(p.lon, abs=2e-6)
        assert t["EXIF:GPSLatitudeRef"] == "N" and t["EXIF:GPSLongitudeRef"] == "E"
        assert t["EXIF:GPSAltitude"] == pytest.approx(p.alt, abs=0.06)
        assert t["EXIF:OffsetTimeOriginal"] == p.offset == "+02:00"
        written = datetime.strptime(f"{t['EXIF:DateTimeOriginal']}.{t['EXIF:SubSecTimeOriginal']}",
                                    "%Y:%m:%d %H:%M:%S.%f")
        assert abs((written - local_wall(p.utc, p.offset)).total_seconds()) < 0.001


def test_dslr_photos_have_exposure_and_a_wrong_clock_but_no_gps_or_offset(demo_library: Truth, tags) -> None:
    offset_s = demo_library.params["dslr_clock_offset_s"]
    for p in demo_library.of_kind("dslr"):
        t = tags[p.path]
        assert t["EXIF:Model"] in ("Canon EOS R6", "NIKON Z 6_2")
        for tag in ("EXIF:SerialNumber", "EXIF:LensModel", "EXIF:ISO", "EXIF:FNumber", "EXIF:ExposureTime",
                    "EXIF:FocalLength"):
            assert tag in t, tag
        assert not [k for k in t if "GPS" in k or "OffsetTime" in k]
        written = datetime.strptime(t["EXIF:DateTimeOriginal"], "%Y:%m:%d %H:%M:%S")
        assert (written - local_wall(p.utc, p.offset)).total_seconds() == pytest.approx(offset_s, abs=1)
        assert demo_library.cameras[p.device] == offset_s


def test_whatsapp_copies_have_no_metadata_and_hash_like_their_original(demo_library: Truth, tags, hashes) -> None:
    for p in demo_library.of_kind("whatsapp"):
        assert not [k for k in tags[p.path] if k.split(":")[0] in METADATA_GROUPS]
        original = demo_library.photo(p.original)
        assert original.kind == "phone" and original.event == p.event
        assert (p.utc, p.lat, p.lon) == (original.utc, original.lat, original.lon)
        assert hamming(hashes[p.path], hashes[original.path]) <= 4
        assert tags[p.path]["File:ImageWidth"] < tags[original.path]["File:ImageWidth"]


def test_same_event_photos_look_alike_and_events_look_different(demo_library: Truth, hashes) -> None:
    photos = demo_library.photos
    same, cross = [], []
    for i, a in enumerate(photos):
        for b in photos[i + 1:]:
            (same if a.event == b.event else cross).append(hamming(hashes[a.path], hashes[b.path]))
    assert statistics.median(same) <= 8 and sum(d <= 10 for d in same) / len(same) >= 0.9
    assert min(cross) >= 16 and sum(d > 20 for d in cross) / len(cross) >= 0.95


def test_dslr_twins_are_seconds_from_a_lookalike_phone_shot_and_the_others_are_alone(demo_library: Truth,
                                                                                        hashes) -> None:
    apart = []
    for cam in demo_library.of_kind("dslr"):
        phones = [p for p in demo_library.of_kind("phone") if p.event == cam.event]
        twin = min(phones, key=lambda p: abs(p.utc_epoch - cam.utc_epoch))
        gap = cam.utc_epoch - twin.utc_epoch
        assert abs(gap) <= 8.5 or abs(gap) >= 89, gap  # the same moment, or a shot of its own (whole seconds)
        if abs(gap) <= 8.5:
            apart.append(gap)
            assert hamming(hashes[cam.path], hashes[twin.path]) <= 10
            assert distance_m(cam.lat, cam.lon, twin.lat, twin.lon) < 10
    assert len(apart) >= 2 * len(demo_library.events)
    assert min(apart) < 0 < max(apart)  # before and after their phone shot


def test_larger_events_also_have_dslr_shots_without_a_phone_twin(tmp_path: Path, exiftool: ExifTool) -> None:
    truth = generate_library(tmp_path / "lib", seed=5, events=1, photos_per_event=12, size=(160, 120),
                             exiftool=exiftool)
    phones = [p.utc_epoch for p in truth.of_kind("phone")]
    gaps = sorted(min(abs(c.utc_epoch - t) for t in phones) for c in truth.of_kind("dslr"))
    assert len(gaps) == 4 and max(gaps[:3]) <= 8.5 and gaps[3] >= 89


def test_ground_truth_walks_and_same_day_events(demo_library: Truth) -> None:
    for event in demo_library.events:
        phones = sorted((p for p in demo_library.of_kind("phone") if p.event == event.id), key=lambda p: p.utc)
        gaps = [b.utc_epoch - a.utc_epoch for a, b in zip(phones, phones[1:])]
        assert all(300 <= g <= 601 for g in gaps)
        for p in phones:  # a photo's position is the walk's position at its moment
            lat, lon, _ = event.position_at(p.utc_epoch)
            assert distance_m(lat, lon, p.lat, p.lon) < 0.1
        steps = [distance_m(*a[1:3], *b[1:3]) / (b[0] - a[0]) for a, b in zip(event.track, event.track[1:])]
        assert all(0.3 < v < 1.0 for v in steps)  # walking pace
    first, second = demo_library.events[:2]
    assert first.id[:10] == second.id[:10]  # events come in pairs on one day...
    assert distance_m(*first.track[0][1:3], *second.track[0][1:3]) > 20_000  # ...far apart


def test_generation_is_deterministic_for_a_seed(tmp_path: Path, exiftool: ExifTool) -> None:
    def digest(truth: Truth) -> dict[str, str]:
        return {p.path: hashlib.sha256(truth.path(p).read_bytes()).hexdigest() for p in truth.photos}

    kw = dict(events=2, photos_per_event=3, size=(320, 240), exiftool=exiftool)
    a = generate_library(tmp_path / "a", seed=3, **kw)
    b = generate_library(tmp_path / "b", seed=3, **kw)
    c = generate_library(tmp_path / "c", seed=4, **kw)
    assert digest(a) == digest(b)
    assert a.to_dict() == b.to_dict()
    assert digest(a) != digest(c)
    assert Truth.load(tmp_path / "a").to_dict() == a.to_dict()


def test_library_fixture_is_a_private_copy(library: Truth, demo_library: Truth) -> None:
    assert library.root != demo_library.root
    photo = library.photos[0]
    library.path(photo).with_name(library.path(photo).name + ".xmp").write_text("x")
    assert not demo_library.path(photo).with_name(demo_library.path(photo).name + ".xmp").exists()
    assert library.to_dict() == demo_library.to_dict()


# -- scenarios ----------------------------------------------------------------------------------------------------
def read(truth: Truth, et: ExifTool) -> dict[str, dict[str, Any]]:
    raw = et.read_raw([truth.path(r) for r in truth.roles])
    return {role: raw[str(truth.path(role))] for role in truth.roles}


def has(tags: dict[str, Any], *names: str) -> bool:
    return all(any(k.endswith(":" + n) for k in tags) for n in names)


def test_scenario_phone_and_dslr(phone_and_dslr: Truth, exiftool: ExifTool) -> None:
    t = read(phone_and_dslr, exiftool)
    assert has(t["phone"], "GPSLatitude", "OffsetTimeOriginal", "Make")
    assert has(t["dslr"], "SerialNumber", "LensModel") and not has(t["dslr"], "GPSLatitude")
    phone, dslr = phone_and_dslr.photo("phone"), phone_and_dslr.photo("dslr")
    assert dslr.utc_epoch - phone.utc_epoch == pytest.approx(120, abs=1)
    assert distance_m(phone.lat, phone.lon, dslr.lat, dslr.lon) < 50
    assert phone_and_dslr.expected["added"]["dslr"]["gps_latitude"] == phone.lat
    assert hamming(phash_file(phone_and_dslr.path("phone")), phash_file(phone_and_dslr.path("dslr"))) <= 10


def test_scenario_birthday_party(birthday_party: Truth, exiftool: ExifTool) -> None:
    exp = birthday_party.expected
    assert len(birthday_party.roles) == 15 and len(exp["sources"]) == 5 and len(exp["targets"]) == 10
    t = read(birthday_party, exiftool)
    counts = {"full": 0, "gps_only": 0, "exif_only": 0, "whatsapp": 0}
    for role, tags in t.items():
        kind = role.rsplit("_", 1)[0]
        counts[kind] += 1
        gps, camera, time = has(tags, "GPSLatitude"), has(tags, "Make"), has(tags, "DateTimeOriginal")
        assert (gps, camera, time) == {"full": (True, True, True), "gps_only": (True, False, False),
                                       "exif_only": (False, True, True), "whatsapp": (False, False, False)}[kind], role
    assert counts == {"full": 5, "gps_only": 5, "exif_only": 3, "whatsapp": 2}
    hashes = {r: phash_file(birthday_party.path(r)) for r in birthday_party.roles}
    for copy, original in exp["same_shot"].items():
        assert hamming(hashes[copy], hashes[original]) <= 4
        assert exp["added"][copy] == birthday_party.photo(original).meta
    for role in exp["targets"]:  # every target looks like some source
        assert min(hamming(hashes[role], hashes[s]) for s in exp["sources"]) <= 10


def test_scenario_paris_london(paris_london: Truth) -> None:
    paris, target, london = (paris_london.photo(r) for r in ("paris", "target", "london"))
    assert london.utc_epoch - paris.utc_epoch == 3600
    assert distance_m(paris.lat, paris.lon, london.lat, london.lon) > 300_000
    assert "gps_latitude" not in target.meta and target.meta["offset_time"] == "+02:00"
    assert london.meta["offset_time"] == "+01:00"
    hashes = [phash_file(paris_london.path(r)) for r in ("paris", "target", "london")]
    assert max(hamming(a, b) for a in hashes for b in hashes) <= 10
    assert paris_london.expected["band"] == "low"


def test_scenario_two_events_same_day(two_events_same_day: Truth) -> None:
    a, b = two_events_same_day.expected["groups"]
    pa, pb = two_events_same_day.photo(a[0]), two_events_same_day.photo(b[0])
    assert distance_m(pa.lat, pa.lon, pb.lat, pb.lon) > 20_000
    assert timedelta(0) < datetime.fromisoformat(pb.utc) - datetime.fromisoformat(pa.utc) <= timedelta(hours=1)
    ha = [phash_file(two_events_same_day.path(r)) for r in a]
    hb = [phash_file(two_events_same_day.path(r)) for r in b]
    assert min(hamming(x, y) for x in ha for y in hb) > 20
    assert "gps_latitude" not in two_events_same_day.photo("a_dslr").meta


def test_scenario_dst_camera(dst_camera: Truth, exiftool: ExifTool) -> None:
    t = read(dst_camera, exiftool)
    assert not any(has(tags, "OffsetTimeOriginal") for tags in t.values())
    assert all(has(tags, "GPSLatitude") for tags in t.values())
    assert dst_camera.expected["offset_time"] == {
        "sat_noon": "+01:00", "sun_0130": "+01:00", "sun_0330": "+02:00", "sun_noon": "+02:00"}
    # the camera's wall clock is the true local time
    for role in t:
        p = dst_camera.photo(role)
        assert datetime.fromisoformat(p.meta["datetime_original"]) == local_wall(p.utc, p.offset)


def test_demo_run_generates_then_reuses_and_scans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from demokit.run import main

    args = ["--dest", str(tmp_path / "demo"), "--events", "2", "--photos-per-event", "3", "--no-serve"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "[generate] generated 8 photos in 2 events" in first
    assert "[scan] 8 photos indexed: 8 new" in first
    # the main job: suggest -> preview -> apply the best group -> revert, byte-exact
    assert re.search(r"\[suggest\] [1-9]\d* suggested groups", first)
    assert "[preview] Group " in first
    assert re.search(r"\[apply\] applied group #\d+: [1-9]\d* changes written", first)
    assert "[revert] every sidecar is byte-for-byte as before" in first
    assert "[plugins]   metasync plugin install darktable" in first
    assert not list((tmp_path / "demo").rglob("*.xmp"))
    assert (tmp_path / "demo" / ".metasync" / "index.db").exists()
    assert main(args) == 0
    second = capsys.readouterr().out
    assert "[generate] reusing" in second and "0 new, 0 changed, 8 unchanged" in second


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) <= 1e-5 * max(1.0, abs(b))
    return list(a) == list(b) if isinstance(a, (list, tuple)) else a == b


@pytest.mark.parametrize("name", ["library", "birthday_party", "paris_london", "dst_camera"])
def test_index_reads_back_exactly_the_truths_meta(name: str, request: pytest.FixtureRequest,
                                                   exiftool: ExifTool) -> None:
    """The canonical fields the index reads from each file are the ones ground_truth.json says were written."""
    truth: Truth = request.getfixturevalue("demo_library" if name == "library" else name)
    read = exiftool.read_metadata([truth.path(p) for p in truth.photos])
    for p in truth.photos:
        got = read[str(truth.path(p))].to_dict()
        present = {k: v for k, v in got.items() if v not in (None, [], ())}
        assert set(present) == set(p.meta), p.path
        assert all(_equal(present[k], v) for k, v in p.meta.items()), (p.path, present, p.meta)
