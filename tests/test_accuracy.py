"""Time and place on generated libraries with a known truth: the small version of bench/accuracy.py.

One library (2 events, 24 photos each: 16 phone shots along a strolling walk, 8 DSLR shots, 6 of them 1-8 s from a
phone shot, the DSLR clock 1 h 03 min 20 s ahead and without offset or GPS), scanned and planned once.
"""
from __future__ import annotations

import re
import statistics
from datetime import datetime, timezone
from pathlib import Path

import gpxpy.gpx
import pytest
from support.bench import load

from demokit.library import Truth, generate_library
from metasync.config import Settings
from metasync.engine import Engine
from metasync.naming import find_existing_sidecar
from metasync.timeutil import parse_local, parse_offset
from metasync.write import sidecar

CLOCK_ERROR_S = 3800.0  # 1 h 03 min 20 s


bench = load("accuracy")


@pytest.fixture(scope="module")
def planned(tmp_path_factory, exiftool):
    """(truth, [(group, plan)], settings) of the library, suggested and planned once."""
    root = tmp_path_factory.mktemp("accuracy")
    truth = generate_library(root / "lib", seed=1, events=2, photos_per_event=24, size=(320, 240),
                             dslr_clock_offset_s=CLOCK_ERROR_S, exiftool=exiftool)
    settings = Settings(db_path=root / "index.db", library_roots=(root / "lib",))
    with Engine(settings) as engine:
        plans = bench.plans_for(engine, root / "lib")
    return truth, plans, settings


@pytest.fixture(scope="module")
def applied(planned):
    """The same library after applying the time shifts through the journal (sidecars), then suggested again.

    `planned` keeps the plans it made before: they are data, not files."""
    truth, plans, settings = planned
    with Engine(settings) as engine:
        results = [engine.apply(g.id) for g, _ in plans if g.kind == "time_shift"]
        return truth, results, bench.plans_for(engine, truth.root)


def _rel(truth: Truth, path: str) -> str:
    return str(Path(path).resolve().relative_to(truth.root.resolve()))


def test_clock_offsets_are_found_within_30_s(planned):
    truth, plans, _ = planned
    shifts = [g for g, _ in plans if g.kind == "time_shift"]
    devices = {truth.photo(_rel(truth, m.path)).device for g in shifts for m in g.targets}
    assert devices == {d for d in truth.cameras if any(p.device == d for p in truth.of_kind("dslr"))}
    for g in shifts:
        assert g.evidence.pairs >= 2
        assert abs(g.evidence.shift_s + CLOCK_ERROR_S) <= 30, g.reasons
        assert g.reasons[0].startswith(g.evidence.camera + ": -1 h 0")


def test_shift_gives_the_right_time_then_the_right_place(planned):
    truth, plans, _ = planned
    by_path = {}
    for g, plan in plans:
        for c in plan.changes:
            by_path.setdefault(_rel(truth, c.path), {})[c.field] = c
    dslr = truth.of_kind("dslr")
    time_errors, gps_errors = [], []
    for p in dslr:
        fields = by_path[p.path]
        when = parse_local(fields["datetime_original"].new)
        offset = fields["offset_time"].new
        assert offset == p.offset
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone(parse_offset(offset)))
        time_errors.append(abs(when.timestamp() - p.utc_epoch))
        gps_errors.append(bench.distance_m(fields["gps_latitude"].new, fields["gps_longitude"].new, p.lat, p.lon))
    assert max(time_errors) <= 120 and statistics.median(time_errors) <= 60
    assert statistics.median(gps_errors) <= 50


def test_applied_shift_then_the_track_places_the_dslr_photos(applied):
    """Through Engine.apply: the sidecars carry the corrected times (and the phones' offset at that moment), a
    rescan reads them, the clocks now agree (no shift proposed again) and the DSLR photos get interpolated
    positions, offsets and place names."""
    truth, results, plans = applied
    # each of the 8 photos: its corrected time and the offset it is in
    assert len(results) == 2 and all(r["applied"] == 2 * 8 and not r["skipped"] for r in results)
    assert not [g for g, _ in plans if g.kind == "time_shift"]
    res = bench.evaluate(truth, plans)
    dslr = {p.path for p in truth.of_kind("dslr")}
    got = {(_rel(truth, c.path), c.field): c for _, plan in plans for c in plan.changes}
    for path in dslr:
        p = truth.photo(path)
        lat, lon = got[(path, "gps_latitude")], got[(path, "gps_longitude")]
        assert re.match(r"(interpolated between|continued from|nearest fix) ", lat.reason) and not lat.conflict
        assert bench.distance_m(lat.new, lon.new, p.lat, p.lon) <= bench.GPS_OK_M
        offset = got.get((path, "offset_time"))  # the shift wrote it, else the plan gives it
        xmp = find_existing_sidecar(truth.path(p))
        assert (offset.new if offset else sidecar.read_values(xmp.read_bytes())["offset_time"]) == p.offset
        assert got[(path, "country_code")].new == bench.reverse_geocode([(p.lat, p.lon)])[0].country_code
    assert statistics.median(res.interp_errors) <= 25


def test_a_gpx_log_places_the_dslr_photos(planned, tmp_path):
    """settings.gpx_logs: the walks' logger points join the photos' fixes; the DSLR photos are placed between
    points a minute apart (a phone shot seconds away may be the nearer fix)."""
    truth, _, _ = planned
    gpx = gpxpy.gpx.GPX()
    for event in truth.events:
        seg = gpxpy.gpx.GPXTrackSegment()
        seg.points += [gpxpy.gpx.GPXTrackPoint(lat, lon, elevation=alt, time=datetime.fromtimestamp(t, timezone.utc))
                       for t, lat, lon, alt in event.track]
        gpx.tracks.append(gpxpy.gpx.GPXTrack())
        gpx.tracks[-1].segments.append(seg)
    (tmp_path / "walks.gpx").write_text(gpx.to_xml(), encoding="utf-8")
    settings = Settings(db_path=tmp_path / "index.db", gpx_logs=(tmp_path / "walks.gpx",))
    with Engine(settings) as engine:
        plans = bench.plans_for(engine, truth.root)
    res = bench.evaluate(truth, plans)
    placed = {_rel(truth, c.path): c for _, plan in plans for c in plan.changes if c.field == "gps_latitude"}
    phones = [p.utc_epoch for p in truth.of_kind("phone")]
    for p in truth.of_kind("dslr"):
        c = placed[p.path]
        assert not c.conflict and re.match(r"(interpolated between|taken at the same moment) ", c.reason)
        if min(abs(p.utc_epoch - t) for t in phones) > 60:  # a shot without a phone twin: the log places it
            assert ".gpx#" in c.source
    assert res.cross_event == 0 and statistics.median(res.interp_errors) <= 10


def test_accuracy_table(planned):
    truth, plans, _ = planned
    res = bench.evaluate(truth, plans)
    print("\n" + bench.table(res))
    assert res.cross_event == 0
    assert res.interp_errors and statistics.median(res.interp_errors) <= 25
    assert res.interp_far_errors and statistics.median(res.interp_far_errors) <= 25  # minutes from any fix
    assert res.precision("place") >= 0.9 and res.recall("place") >= 0.9
    assert res.precision() >= 0.9 and res.recall() >= 0.8


def test_camera_without_offset_gets_it_across_a_dst_change(dst_camera):
    settings = Settings(db_path=dst_camera.root / "index.db", library_roots=(dst_camera.root,))
    with Engine(settings) as engine:
        plans = bench.plans_for(engine, dst_camera.root)
    got = {_rel(dst_camera, c.path): c.new for _, plan in plans for c in plan.changes if c.field == "offset_time"}
    want = {dst_camera.roles[r]: off for r, off in dst_camera.expected["offset_time"].items()}
    assert got == want
    assert want[dst_camera.roles["sat_noon"]] == "+01:00" and want[dst_camera.roles["sun_noon"]] == "+02:00"


@pytest.mark.parametrize("seed", [2, 4, 7])
def test_clock_bar_holds_on_more_seeds(seed, tmp_path, exiftool):
    """The bench's library shape (4 events x 12 photos: per event 3 DSLR twins 1-8 s from a phone shot, 1 DSLR shot
    on its own), smaller pictures: every wrong camera clock found within 30 s, from at least 2 pairs."""
    truth, plans, _ = bench.run_library(tmp_path, seed, events=4, photos_per_event=12, size=(256, 192),
                                        dslr_clock_offset_s=CLOCK_ERROR_S, exiftool=exiftool)
    res = bench.evaluate(truth, plans)
    assert res.cameras_missed == 0 and res.cross_event == 0
    assert res.clock_errors and max(res.clock_errors) <= 30 and min(res.clock_pairs) >= 2


def test_a_dslr_with_its_own_gps_is_also_paired_by_the_track(tmp_path, exiftool):
    """The DSLR geotags its photos (no offset, its clock 1 h 03 min 20 s ahead): it is no reference, and the
    phones' track pairs even its shots that have no phone twin, next to the lookalike twins."""
    truth, plans, _ = bench.run_library(tmp_path, 5, events=2, photos_per_event=12, size=(256, 192),
                                        dslr_clock_offset_s=CLOCK_ERROR_S, dslr_gps=True, exiftool=exiftool)
    assert all(p.meta.get("gps_latitude") is not None for p in truth.of_kind("dslr"))
    shifts = [g for g, _ in plans if g.kind == "time_shift"]
    assert len(shifts) == 2
    phones = [p.utc_epoch for p in truth.of_kind("phone")]
    for g in shifts:
        assert abs(g.evidence.shift_s + CLOCK_ERROR_S) <= 30
        assert "placed together by the GPS track" in g.reasons[0]
        alone = [m.path for m in g.targets
                 if min(abs(truth.photo(_rel(truth, m.path)).utc_epoch - t) for t in phones) > 60]
        assert alone and set(alone) <= {cam for cam, _, _ in g.evidence.matches}
    assert bench.evaluate(truth, plans).cross_event == 0
