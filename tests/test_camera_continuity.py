"""A DSLR that shoots details like no phone shot (only 1-2 twins per event, clock 1 h 03 min
fast, no GPS). Its photos between the phone shots are the same event whatever they look like: scene analysis must
not split them off, and each gets GPS interpolated from the phones' track at its corrected time."""
from __future__ import annotations

import pytest

from demokit.library import generate_library
from metasync.config import Settings
from metasync.engine import Engine
from metasync.track import distance_m

GPS_OK_M = 100.0


@pytest.fixture(scope="module", params=[1, 2])
def planned(request, tmp_path_factory, exiftool):
    root = tmp_path_factory.mktemp(f"continuity{request.param}")
    truth = generate_library(root / "lib", seed=request.param, events=4, photos_per_event=12, size=(320, 240),
                             dslr_clock_offset_s=3780.0, dslr_details=True, exiftool=exiftool)
    with Engine(Settings(db_path=root / "index.db", library_roots=(root / "lib",))) as engine:
        engine.suggest([root / "lib"])
        plans = [(g, engine.plan(g.id)) for g in engine.index.groups(status="pending")]
    return truth, plans


def test_generator_makes_details(planned):
    truth, _ = planned
    dslr = truth.of_kind("dslr")
    assert len(dslr) == 16 and len({p.device for p in dslr}) == 1


def test_every_dslr_photo_gets_its_position(planned):
    truth, plans = planned
    by_path = {str(truth.path(p)): p for p in truth.photos}
    dslr = {path for path, p in by_path.items() if p.kind == "dslr"}
    proposed: dict[str, dict[str, float]] = {}
    for _, plan in plans:
        for c in plan.changes:
            if c.field in ("gps_latitude", "gps_longitude") and c.path in dslr:
                proposed.setdefault(c.path, {})[c.field] = c.new
    right = sum(distance_m(v["gps_latitude"], v["gps_longitude"], by_path[p].lat, by_path[p].lon) <= GPS_OK_M
                for p, v in proposed.items())
    assert proposed and right / len(proposed) >= 0.99
    assert right / len(dslr) >= 0.95


def test_phones_untouched_and_one_group_per_event(planned):
    truth, plans = planned
    by_path = {str(truth.path(p)): p for p in truth.photos}
    for _, plan in plans:
        # a phone may gain a value it lacks (a place name), never lose or change one it has
        assert not [c for c in plan.changes if by_path[c.path].kind == "phone" and c.old not in (None, "", ())]
    events = [g for g, _ in plans if g.kind == "event"]
    assert len(events) == len(truth.events)
    for g in events:
        assert len({by_path[m.path].event for m in g.members}) == 1
    grouped_dslr = {m.path for g in events for m in g.members if by_path[m.path].kind == "dslr"}
    assert len(grouped_dslr) == len(truth.of_kind("dslr"))
