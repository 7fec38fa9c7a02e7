"""Camera clocks on a generated trip (demokit.trips, real files scanned): the DSLR left on home time through Lisbon
and New York gets one correction per leg, and its photos end in local wall time with the zone's offset."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from demokit.library import Truth
from demokit.trips import DSLR, generate_trip
from metasync.config import Settings
from metasync.detect.clock import suggest_time_shifts
from metasync.engine import Engine
from metasync.timeutil import utc_epoch

WEEK = {"days": 7, "events_per_day": (3, 3), "photos_per_event": 5, "dslr_per_event": 3, "size": (256, 192),
        "copies_per_day": 0, "distractors": 1}


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, exiftool):
    root = tmp_path_factory.mktemp("clocktrip")
    truth = generate_trip(root / "trip", seed=2, exiftool=exiftool, **WEEK)
    with Engine(Settings(db_path=root / "index.db", library_roots=(truth.root,))) as engine:
        engine.scan([truth.root])
        return truth, engine.index.photos()


def _rel(truth: Truth, path: str) -> str:
    return str(Path(path).resolve().relative_to(truth.root.resolve()))


def test_the_dslr_on_home_time_is_corrected_leg_by_leg(scanned):
    truth, photos = scanned
    groups, fixed, _ = suggest_time_shifts(photos, Settings())
    dslr = [g for g in groups if g.evidence.camera.startswith("Canon")]
    assert len(dslr) >= 3  # home, Lisbon, New York (and home again)
    reasons = " | ".join(g.reasons[0] for g in dslr)
    assert "camera on home time +02:00, 3 min " in reasons and "; here -04:00" in reasons and "; here +01:00" in reasons
    by_rel = {_rel(truth, p.path): p for p in fixed}
    shots = [p for p in truth.photos if p.kind == "dslr" and p.device == DSLR.label]
    right = [p for p in shots if by_rel[p.path].meta.offset_time == p.offset
             and abs(utc_epoch(by_rel[p.path].meta) - datetime.fromisoformat(p.utc).timestamp()) <= 30]
    assert len(shots) > 40 and len(right) >= 0.95 * len(shots), [p.path for p in shots if p not in right]
