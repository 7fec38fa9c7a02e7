"""Camera clock offsets from same-moment shots with phones; the time-shift group and its plan."""
from __future__ import annotations

import math
import random
import re
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from metasync.config import Settings
from metasync.detect.clock import estimate_clock_offsets, suggest_time_shifts, time_shift_group, with_pending_shifts
from metasync.detect.clock.levels import DOUBT, doubted_level, find_levels
from metasync.detect.clock.pairs import ClockPair
from metasync.models import Metadata, Photo, camera_label
from metasync.plan.time_shift import plan_time_shift
from metasync.timeutil import utc_epoch

S = Settings()
DAY = datetime(2024, 5, 12, 9, 0)
OFFSET = 3800.0  # the camera is 1 h 03 min 20 s behind: add this to its clock


def flip(h: int, bits: int, rng: random.Random) -> int:
    for b in rng.sample(range(64), bits):
        h ^= 1 << b
    return h


def phone(i: int, when: datetime, phash: int) -> Photo:
    return Photo(i, f"/lib/phone/IMG_{i:04d}.HEIC",
                 Metadata(when.isoformat(), "+02:00", 48.1, 11.5, make="Apple", model="iPhone 13"), phash=phash)


def dslr(i: int, clock: datetime, phash: int, serial: str = "0123", offset: str | None = None) -> Photo:
    return Photo(i, f"/lib/dslr/_MG_{i:04d}.CR2",
                 Metadata(clock.isoformat(), offset, make="Canon", model="Canon EOS R6", serial_number=serial),
                 phash=phash)


def trip(rng: random.Random, start: datetime, n_same: int, shift: float, first_id: int = 0,
         serial: str = "0123", extra_dslr: int = 5, apart: tuple[float, float] = (-8, 8)) -> list[Photo]:
    """Phone shots every 5-10 min; the DSLR shot some of the same moments (a few seconds apart), plus others."""
    photos, t, i = [], start, first_id
    moments = []
    for _ in range(3 * n_same):
        t += timedelta(seconds=rng.randint(300, 600))
        h = rng.getrandbits(64)
        photos.append(phone(i := i + 1, t, h))
        moments.append((t, h))
    for t, h in rng.sample(moments, n_same):
        jitter = timedelta(seconds=rng.uniform(*apart) * rng.choice((-1, 1)))
        photos.append(dslr(i := i + 1, t + jitter - timedelta(seconds=shift), flip(h, rng.randint(0, 3), rng), serial))
    for _ in range(extra_dslr):  # nothing on the phone looks like these
        when = start + timedelta(seconds=rng.randint(0, 3 * 3600))
        photos.append(dslr(i := i + 1, when, rng.getrandbits(64), serial))
    return photos


def test_detects_the_offset_from_same_moment_shots():
    rng = random.Random(1)
    photos = trip(rng, DAY, n_same=7, shift=OFFSET)
    [est] = estimate_clock_offsets(photos, S)
    assert est.shift_s == pytest.approx(OFFSET, abs=30)
    assert len(est.pairs) == 7 and est.spread_s < 15
    assert est.text.startswith("Canon EOS R6 #0123: +1 h 03 min ") and ", 7 matching pairs, spread " in est.text
    assert len(est.photo_ids) == 12 and all(p.startswith("/lib/dslr/") for p in est.paths)
    assert est.confidence > 0.8


def test_shots_a_minute_apart_on_either_side_still_give_the_offset():
    photos = trip(random.Random(11), DAY, n_same=8, shift=OFFSET, apart=(20, 90))
    [est] = estimate_clock_offsets(photos, S)
    assert est.shift_s == pytest.approx(OFFSET, abs=30)
    assert len(est.pairs) == 8 and 20 <= est.spread_s <= 90


def test_rejects_a_lookalike_at_the_wrong_time():
    rng = random.Random(2)
    photos = trip(rng, DAY, n_same=4, shift=OFFSET)
    # a DSLR shot that looks like a phone shot taken hours later (same spot, another moment)
    late = photos[5]
    assert late.meta.make == "Apple"
    photos.append(dslr(999, datetime.fromisoformat(late.meta.datetime_original) - timedelta(hours=3),
                       flip(late.phash, 1, rng)))
    [est] = estimate_clock_offsets(photos, S)
    assert est.shift_s == pytest.approx(OFFSET, abs=30)
    assert len(est.pairs) == 4 and est.outliers == 1
    assert "/lib/dslr/_MG_0999.CR2" not in {p.camera_path for p in est.pairs}


def test_negative_offset_and_offsets_beyond_the_grouping_window():
    photos = trip(random.Random(3), DAY, n_same=3, shift=-5 * 3600 - 17)
    [est] = estimate_clock_offsets(photos, S)
    assert est.shift_s == pytest.approx(-5 * 3600 - 17, abs=30)
    assert re.match(r"Canon EOS R6 #0123: -5 h 00 min \d\d s, 3 matching pairs, spread \d+ s$", est.text)


@pytest.mark.parametrize(
    ("n_same", "shift"),
    [pytest.param(1, OFFSET, id="one-pair-is-not-enough"), pytest.param(6, 20.0, id="clock-right")],
)
def test_no_estimate(n_same, shift):
    assert estimate_clock_offsets(trip(random.Random(4), DAY, n_same=n_same, shift=shift), S) == []


def test_each_trip_and_each_camera_gets_its_own_estimate():
    rng = random.Random(5)
    photos = trip(rng, DAY, n_same=3, shift=OFFSET)
    photos += trip(rng, DAY + timedelta(days=4), n_same=3, shift=-600, first_id=500)  # clock reset before trip 2
    photos += trip(rng, DAY, n_same=3, shift=7200, first_id=800, serial="0456")  # a second body
    photos = [p for p in photos if not (p.id > 800 and p.meta.make == "Apple")] + \
        [p for p in photos if p.id > 800 and p.meta.make == "Apple"]
    ests = sorted(estimate_clock_offsets(photos, S), key=lambda e: (e.camera, e.shift_s))
    assert [(e.camera, round(e.shift_s / 60)) for e in ests] == [
        ("Canon EOS R6 #0123", -10), ("Canon EOS R6 #0123", 63), ("Canon EOS R6 #0456", 120)]
    assert set(ests[0].paths).isdisjoint(ests[1].paths)


def test_one_scene_shot_in_turns_is_not_a_clock_offset():
    """A party: every photo looks alike, the DSLR shoots between the phone shots. Some DSLR shots line up with
    phone shots at some offset by chance; that is no evidence of a wrong clock."""
    rng = random.Random(12)
    scene = rng.getrandbits(64)
    photos = []
    for k in range(13):
        when = DAY + timedelta(seconds=300 * k + rng.uniform(0, 60))
        if k in (1, 5, 10):
            photos.append(dslr(k, when.replace(microsecond=0), flip(scene, rng.randint(0, 4), rng)))
        else:
            photos.append(phone(k, when, flip(scene, rng.randint(0, 4), rng)))
    assert estimate_clock_offsets(photos, S) == []


def test_regular_shooting_decoy_does_not_beat_a_right_clock():
    """Phone shots exactly 5 min apart; each DSLR shot, 30 s after a phone shot, looks even more like the phone's
    previous shot. Shifted by one interval the pairs agree just as well (and look closer): the right clock wins."""
    rng = random.Random(14)
    hashes = []
    for k in range(12):
        hashes.append(flip(hashes[-1], 4, rng) if k % 2 == 0 and hashes else rng.getrandbits(64))
    photos = [phone(k, DAY + timedelta(seconds=300 * k), hashes[k]) for k in range(12)]
    photos += [dslr(100 + k, DAY + timedelta(seconds=300 * k + 30), hashes[k - 1]) for k in (2, 4, 6, 8, 10)]
    assert estimate_clock_offsets(photos, S) == []


def test_camera_with_offset_tag_compares_in_utc():
    """The camera writes +01:00 (winter setting kept in summer): its UTC is an hour off, though its offset tag
    looks fine."""
    rng = random.Random(6)
    photos = trip(rng, DAY, n_same=3, shift=0, extra_dslr=0)
    photos = [p if p.meta.make == "Apple" else
              Photo(p.id, p.path, p.meta.with_values(offset_time="+01:00"), p.phash) for p in photos]
    [est] = estimate_clock_offsets(photos, S)
    assert est.shift_s == pytest.approx(-3600, abs=30)


def test_group_and_plan():
    rng = random.Random(8)
    photos = trip(rng, DAY, n_same=5, shift=OFFSET)
    [est] = estimate_clock_offsets(photos, S)
    group = time_shift_group(est)
    assert group.kind == "time_shift" and group.reasons == (est.text,)
    assert {"shift_s", "camera", "pairs", "spread_s"} <= set(group.options_dict())
    assert group.evidence.pairs == 5 and group.evidence.camera == "Canon EOS R6 #0123"
    assert {m.path for m in group.targets} == set(est.paths)
    assert {(m.photo_id, m.path) for m in group.sources} == {(p.reference_id, p.reference_path) for p in est.pairs}
    first = group.targets[0]
    plan = plan_time_shift(group, photos, S, overrides={(first.photo_id, "datetime_original"): "2024-05-12T08:00:00"})
    timed = [c for c in plan.changes if c.field == "datetime_original"]
    assert len(timed) == len(est.paths)
    # each corrected time takes the offset the phones had then (the camera wrote none)
    assert sorted((c.path, c.new) for c in plan.changes if c.field == "offset_time") == sorted(
        (path, "+02:00") for path in est.paths)
    by_path = {c.path: c for c in timed}
    assert by_path[first.path].new == "2024-05-12T08:00:00"
    other = by_path[group.targets[1].path]
    moved = datetime.fromisoformat(other.new) - datetime.fromisoformat(other.old)
    assert moved.total_seconds() == pytest.approx(est.shift_s, abs=0.01)
    assert other.field == "datetime_original" and "camera clock corrected" in other.reason


def test_pending_shift_in_memory_brings_the_camera_to_the_phone_time():
    rng = random.Random(9)
    photos = trip(rng, DAY, n_same=4, shift=OFFSET, extra_dslr=0)
    [est] = estimate_clock_offsets(photos, S)
    group = time_shift_group(est)
    fixed = {p.path: p for p in with_pending_shifts(photos, [group])}
    for pair in est.pairs:
        cam, ref = fixed[pair.camera_path].meta, fixed[pair.reference_path].meta
        gap = utc_epoch(cam, assume_offset=timedelta(hours=2)) - utc_epoch(ref)
        assert abs(gap) < 30
    assert fixed[photos[0].path] == photos[0]
    assert with_pending_shifts(photos, [replace(group, status="applied")]) == photos
    assert suggest_time_shifts(photos, S) == ([group], list(fixed.values()), {})


def test_a_shift_is_never_applied_twice():
    """Once the corrected time reached the photo (this group or another), neither the plan nor the in-memory
    view shifts it again."""
    photos = trip(random.Random(10), DAY, n_same=3, shift=OFFSET, extra_dslr=0)
    [est] = estimate_clock_offsets(photos, S)
    group = time_shift_group(est)
    after = {c.path: c.new for c in plan_time_shift(group, photos, S).changes if c.field == "datetime_original"}
    assert len(after) == 3
    done = [replace(p, meta=p.meta.with_values(datetime_original=after[p.path] + "+02:00", offset_time="+02:00"))
            if p.path in after else p for p in photos]
    assert plan_time_shift(group, done, S).changes == ()
    assert with_pending_shifts(done, [group]) == done


def test_camera_label():
    assert camera_label(("Canon", "Canon EOS R6", "0123")) == "Canon EOS R6 #0123"
    assert camera_label(("NIKON CORPORATION", "NIKON D750", "")) == "NIKON CORPORATION NIKON D750"
    assert camera_label(("FUJIFILM", "X-T4", "")) == "FUJIFILM X-T4"


def test_corrected_times_stay_whole_seconds():
    photos = trip(random.Random(13), DAY, n_same=5, shift=OFFSET)
    [est] = estimate_clock_offsets(photos, S)
    assert est.shift_s == int(est.shift_s)
    plan = plan_time_shift(time_shift_group(est), photos, S)
    moved = {round((datetime.fromisoformat(c.new) - datetime.fromisoformat(c.old)).total_seconds(), 2)
             for c in plan.changes if c.field == "datetime_original"}
    assert moved == {est.shift_s}


# -- pairs the GPS track places together ------------------------------------------------------------------------
def walk(rng: random.Random, start: datetime, minutes: int, speed: tuple[float, float] = (0.4, 0.8)
         ) -> list[tuple[datetime, float, float]]:
    """A stroll (slowly turning, a waypoint a minute): [(UTC+2 wall time, lat, lon)]."""
    lat, lon, heading, pace = 48.137, 11.575, rng.uniform(0, 2 * math.pi), rng.uniform(*speed)
    out = [(start, lat, lon)]
    for k in range(1, minutes + 1):
        heading += rng.gauss(0, math.radians(12))
        lat += pace * 60 * math.cos(heading) / 111_320
        lon += pace * 60 * math.sin(heading) / (111_320 * math.cos(math.radians(lat)))
        out.append((start + timedelta(minutes=k), lat, lon))
    return out


def along(path: list[tuple[datetime, float, float]], when: datetime) -> tuple[float, float]:
    k = min(int((when - path[0][0]).total_seconds() // 60), len(path) - 2)
    (t0, lat0, lon0), (_, lat1, lon1) = path[k], path[k + 1]
    f = (when - t0).total_seconds() / 60
    return lat0 + f * (lat1 - lat0), lon0 + f * (lon1 - lon0)


def gps_camera_trip(rng: random.Random, error_s: float, n_camera: int = 8, minutes: int = 150,
                    speed: tuple[float, float] = (0.4, 0.8)) -> list[Photo]:
    """Phone shots (GPS, offset) every 5-10 min along a stroll; a camera with its own GPS (5 m noise) and a clock
    `error_s` ahead, no offset, at other moments of the same stroll. No picture looks like any other."""
    path = walk(rng, DAY, minutes, speed)
    photos, t, i = [], DAY, 0
    while t < path[-1][0]:
        lat, lon = along(path, t)
        photos.append(Photo(i := i + 1, f"/lib/phone/IMG_{i:04d}.HEIC",
                            Metadata(t.isoformat(timespec="milliseconds"), "+02:00", lat, lon, make="Apple",
                                     model="iPhone 13"), phash=rng.getrandbits(64)))
        t += timedelta(seconds=rng.uniform(300, 600))
    for k in range(n_camera):
        when = DAY + timedelta(seconds=round(rng.uniform(0, minutes * 60 - 60)))
        lat, lon = along(path, when)
        lat += rng.gauss(0, 5) / 111_320
        lon += rng.gauss(0, 5) / 75_000
        clock = (when + timedelta(seconds=error_s)).isoformat()
        photos.append(Photo(100 + k, f"/lib/gps_cam/DSC_{k:04d}.JPG",
                            Metadata(clock, None, lat, lon, make="SONY", model="ILCE-7M4", serial_number="77"),
                            phash=rng.getrandbits(64)))
    return photos


@pytest.mark.parametrize("seed", [21, 22, 23, 24, 25])
def test_a_geotagging_camera_with_a_wrong_clock_is_set_by_the_track_alone(seed):
    """No camera photo looks like a phone shot; the phones' track, interpolated between their fixes, passed where
    the camera was at its (wrong) time plus the offset. The camera's GPS makes it no reference: phones write a zone
    offset with their network time, the camera writes neither."""
    photos = gps_camera_trip(random.Random(seed), error_s=-OFFSET)
    [est] = estimate_clock_offsets(photos, S)
    assert est.camera == "SONY ILCE-7M4 #77"
    assert est.shift_s == pytest.approx(OFFSET, abs=30)
    assert len(est.pairs) >= 2 and all(p.metres is not None and p.metres <= 30 for p in est.pairs)
    assert all(p.reference_path.startswith("/lib/phone/") for p in est.pairs)
    assert re.match(r"SONY ILCE-7M4 #77: \+1 h 03 min \d\d s, \d+ matching pairs \(\d+ placed together by the "
                    r"GPS track\), spread \d+ s$", est.text)
    assert len(est.photo_ids) == 8


@pytest.mark.parametrize(("error_s", "speed"), [pytest.param(0.0, (0.4, 0.8), id="clock-right"),
                                                pytest.param(-OFFSET, (0.0, 0.01), id="nobody-moved")])
def test_the_track_proves_no_offset(error_s, speed):
    """A right clock matches the track at no offset; a track that stays put cannot tell any moment from another."""
    assert estimate_clock_offsets(gps_camera_trip(random.Random(26), error_s, speed=speed), S) == []


def _twins_and_decoys(rng: random.Random, shift: float, days: int = 5) -> list[Photo]:
    """A camera on home time in New York (`shift` off) over `days` days, one event a day of 8 phone shots 4-7 min
    apart: 2 camera shots a day are twins of a phone shot (1-6 s after), 4 are lone shots about 4 min (+-40 s)
    after one, all of one scene."""
    photos: list[Photo] = []
    i = 0
    for d in range(days):
        t, scene, shots = DAY + timedelta(days=d), rng.getrandbits(64), []
        for _ in range(8):
            t += timedelta(seconds=rng.uniform(240, 420))
            photos.append(phone(i := i + 1, t, flip(scene, rng.randint(0, 3), rng)))
            shots.append(t)
        moments = [shots[k] + timedelta(seconds=rng.uniform(1, 6)) for k in rng.sample(range(8), 2)]
        moments += [shots[k] + timedelta(seconds=240 + rng.uniform(-40, 40)) for k in rng.sample(range(8), 4)]
        for when in moments:
            clock = (when - timedelta(seconds=shift)).replace(microsecond=0)
            photos.append(dslr(i := i + 1, clock, flip(scene, rng.randint(0, 3), rng)))
    return photos


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lone_shots_a_shooting_interval_after_phone_shots_do_not_outvote_the_twins(seed: int) -> None:
    """The lone shots, paired with the phone shot before them, line up about 4 min off the twins: more of them,
    less tightly, on the same days. A camera has one clock at a time: the twins' level wins the leg (it used to
    go to the lone shots' level, -6 h 07-08 min)."""
    shift = -6 * 3600 - 220.0
    [est] = estimate_clock_offsets(_twins_and_decoys(random.Random(seed), shift), S)
    assert est.shift_s == pytest.approx(shift, abs=10)
    assert len(est.paths) == 30 and len(est.pairs) >= 10 and est.spread_s <= 5


def _pairs(rng: random.Random, at: float, twins: int, photos: int = 12, each: int = 6) -> dict[str, list[ClockPair]]:
    """Per camera photo, `each` look-alike pairs scattered over an hour around `at`; the first `twins` photos
    also have a pair at `at` (+-3 s)."""
    out = {}
    for k in range(photos):
        pairs = [ClockPair(f"/c/{k}.jpg", f"/r/{k}_{j}.jpg", 100 * k + j, at + rng.uniform(-1800, 1800), 4)
                 for j in range(each)]
        if k < twins:
            pairs[0] = ClockPair(f"/c/{k}.jpg", f"/r/{k}_0.jpg", 100 * k, at + rng.uniform(-3, 3), 2)
        out[f"/c/{k}.jpg"] = pairs
    return out


def test_three_twins_among_lookalikes_put_a_clock_in_doubt_without_proving_it_off() -> None:
    candidates = _pairs(random.Random(3), 1040.0, twins=3)
    assert find_levels(candidates, S) == []  # not proven: chance lines up 3 such pairs 22 % of the time
    doubt = doubted_level(candidates, S)
    assert doubt is not None and doubt.at == pytest.approx(1040.0, abs=3) and 0.05 < doubt.chance <= DOUBT
    # the same twins at no difference: a right clock explains them, no doubt
    assert doubted_level(_pairs(random.Random(3), 0.0, twins=3), S) is None
