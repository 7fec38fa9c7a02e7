"""demokit.trips: the generated trip keeps the promises its truth makes, and bench/accuracy.py --trips
judges what it reads back. Of the engine's bars only those it meets are asserted (no distractor changed, no own
value overwritten): the others it does not meet yet."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from support.apply import tree_state
from support.bench import load

from demokit.library import Truth
from demokit.trips import (
    DSLR,
    DSLR_FAST_S,
    HOME,
    LISBON,
    NEW_YORK,
    PARTNER,
    SECOND,
    SECOND_DRIFT_S_PER_DAY,
    SECOND_SLOW_S,
    TRAVELLER,
    at_home,
    generate_trip,
    legs,
)
from metasync.timeutil import parse_offset

SMALL = {"days": 4, "events_per_day": (1, 2), "photos_per_event": 3, "dslr_per_event": 3, "size": (160, 120),
         "distractors": 2}


bench = load("accuracy")


@pytest.fixture(scope="module")
def trip(tmp_path_factory, exiftool) -> Truth:
    return generate_trip(tmp_path_factory.mktemp("trip") / "trip", seed=3, exiftool=exiftool, **SMALL)


def _read(et, truth: Truth, paths: list[str]) -> dict[str, dict]:
    raw = et.read_raw([truth.root / p for p in paths])
    return {p: raw[str(truth.root / p)] for p in paths}


def _wall(text: str) -> datetime:
    return datetime.strptime(text, "%Y:%m:%d %H:%M:%S")


def test_legs_go_home_lisbon_new_york_home():
    for days in (4, 9, 14):
        trip_legs = legs(days)
        assert [leg.place for leg in trip_legs] == [HOME, LISBON, NEW_YORK, HOME]
        assert [d for leg in trip_legs for d in leg.days] == list(range(days))
    assert [len(leg.days) for leg in legs(14)] == [2, 5, 5, 2]
    with pytest.raises(ValueError):
        legs(3)


def test_phones_home_and_away(trip: Truth):
    traveller = [p for p in trip.photos if p.kind == "phone" and p.device == TRAVELLER.label]
    partner = [p for p in trip.photos if p.device == PARTNER.label]
    assert traveller and partner
    assert all(at_home(p.lat, p.lon) and p.offset == "+02:00" and p.want == {} for p in partner)
    away = [p for p in traveller if not at_home(p.lat, p.lon)]
    assert {p.offset for p in away} == {"+01:00", "-04:00"}
    for p in traveller + partner:  # own GPS and local time with the place's offset, as written
        assert abs(p.meta["gps_latitude"] - p.lat) < 1e-5 and p.meta["offset_time"] == p.offset
        local = datetime.fromisoformat(p.meta["datetime_original"])
        assert abs(local.replace(tzinfo=timezone(parse_offset(p.offset))).timestamp() - p.utc_epoch) < 0.01
    # the partner shoots at home within minutes of a trip photo taken far away
    assert min(abs(a.utc_epoch - b.utc_epoch) for a in partner for b in away) <= 600


def test_cameras_show_their_stated_clocks(trip: Truth, exiftool):
    dslr = [p for p in trip.photos if p.kind == "dslr"]
    second = [p for p in trip.photos if p.kind == "camera2"]
    assert dslr and second and {p.device for p in dslr} == {DSLR.label} and {p.device for p in second} == {SECOND.label}
    since = trip.params["clocks"][SECOND.label]["since"]
    tags = _read(exiftool, trip, [p.path for p in dslr + second])
    for p in dslr + second:
        got = tags[p.path]
        assert "EXIF:GPSLatitude" not in got and "EXIF:OffsetTimeOriginal" not in got
        if p.kind == "dslr":  # home wall-clock time, 3 min 40 s fast, wherever it is
            expected = p.utc_epoch + 2 * 3600 + DSLR_FAST_S
        else:  # the place's zone, 17 min 10 s slow at the start, 2 s slower a day
            error = SECOND_SLOW_S + SECOND_DRIFT_S_PER_DAY * (p.utc_epoch - since) / 86400
            expected = p.utc_epoch + parse_offset(p.offset).total_seconds() + error
        shown = _wall(got["EXIF:DateTimeOriginal"]).replace(tzinfo=timezone.utc).timestamp()
        assert abs(shown - expected) <= 0.5, p.path
        assert p.want["offset_time"] == p.offset and p.want["gps_latitude"] == p.lat
        assert datetime.fromisoformat(p.want["datetime_original"]).timestamp() == p.utc_epoch
    assert {p.offset for p in dslr} == {"+02:00", "+01:00", "-04:00"}
    phones = [p.utc_epoch for p in trip.photos if p.kind == "phone"]
    gaps = [min(abs(p.utc_epoch - t) for t in phones) for p in dslr]
    assert any(1 <= g <= 8 for g in gaps) and any(g >= 90 for g in gaps)  # twins and shots on their own


def test_messenger_copies_are_named_by_the_day_received(trip: Truth, exiftool):
    copies = trip.of_kind("whatsapp")
    assert copies
    tags = _read(exiftool, trip, [p.path for p in copies])
    for p in copies:
        m = re.fullmatch(r"WhatsApp/IMG-(\d{8})-WA\d{4}\.jpg", p.path)
        assert m, p.path
        src = trip.photo(p.original)
        taken = datetime.fromtimestamp(src.utc_epoch, timezone(parse_offset(src.offset))).date()
        received = datetime.strptime(m.group(1), "%Y%m%d").date()
        assert timedelta(0) <= received - taken <= timedelta(days=2)
        stamp = datetime.fromtimestamp((trip.root / p.path).stat().st_mtime, timezone(parse_offset(src.offset)))
        assert stamp.date() == received and stamp.timestamp() > src.utc_epoch
        assert not any(k.startswith("EXIF:") for k in tags[p.path])
        assert (p.utc, p.lat, p.want["gps_latitude"]) == (src.utc, src.lat, src.lat)
        assert p.want.get("make") == src.meta["make"]


def test_distractors_are_there_and_want_nothing(trip: Truth, exiftool):
    kinds = {k: trip.of_kind(k) for k in ("scan", "screenshot", "old")}
    assert all(kinds.values())
    assert all(p.want == {} for ps in kinds.values() for p in ps)
    assert all(p.path.endswith(".png") for p in kinds["screenshot"])
    tags = _read(exiftool, trip, [p.path for p in kinds["scan"]])
    assert all("EXIF:DateTimeOriginal" not in tags[p.path] for p in kinds["scan"])
    assert {tags[p.path].get("EXIF:Make") for p in kinds["scan"]} == {None, "EPSON"}
    first = min(p.utc_epoch for p in trip.photos if p.kind == "phone")
    assert all(first - p.utc_epoch > 300 * 86400 for p in kinds["old"])


def test_the_same_seed_gives_the_same_files(trip: Truth, tmp_path, exiftool):
    again = generate_trip(tmp_path / "again", seed=3, exiftool=exiftool, **SMALL)
    assert tree_state(again.root) == tree_state(trip.root)


def _perfect(truth: Truth) -> dict[str, dict]:
    """The sidecars a flawless engine would write: each photo's want, place names wherever a position is."""
    places = dict(zip((p.path for p in truth.photos), bench.reverse_geocode([(p.lat, p.lon) for p in truth.photos])))
    out = {}
    for p in truth.photos:
        values = dict(p.want)
        if p.want or (p.kind == "phone" and "gps_latitude" in p.meta):
            place = places[p.path]
            values.update({f: getattr(place, f) for f in bench.PLACE_FIELDS if getattr(place, f, None) is not None})
        if values:
            out[p.path] = values
    return out


def test_the_judge_scores_a_flawless_apply_perfect_and_counts_each_failure(trip: Truth):
    perfect = _perfect(trip)
    res = bench.judge_trip(trip, perfect)
    bars = res.bars()
    assert all(bars[k] == 1.0 for k in bars if isinstance(bars[k], float)), bars
    assert all(bars[k] == 0 for k in bars if isinstance(bars[k], int)), bars
    assert res.written == res.right and res.wanted == res.filled and not res.wrong
    assert res.counts["camera_photos"] == len(trip.of_kind("dslr")) + len(trip.of_kind("camera2"))

    broken = {k: dict(v) for k, v in perfect.items()}
    cam = next(p for p in trip.photos if p.kind == "dslr" and not at_home(p.lat, p.lon))
    broken[cam.path].update(gps_latitude=HOME.lat, gps_longitude=HOME.lon)  # the partner's track
    broken.setdefault(trip.of_kind("screenshot")[0].path, {})["city"] = "Lisbon"
    phone = next(p for p in trip.photos if p.kind == "phone" and p.device == TRAVELLER.label)
    broken[phone.path]["gps_latitude"] = phone.lat + 0.5
    copy = trip.of_kind("whatsapp")[0]
    broken[copy.path]["datetime_original"] = broken[copy.path]["datetime_original"][:10] + "T00:00:00"
    res = bench.judge_trip(trip, broken)
    assert res.counts["home_given"] == 1 and res.counts["distractors_changed"] == 1
    assert res.counts["overwritten"] == 1 and res.counts["camera_gps_right"] == res.counts["camera_photos"] - 1
    assert res.counts["copy_time_right"] == res.counts["copies"] - 1


def test_the_trips_mode_runs_the_pipeline_in_several_orders(trip: Truth, tmp_path):
    run = bench.run_trip(trip, tmp_path, orders=("id", "reverse"))
    assert set(run["results"]) == {"id", "reverse"}
    for res in run["results"].values():
        assert res.counts["camera_photos"] == len(trip.of_kind("dslr")) + len(trip.of_kind("camera2"))
        assert res.counts["copies"] == len(trip.of_kind("whatsapp"))
        assert sum(res.written.values()) > 0  # the engine wrote sidecars that were read back
        # scans, screenshots and last year's photos get nothing: no GPS, no time, no place
        assert res.counts["distractors_changed"] == 0, [k for k in res.wrong if k.endswith(" changed")]
        assert res.counts["overwritten"] == 0
        assert sum(res.wanted.values()) == sum(bench.judge_trip(trip, _perfect(trip)).wanted.values())
    assert "camera GPS precision" in bench.trip_table(run["results"]["id"])
    assert all(line.count(" id ") == 1 and " reverse " in line for line in run["sidecar_diffs"])


def test_sidecar_diffs_name_each_value_that_depends_on_the_order():
    same = {"a.jpg": {"city": "Prague", "gps_latitude": 50.1}}
    assert bench.sidecar_diffs({"id": same, "reverse": same}) == []
    other = {"a.jpg": {"city": "Praha", "gps_latitude": 50.1}, "b.jpg": {"city": "Lisbon"}}
    assert bench.sidecar_diffs({"id": same, "reverse": other}) == [
        "a.jpg city: id 'Prague', reverse 'Praha'", "b.jpg city: id None, reverse 'Lisbon'"]


def test_the_track_ceiling_places_every_shot_between_fixes_and_writes_more_as_the_radius_widens(trip: Truth):
    """bench/track_limit.py: with the true times, shots between two phone fixes land within 100 m, and a wider
    max_gps_error_m writes more of the shots beyond a track's end."""
    limit = load("track_limit")
    rows = limit.placements(trip)
    assert len(rows) == sum(1 for p in trip.photos if p.kind in ("dslr", "camera2") and p.want)
    inside = [e for est, e in rows if est and est.method == "interpolated"]
    assert inside and max(inside) <= limit.GPS_OK_M
    written = [int(line.split()[1]) for line in limit.table(rows).splitlines()[2:]]
    assert written == sorted(written) and written[-1] > written[0]
