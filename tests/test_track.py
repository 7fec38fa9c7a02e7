"""GPS from other photos and GPX logs: interpolation along the great circle, limits, error radius, GPX loading."""
from __future__ import annotations

import math
import random
import statistics
from dataclasses import replace
from datetime import datetime, timezone

import gpxpy.gpx
import pytest

from metasync.config import Settings
from metasync.errors import TrackError
from metasync.models import Metadata, Photo
from metasync.track import (
    Fix,
    distance_m,
    estimate_position,
    gps_changes,
    great_circle_point,
    load_gpx,
    merge_fixes,
    photo_fixes,
)

T0 = datetime(2024, 5, 12, 10, 0, tzinfo=timezone.utc).timestamp()
S = Settings()


def east_of(lat: float, lon: float, metres: float) -> tuple[float, float]:
    return lat, lon + math.degrees(metres / (6_371_008.8 * math.cos(math.radians(lat))))


def test_distance_paris_london():
    assert distance_m(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(343_500, rel=0.005)


def test_great_circle_point_is_on_the_arc():
    lat, lon = great_circle_point(0, 0, 0, 10, 0.5)
    assert (lat, lon) == pytest.approx((0, 5))
    a, b = (10.0, 20.0), (60.0, -100.0)
    mid = great_circle_point(*a, *b, 0.3)
    total = distance_m(*a, *b)
    assert distance_m(*a, *mid) == pytest.approx(0.3 * total, rel=1e-6)
    assert distance_m(*mid, *b) == pytest.approx(0.7 * total, rel=1e-6)


def test_interpolates_between_the_photo_before_and_after():
    start = (48.0, 11.0)
    end = east_of(*start, 840.0)  # 10 min at 1.4 m/s
    fixes = [Fix(T0, *start, 500.0, "/lib/IMG_0412.jpg"), Fix(T0 + 600, *end, 520.0, "/lib/IMG_0415.jpg")]
    est = estimate_position(T0 + 180, fixes, S)
    truth = east_of(*start, 840.0 * 0.3)
    assert est is not None and est.method == "interpolated"
    assert distance_m(est.lat, est.lon, *truth) < 0.5
    assert est.alt == pytest.approx(506.0)
    assert est.sources == ("/lib/IMG_0412.jpg", "/lib/IMG_0415.jpg")
    assert est.reason.startswith("interpolated between IMG_0412 (3 min before) and IMG_0415 (7 min after), ±")
    assert 0 < est.confidence < 1


def test_error_grows_with_the_gap_and_the_distance():
    near = [Fix(T0, 48.0, 11.0), Fix(T0 + 300, *east_of(48.0, 11.0, 400))]
    far = [Fix(T0, 48.0, 11.0), Fix(T0 + 1500, *east_of(48.0, 11.0, 400))]
    wide = [Fix(T0, 48.0, 11.0), Fix(T0 + 300, *east_of(48.0, 11.0, 4000))]
    e_near = estimate_position(T0 + 150, near, S)
    assert e_near.error_m < estimate_position(T0 + 750, far, S).error_m
    assert e_near.error_m < estimate_position(T0 + 150, wide, S).error_m
    assert e_near.confidence > estimate_position(T0 + 750, far, S).confidence


@pytest.mark.parametrize(
    ("gap", "metres", "target", "method"),
    [
        pytest.param(3600, 500, 1800, None, id="gap-too-long-and-both-far"),
        pytest.param(3600, 500, 200, "nearest", id="gap-too-long-near-one-end"),
        pytest.param(1200, 120_000, 600, None, id="too-fast-100mps"),
        pytest.param(600, 60_000, 100, "nearest", id="too-fast-near-one-end"),
        pytest.param(1800, 2000, 900, "interpolated", id="gap-at-limit"),
    ],
)
def test_limits(gap, metres, target, method):
    fixes = [Fix(T0, 48.0, 11.0, source="a.jpg"), Fix(T0 + gap, *east_of(48.0, 11.0, metres), source="b.jpg")]
    est = estimate_position(T0 + target, fixes, S)
    assert (est.method if est else None) == method
    if method == "nearest":
        assert est.sources == ("a.jpg",) and "nearest fix a" in est.reason


def test_a_single_fix_places_only_within_max_extrap():
    fixes = [Fix(T0, 48.0, 11.0, source="a.jpg")]
    assert estimate_position(T0 - 299, fixes, S).sources == ("a.jpg",)
    assert estimate_position(T0 + 200, fixes, S).reason.startswith("nearest fix a (3 min 20 s before)")
    assert estimate_position(T0 - 301, fixes, S) is None
    assert estimate_position(T0 + 1000, fixes, S) is None
    assert estimate_position(T0, [], S) is None


def test_beyond_the_end_the_last_stretch_is_continued():
    start = (48.0, 11.0)
    fixes = [Fix(T0, *start, 500.0, source="a.jpg"), Fix(T0 + 300, *east_of(*start, 180.0), 510.0, source="b.jpg")]
    after = estimate_position(T0 + 300 + 120, fixes, S)  # 0.6 m/s east: 72 m on if the walk went straight
    assert after.method == "extrapolated" and after.sources == ("a.jpg", "b.jpg") and after.nearest == "b.jpg"
    # on east, a little short of 72 m: a wandering heading makes less way good (67.9 m expected at 12 deg/sqrt min)
    assert distance_m(after.lat, after.lon, *east_of(*start, 180.0 + 67.9)) < 0.5
    assert after.alt == 510.0  # the end's: a slope is not continued
    assert after.reason.startswith("continued from a and b at 0.6 m/s, 2 min after b, ±")
    before = estimate_position(T0 - 60, fixes, S)
    assert before.method == "extrapolated" and distance_m(before.lat, before.lon, *east_of(*start, -34.3)) < 0.5
    # the shortfall grows with the time beyond: about 255 m of a straight line's 288 m after 8 minutes
    far = estimate_position(T0 + 300 + 480, fixes, S)
    assert 245.0 < distance_m(far.lat, far.lon, *east_of(*start, 180.0)) < 0.9 * 288.0
    assert "1 min before a" in before.reason
    # the radius grows faster than the time beyond the end (the heading wanders), and with the pace
    radii = [estimate_position(T0 + 300 + dt, fixes, S).error_m for dt in (60, 120, 240, 480, 960)]
    assert all(b > a for a, b in zip(radii, radii[1:])) and radii[4] > 2.2 * radii[3]
    fast = [fixes[0], Fix(T0 + 300, *east_of(*start, 600.0), source="b.jpg")]
    assert estimate_position(T0 + 420, fast, S).error_m > after.error_m
    assert estimate_position(T0 + 300 + 1801, fixes, S) is None  # beyond max_interp_gap_s: nothing


def test_a_loggers_track_is_continued_from_a_minute_back_not_from_its_jittery_last_second():
    # a logger point a second, walking east at 1 m/s; its last point 4 m off to the north
    log = [Fix(T0 + k, *east_of(48.0, 11.0, float(k)), source=f"walk.gpx#{k}", kind="gpx") for k in range(120)]
    log[-1] = replace(log[-1], lat=log[-1].lat + 4 / 111_195)
    est = estimate_position(T0 + 119 + 60, log, S)
    assert est.method == "extrapolated" and est.sources == ("walk.gpx#59", "walk.gpx#119")
    assert distance_m(est.lat, est.lon, *east_of(48.0, 11.0, 179.0)) < 10 and est.error_m < 30


def test_a_continued_position_is_written_up_to_max_gps_error():
    fixes = [Fix(T0, 48.0, 11.0, source="/l/a.jpg"), Fix(T0 + 300, *east_of(48.0, 11.0, 180.0), source="/l/b.jpg")]
    dslr = Photo(9, "/l/dslr.jpg", Metadata("2024-05-12T12:00:00+02:00"))
    near = gps_changes(dslr, T0 + 300 + 120, fixes, S)
    assert [c.field for c in near] == ["gps_latitude", "gps_longitude"] and not any(c.conflict for c in near)
    radius = estimate_position(T0 + 300 + 480, fixes, S).error_m
    assert radius > S.max_gps_error_m
    assert gps_changes(dslr, T0 + 300 + 480, fixes, S) == []
    guess = gps_changes(dslr, T0 + 300 + 480, fixes, S, guesses=True)
    assert guess and all(c.conflict for c in guess) and "yours to confirm" in guess[0].reason
    assert gps_changes(dslr, T0 + 300 + 480, fixes, S.with_(max_gps_error_m=radius + 1)) != []


def test_same_moment_copies_the_fix():
    fixes = [Fix(T0, 48.0, 11.0, source="a.jpg"), Fix(T0 + 600, 48.01, 11.0, source="b.jpg")]
    est = estimate_position(T0 + 600.4, fixes, S)
    assert est.method == "same_moment" and (est.lat, est.lon) == (48.01, 11.0)


def test_a_gpx_point_beats_a_photo_fix_when_closer_in_time():
    photos = [Fix(T0, 48.0, 11.0, source="a.jpg"), Fix(T0 + 1200, *east_of(48.0, 11.0, 1000), source="b.jpg")]
    detour = (48.003, 11.001)  # the walk went north first: only the logger saw it
    gpx = [Fix(T0 + 580, *detour, source="walk.gpx#3", kind="gpx"),
           Fix(T0 + 620, *detour, source="walk.gpx#4", kind="gpx")]
    est = estimate_position(T0 + 600, merge_fixes(photos, gpx), S)
    assert est.sources == ("walk.gpx#3", "walk.gpx#4")
    assert distance_m(est.lat, est.lon, *detour) < 1
    assert "walk.gpx#3 (20 s before)" in est.reason


def test_photo_fixes_use_utc_and_skip_photos_without_gps_or_time():
    photos = [
        Photo(1, "/l/b.jpg", Metadata("2024-05-12T12:05:00", "+02:00", 48.0, 11.0)),
        Photo(2, "/l/a.jpg", Metadata("2024-05-12T10:01:00Z", None, 48.1, 11.1, 12.0)),
        Photo(3, "/l/c.jpg", Metadata("2024-05-12T12:00:00+02:00")),
        Photo(4, "/l/d.jpg", Metadata(None, None, 48.0, 11.0)),
    ]
    fixes = photo_fixes(photos)
    assert [(f.source, f.utc) for f in fixes] == [("/l/a.jpg", T0 + 60), ("/l/b.jpg", T0 + 300)]
    assert fixes[0].alt == 12.0 and fixes[0].label == "a"


def test_load_gpx(tmp_path):
    gpx = gpxpy.gpx.GPX()
    seg = gpxpy.gpx.GPXTrackSegment()
    for i in (2, 0, 1):  # out of order on purpose
        seg.points.append(gpxpy.gpx.GPXTrackPoint(
            48.0 + i / 1000, 11.0, elevation=500 + i, time=datetime.fromtimestamp(T0 + 60 * i, timezone.utc)))
    seg.points.append(gpxpy.gpx.GPXTrackPoint(47.0, 10.0))  # untimed: useless for us
    track = gpxpy.gpx.GPXTrack()
    track.segments.append(seg)
    gpx.tracks.append(track)
    path = tmp_path / "walk.gpx"
    path.write_text(gpx.to_xml(), encoding="utf-8")
    fixes = load_gpx(path)
    assert [f.utc for f in fixes] == [T0, T0 + 60, T0 + 120]
    assert fixes[1].lat == pytest.approx(48.001) and fixes[1].alt == 501 and fixes[1].kind == "gpx"
    assert estimate_position(T0 + 90, fixes, S).lat == pytest.approx(48.0015)


def test_load_gpx_unreadable(tmp_path):
    bad = tmp_path / "bad.gpx"
    bad.write_text("<gpx><trk><trkseg><trkpt lat='x'", encoding="utf-8")
    with pytest.raises(TrackError, match="bad.gpx"):
        load_gpx(bad)
    with pytest.raises(TrackError, match="missing.gpx"):
        load_gpx(tmp_path / "missing.gpx")


def test_walking_track_median_error():
    """A meandering 1.3 m/s walk, a phone photo every 5-10 min: positions each minute in between."""
    rng = random.Random(7)
    lat, lon, heading, t = 45.0, 7.0, 0.0, T0
    truth = []
    for _ in range(4 * 3600):  # one point per second
        heading += rng.gauss(0, 0.02)
        lat += 1.3 * math.cos(heading) / 111_195
        lon += 1.3 * math.sin(heading) / (111_195 * math.cos(math.radians(lat)))
        t += 1
        truth.append((t, lat, lon))
    fixes, k = [], 0
    while k < len(truth):
        fixes.append(Fix(truth[k][0], truth[k][1], truth[k][2], source=f"IMG_{k}.jpg"))
        k += rng.randint(300, 600)
    errors = []
    for t, la, lo in truth[::60]:
        est = estimate_position(t, fixes, S)
        if est is not None and est.method == "interpolated":
            errors.append(distance_m(est.lat, est.lon, la, lo))
    assert len(errors) > 150
    assert statistics.median(errors) <= 25


def test_gps_changes_from_the_track():
    fixes = [Fix(T0, 48.0, 11.0, 500.0, "/lib/IMG_1.jpg"), Fix(T0 + 600, *east_of(48.0, 11.0, 600), 510.0,
                                                              "/lib/IMG_2.jpg")]
    dslr = Photo(7, "/lib/_MG_1.CR2", Metadata("2024-05-12T12:08:00", make="Canon"))
    changes = gps_changes(dslr, T0 + 480, fixes, S)
    assert [c.field for c in changes] == ["gps_latitude", "gps_longitude", "gps_altitude"]
    assert all(c.source == "/lib/IMG_2.jpg" and c.old is None and c.reason.startswith("interpolated") for c in changes)
    assert distance_m(changes[0].new, changes[1].new, *east_of(48.0, 11.0, 480)) < 0.5
    assert changes[2].new == 508.0 and 0 < changes[0].confidence < 1
    assert gps_changes(dslr, None, fixes, S) == []
    assert gps_changes(dslr, T0 + 4000, fixes, S) == []
    beyond = gps_changes(dslr, T0 + 700, fixes, S)  # beyond the track's end: its last stretch continued
    assert beyond[0].reason.startswith("continued from IMG_1 and IMG_2 at 1.0 m/s, 1 min 40 s after IMG_2")
    # 91.3 m on, not 100: the way made good after 100 s of a wandering heading
    assert distance_m(beyond[0].new, beyond[1].new, *east_of(48.0, 11.0, 691.3)) < 1 and not beyond[0].conflict
    assert gps_changes(dslr, T0 + 1400, fixes, S) == []  # 13 min on: too wide a radius to write
    near = gps_changes(dslr, T0 + 608, fixes[1:], S)  # a lone fix only seconds away (a DSLR twin of the shot)
    assert [c.new for c in near[:2]] == [round(fixes[1].lat, 7), round(fixes[1].lon, 7)]
    assert near[0].reason.startswith("nearest fix IMG_2 (8 s before), ±18 m") and near[0].source == "/lib/IMG_2.jpg"
    geotagged = Photo(8, "/lib/x.jpg", Metadata("2024-05-12T12:08:00", gps_latitude=1.0, gps_longitude=2.0))
    assert gps_changes(geotagged, T0 + 480, fixes, S) == []


# -- whose track ---------------------------------------------------------------------------------------------------
def two_walkers() -> list[Fix]:
    """Ana walks east from the square, Ben walks north from it; their phones' fixes interleave in time."""
    square = (50.0875, 14.4213)
    ana = [Fix(T0 + t, *east_of(*square, 1.2 * t), source=f"ana{t}.jpg", device="Apple iPhone 15 #A")
           for t in (0, 600)]
    ben = [Fix(T0 + t, square[0] + 1.2 * t / 111_195, square[1], source=f"ben{t}.jpg", device="Google Pixel 8 #B")
           for t in (100, 500)]
    return merge_fixes(ana, ben)


def test_a_track_is_one_devices_never_a_line_between_two_people():
    fixes = two_walkers()
    est = estimate_position(T0 + 300, fixes, S, linked=["Apple iPhone 15 #A"])
    assert est.sources == ("ana0.jpg", "ana600.jpg")
    assert est.reason.endswith("on the track of Apple iPhone 15 #A (linked by look-alike photos)")
    on_ana = east_of(50.0875, 14.4213, 360.0)
    assert distance_m(est.lat, est.lon, *on_ana) < 1.0
    # linked to Ben's phone instead: his track, though Ana's fixes are as near in time
    est = estimate_position(T0 + 300, fixes, S, linked=["Google Pixel 8 #B"])
    assert est.sources == ("ben100.jpg", "ben500.jpg") and "Google Pixel 8 #B" in est.reason


def test_without_a_link_the_tightest_track_and_a_log_comes_first():
    fixes = two_walkers()
    est = estimate_position(T0 + 300, fixes, S)
    assert est.sources == ("ben100.jpg", "ben500.jpg")  # 200 s from its fixes against Ana's 300 s: tighter
    assert est.reason.endswith("(the closest of several tracks)")
    log = [Fix(T0 + t, 50.0, 14.0, source=f"walk.gpx#{t}", kind="gpx", device="walk.gpx") for t in (290, 310)]
    est = estimate_position(T0 + 300, merge_fixes(fixes, log), S, linked=["Google Pixel 8 #B"])
    assert est.sources == ("walk.gpx#290", "walk.gpx#310") and est.reason.endswith("(a GPS log)")


def test_photo_fixes_name_their_device():
    phone = Photo(1, "/lib/IMG_1.HEIC", Metadata(
        make="Apple", model="iPhone 15", serial_number="A1", datetime_original="2024-05-12T12:00:00+02:00",
        gps_latitude=50.0, gps_longitude=14.0))
    assert [f.device for f in photo_fixes([phone])] == ["Apple iPhone 15 #A1"]
