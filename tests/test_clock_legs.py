"""Cameras whose clock error changes over a trip: left on home time through other zones (legs), drifting clocks,
and the reasons that explain them. Photo rows (no files): phones with GPS and the zone's offset, cameras with a
naive wall clock."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from metasync.config import Settings
from metasync.detect.clock import (
    estimate_clock_offsets,
    explanation,
    switch_points,
    theil_sen,
    time_shift_group,
    trend_z,
    with_pending_shifts,
    zone_and_error,
)
from metasync.models import Metadata, Photo
from metasync.plan.time_shift import plan_time_shift
from metasync.timeutil import format_offset, utc_epoch

S = Settings()
START = datetime(2024, 6, 3, tzinfo=timezone.utc)
HOME, LISBON, NEW_YORK = timedelta(hours=2), timedelta(hours=1), timedelta(hours=-4)
FAST_S = 220.0  # the DSLR runs 3 min 40 s fast, on home time throughout


def flip(h: int, bits: int, rng: random.Random) -> int:
    for b in rng.sample(range(64), bits):
        h ^= 1 << b
    return h


class Trip:
    """Phone shots (right clock, the zone's offset) and camera shots of the same moments, built day by day."""

    def __init__(self, seed: int) -> None:
        self.rng, self.photos, self.truth = random.Random(seed), [], {}  # truth: camera path -> (utc, offset)

    def day(self, day: int, zone: timedelta, cameras: list[tuple[str, timedelta | None, float, float]],
            events: int = 3, twins: int = 2, others: int = 1) -> None:
        """`events` events of 5 phone shots; per camera (model, zone it is set to or None: local, error in s at
        day 0, drift in s a day) `twins` shots seconds from a phone shot and `others` on their own."""
        rng = self.rng
        for k in range(events):
            t = START + timedelta(days=day, hours=8 + 4 * k) - zone + timedelta(minutes=rng.randint(0, 50))
            shots = []
            for _ in range(5):
                t += timedelta(seconds=rng.randint(200, 450))
                h = rng.getrandbits(64)
                local = (t + zone).replace(tzinfo=None).isoformat(timespec="milliseconds") + format_offset(zone)
                n = len(self.photos)
                self.photos.append(Photo(n + 1, f"/lib/phone/IMG_{n + 1:04d}.HEIC",
                                         Metadata(local, format_offset(zone), 38.7, -9.1, make="Apple",
                                                  model="iPhone 13"), phash=h))
                shots.append((t, h))
            for model, set_to, error, drift in cameras:
                picks = rng.sample(shots, twins)
                moments = [(s + timedelta(seconds=rng.uniform(1, 6) * rng.choice((-1, 1))), flip(h, 2, rng))
                           for s, h in picks]
                moments += [(shots[0][0] + timedelta(seconds=rng.randint(100, 1500)), rng.getrandbits(64))
                            for _ in range(others)]
                for when, h in moments:
                    when = when.replace(microsecond=0)
                    shows = (set_to if set_to is not None else zone).total_seconds() + error + drift * (
                        when - START).total_seconds() / 86400
                    wall = (when + timedelta(seconds=round(shows))).replace(tzinfo=None).isoformat()
                    n = len(self.photos)
                    path = f"/lib/{model}/DSC_{n + 1:04d}.JPG"
                    self.photos.append(Photo(n + 1, path, Metadata(wall, make="Cam", model=model,
                                                                     serial_number="1"), phash=h))
                    self.truth[path] = (when.timestamp(), format_offset(zone))


def dslr_trip(seed: int, home_days: tuple[int, ...] = (0, 1, 9), lisbon: tuple[int, ...] = (2, 3, 4),
              new_york: tuple[int, ...] = (5, 6, 7, 8)) -> Trip:
    trip = Trip(seed)
    for zone, days in ((HOME, home_days), (LISBON, lisbon), (NEW_YORK, new_york)):
        for d in days:
            trip.day(d, zone, [("R6", HOME, FAST_S, 0.0)])
    trip.photos.sort(key=lambda p: p.id)
    return trip


def corrected(trip: Trip, groups: list) -> dict[str, Photo]:
    return {p.path: p for p in with_pending_shifts(trip.photos, groups) if p.path in trip.truth}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_camera_on_home_time_gets_one_correction_per_zone(seed):
    """Home, Lisbon, New York, home: the DSLR's apparent error changes with the zone; each leg is found, each
    photo ends in the local wall time with the offset the phones had there."""
    trip = dslr_trip(seed)
    estimates = sorted(estimate_clock_offsets(trip.photos, S), key=lambda e: min(e.times))
    # one group per leg: home, Lisbon, New York, home again
    assert [round(e.shift_s / 60) for e in estimates] == [-4, -64, -364, -4]
    assert all(abs(e.shift_s - want) <= 10 for e, want in zip(estimates, (-220, -3820, -21820, -220)))
    home, lisbon, new_york, back = (e.text for e in estimates)
    assert "; camera on home time +02:00, 3 min 3" in new_york or "; camera on home time +02:00, 3 min 4" in new_york
    assert new_york.endswith(" fast; here -04:00") and lisbon.endswith(" fast; here +01:00")
    for text in (home, back):
        assert "; camera on home time +02:00, 3 min " in text and text.endswith(" fast")
    groups = [time_shift_group(e) for e in estimates]
    fixed = corrected(trip, groups)
    assert set(fixed) == set(trip.truth)  # every camera photo, paired or not, is in a leg
    for path, (utc, offset) in trip.truth.items():
        meta = fixed[path].meta
        assert meta.offset_time == offset
        assert abs(utc_epoch(meta) - utc) <= 10
    # the plan writes both: the corrected wall time and the zone's offset
    for group in groups:
        plan = plan_time_shift(group, trip.photos, S)
        assert {c.field for c in plan.changes} == {"datetime_original", "offset_time"}
        assert all(c.new == trip.truth[c.path][1] for c in plan.changes if c.field == "offset_time")


def test_the_home_days_between_the_legs_take_the_home_correction():
    """Home again after New York with no twin shot at all: those photos take the home leg's correction (the
    phones were back on +02:00), not New York's."""
    trip = dslr_trip(4, home_days=(0, 1))
    for d in (9, 10):
        trip.day(d, HOME, [("R6", HOME, FAST_S, 0.0)], twins=0, others=2)
    estimates = estimate_clock_offsets(trip.photos, S)
    fixed = corrected(trip, [time_shift_group(e) for e in estimates])
    late = [path for path, (utc, _) in trip.truth.items() if utc > (START + timedelta(days=9)).timestamp()]
    assert len(late) == 12
    for path in late:
        assert fixed[path].meta.offset_time == "+02:00"
        assert abs(utc_epoch(fixed[path].meta) - trip.truth[path][0]) <= 10


def test_a_few_outlier_pairs_do_not_make_a_leg():
    """Two camera shots that look like phone shots 20 min away (the same spot, another moment), one after the
    other: outliers of their leg, not a leg of their own."""
    trip = Trip(5)
    for d in range(6):
        trip.day(d, HOME, [("R6", HOME, FAST_S, 0.0)])
    phones = [p for p in trip.photos if p.meta.make == "Apple"]
    for k, ref in enumerate(phones[40:42]):
        wall = datetime.fromisoformat(ref.meta.datetime_original).replace(tzinfo=None) + timedelta(minutes=20)
        trip.photos.append(Photo(900 + k, f"/lib/R6/ODD_{k}.JPG",
                                 Metadata(wall.isoformat(timespec="seconds"), make="Cam", model="R6",
                                          serial_number="1"), phash=flip(ref.phash, 1, trip.rng)))
    [est] = estimate_clock_offsets(trip.photos, S)
    assert abs(est.shift_s + FAST_S) <= 10 and est.outliers >= 2
    assert {"/lib/R6/ODD_0.JPG", "/lib/R6/ODD_1.JPG"} <= set(est.paths)
    assert not {"/lib/R6/ODD_0.JPG", "/lib/R6/ODD_1.JPG"} & {p.camera_path for p in est.pairs}


def test_a_drifting_clock_gets_a_line():
    """17 min 10 s slow on local time and 4 s slower every day over three weeks: a Theil-Sen line, and every
    photo's correction from it (a constant would be 40 s off at either end)."""
    trip = Trip(6)
    for d in range(21):
        trip.day(d, LISBON if d < 10 else NEW_YORK, [("Z6", None, -1030.0, -4.0)], events=2)
    [est] = estimate_clock_offsets(trip.photos, S)
    assert est.drift_s_per_day == pytest.approx(4.0, abs=0.5)
    assert "camera on local time, 17 min 1" in est.text and "drifting 4 s a day slower" in est.text
    fixed = corrected(trip, [time_shift_group(est)])
    errors = [abs(utc_epoch(fixed[path].meta) - utc) for path, (utc, _) in trip.truth.items()]
    assert max(errors) <= 12
    assert {fixed[path].meta.offset_time for path in trip.truth} == {"+01:00", "-04:00"}


def test_a_steady_clock_gets_no_drift():
    trip = Trip(7)
    for d in range(10):
        trip.day(d, HOME, [("Z6", None, -1030.0, 0.0)], events=2)
    [est] = estimate_clock_offsets(trip.photos, S)
    assert est.drift_s_per_day == 0.0 and est.drift_from is None and abs(est.shift_s - 1030) <= 10
    assert "drifting" not in est.text


def test_switch_points_need_more_than_a_few_strays():
    assert switch_points([0] * 6 + [1, 1] + [0] * 6, 2) == [0] * 14  # two strays inside a leg
    assert switch_points([0] * 6 + [1, 1, 1] + [0] * 6, 2) == [0] * 6 + [1] * 3 + [0] * 6  # three make one
    assert switch_points([0, 0, None, 1, 1, 1], 2) == [0, 0, 0, 1, 1, 1] or \
        switch_points([0, 0, None, 1, 1, 1], 2) == [0, 0, 1, 1, 1, 1]
    assert switch_points([1, 0, 0, 0, 0], 2) == [0] * 5  # one stray at an end


def test_theil_sen_and_the_trend_test():
    xs = [float(x) for x in range(12)]
    ys = [100 + 2 * x for x in xs]
    ys[3], ys[8] = 400.0, -50.0  # two pairs anywhere
    slope, at0 = theil_sen(xs, ys)
    assert slope == pytest.approx(2.0, abs=0.01) and at0 == pytest.approx(100.0, abs=0.5)
    assert trend_z(xs, ys) > 1.96
    flat = [5.0, 7.0, 4.0, 6.0, 5.0, 7.0, 4.0, 6.0]
    assert abs(trend_z(list(range(8)), flat)) < 1.96


def test_a_shift_splits_into_zone_difference_and_clock_error():
    legs = [(-220.0, 7200.0), (-3820.0, 3600.0), (-21820.0, -14400.0)]
    assert zone_and_error(legs) == [(0.0, -220.0), (-3600.0, -220.0), (-21600.0, -220.0)]
    # 17 min 10 s slow on local time, not 2 min 10 s slow on a zone 15 min off
    assert zone_and_error([(1030.0, 3600.0)]) == [(0.0, 1030.0)]
    assert explanation(-21600.0, -220.0, "+02:00", "-04:00", True) == \
        "camera on home time +02:00, 3 min 40 s fast; here -04:00"
    assert explanation(0.0, 1030.0, None, "+01:00", False, 2.0) == \
        "camera on local time, 17 min 10 s slow, drifting 2 s a day slower"


def test_a_leg_group_keeps_its_drift_and_offsets_through_the_index(tmp_path):
    """What a drifting leg's group stores comes back from the index as it was; a group stored before drift and
    offsets were known loads with a constant shift and no offsets."""
    from metasync.index import Index
    from metasync.models import ClockEvidence

    trip = Trip(8)
    for d in range(21):
        trip.day(d, LISBON, [("Z6", None, -1030.0, -4.0)], events=2)
    [est] = estimate_clock_offsets(trip.photos, S)
    group = time_shift_group(est)
    evidence = group.evidence
    assert evidence.drift_s_per_day and evidence.drift_from and len(evidence.offsets) == len(est.paths)
    with Index(tmp_path / "i.db") as index:
        index.upsert_photos([(p, None, None) for p in sorted(trip.photos, key=lambda p: p.id)])  # rows 1..n
        assert {(p.id, p.path) for p in index.photos()} == {(p.id, p.path) for p in trip.photos}
        stored = index.group(index.save_group(group))
    assert stored.evidence == group.evidence
    old = ClockEvidence.from_dict({"shift_s": 60.0, "camera": "X", "spread_s": 1.0, "matches": []})
    assert (old.drift_s_per_day, old.drift_from, dict(old.offsets)) == (0.0, None, {})


def test_a_second_camera_is_corrected_through_its_pairs_with_a_corrected_camera():
    """The R6 twins the phone shots and is proven by them; the Z6 (on local time, 17 min 10 s slow) twins only
    one phone shot, too few to prove a clock, but shoots beside the R6's own shots: once the R6 is corrected, those
    same-moment pairs prove the Z6's correction, and its reason says which camera they were with. The R6 itself
    is solved against the phones alone (it is never compared with a camera corrected from it)."""
    trip = Trip(8)
    for d in range(4):
        trip.day(d, HOME, [("R6", HOME, FAST_S, 0.0)])
    phones = [p for p in trip.photos if p.meta.make == "Apple"]
    r6 = [p for p in trip.photos if p.path in trip.truth]
    lone = [p for p in r6 if min((p.phash ^ q.phash).bit_count() for q in phones) > S.phash_similar]
    assert len(lone) == 12
    beside = [(trip.truth[p.path][0] + trip.rng.uniform(1, 6), flip(p.phash, 2, trip.rng)) for p in lone]
    beside.append((utc_epoch(phones[7].meta) + 3, flip(phones[7].phash, 2, trip.rng)))
    for k, (utc, h) in enumerate(beside):
        shows = datetime.fromtimestamp(round(utc + HOME.total_seconds() - 1030), timezone.utc).replace(tzinfo=None)
        path = f"/lib/Z6/DSC_{k:04d}.JPG"
        trip.photos.append(Photo(1000 + k, path, Metadata(shows.isoformat(), make="Cam", model="Z6",
                                                          serial_number="2"), phash=h))
        trip.truth[path] = (utc, "+02:00")
    estimates = estimate_clock_offsets(trip.photos, S)
    [r6_est] = [e for e in estimates if e.camera == "Cam R6 #1"]
    [z6_est] = [e for e in estimates if e.camera == "Cam Z6 #2"]
    assert abs(r6_est.shift_s + FAST_S) <= 10 and r6_est.with_cameras == ()
    assert abs(z6_est.shift_s - 1030) <= 10
    assert z6_est.with_cameras == (("Cam R6 #1", 12),) and len(z6_est.pairs) == 13
    assert "13 matching pairs (12 with Cam R6 #1)" in z6_est.text
    fixed = corrected(trip, [time_shift_group(e) for e in estimates])
    for k in range(len(beside)):
        path = f"/lib/Z6/DSC_{k:04d}.JPG"
        assert fixed[path].meta.offset_time == "+02:00"
        assert abs(utc_epoch(fixed[path].meta) - trip.truth[path][0]) <= 10
    # without the R6's shots the Z6 has one pair with a phone: no correction
    alone = [p for p in trip.photos if p.meta.model != "R6"]
    assert [e for e in estimate_clock_offsets(alone, S) if e.camera == "Cam Z6 #2"] == []
