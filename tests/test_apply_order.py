"""Applying suggested groups in any order gives the same sidecars: a camera's clock correction is never lost."""
from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import pytest

from demokit.library import Truth, generate_library
from metasync.config import Settings
from metasync.engine import Engine
from metasync.write import sidecar

FIELDS = ("datetime_original", "gps_latitude", "gps_longitude", "city", "country")


def _fresh(library: Truth, tmp_path: Path, name: str) -> tuple[Engine, Truth, list[dict]]:
    truth = library.copy_to(tmp_path / name)
    engine = Engine(Settings(db_path=tmp_path / f"{name}.db"))
    groups = engine.suggest([truth.root])
    return engine, truth, groups


def _sidecars(truth: Truth) -> dict[str, dict]:
    """Relative photo path -> our fields as written in its sidecar (what a host reads back)."""
    out = {}
    for xmp in sorted(truth.root.rglob("*.xmp")):
        values = sidecar.read_values(xmp.read_bytes())
        out[str(xmp.relative_to(truth.root))] = {f: values.get(f) for f in FIELDS if values.get(f) is not None}
    return out


def _apply(engine: Engine, gid: int) -> None:
    engine.apply(gid, min_confidence=0.0)


def _ids(groups: list[dict], engine: Engine) -> tuple[list[int], list[int]]:
    kinds = {g["id"]: g["kind"] for g in engine.list_groups()}
    ids = [g["id"] for g in groups]
    return [i for i in ids if kinds[i] == "time_shift"], [i for i in ids if kinds[i] != "time_shift"]


@pytest.fixture(scope="module", params=["demo", "details-1", "details-2"])
def ordered_library(request, demo_library: Truth, tmp_path_factory, exiftool) -> Truth:
    """The demo library, and libraries whose camera mostly shoots details like no phone shot (two seeds)."""
    if request.param == "demo":
        return demo_library
    seed = int(request.param.split("-")[1])
    return generate_library(tmp_path_factory.mktemp(request.param) / "lib", seed=seed, events=3, photos_per_event=12,
                            size=(320, 240), dslr_details=True, exiftool=exiftool)


def test_any_apply_order_writes_the_corrected_camera_time(ordered_library: Truth, tmp_path: Path) -> None:
    library = ordered_library
    engine, truth, groups = _fresh(library, tmp_path, "baseline")
    shifts, events = _ids(groups, engine)
    assert shifts and events, "the demo library must yield a clock correction and event groups"
    for gid in shifts + events:
        _apply(engine, gid)
    baseline = _sidecars(truth)
    engine.close()
    dslr = {p.path: p for p in truth.photos if p.kind == "dslr"}
    corrected = [rel for rel in baseline if rel.rsplit(".xmp", 1)[0] in dslr]
    assert corrected, "the camera photos must get sidecars"
    for rel in corrected:
        photo = dslr[rel.rsplit(".xmp", 1)[0]]
        written = baseline[rel].get("datetime_original")
        assert written is not None and abs(datetime.fromisoformat(written).timestamp() - photo.utc_epoch) <= 30, (rel, written, photo.utc)

    rng = random.Random(4)
    orders = {"id order": sorted(shifts + events), "reverse": sorted(shifts + events, reverse=True),
              "events first": events + shifts, "random": rng.sample(shifts + events, len(shifts + events))}
    for name, order in orders.items():
        engine, truth, again = _fresh(library, tmp_path, name.replace(" ", "-"))
        assert [g["id"] for g in again] == [g["id"] for g in groups]
        for gid in order:
            _apply(engine, gid)
        assert _sidecars(truth) == baseline, name
        engine.close()


def test_reverting_between_applies_gives_the_same_sidecars(library: Truth, tmp_path: Path) -> None:
    engine, truth, groups = _fresh(library, tmp_path, "base")
    shifts, events = _ids(groups, engine)
    for gid in shifts + events:
        _apply(engine, gid)
    baseline = _sidecars(truth)
    engine.close()

    engine, truth, _ = _fresh(library, tmp_path, "mixed")
    first = events[0]
    _apply(engine, first)                      # an event before its clock correction
    only_some = _sidecars(truth)
    assert only_some and all(v == baseline[k] for k, v in only_some.items() if k in baseline
                             and "datetime_original" in v), "a partial apply writes the same values"
    engine.revert(first)
    for gid in shifts:
        _apply(engine, gid)
    engine.revert(shifts[0])                   # the correction taken back ...
    for gid in events:
        _apply(engine, gid)                    # ... while the events go in: they still write corrected times
    remaining = [g for g in shifts if g != shifts[0]]
    for gid in remaining:
        if engine.preview(gid)["status"] == "pending":
            _apply(engine, gid)
    if engine.preview(shifts[0])["changes"]:
        _apply(engine, shifts[0])
    assert _sidecars(truth) == baseline
    engine.close()


def test_preview_shows_the_corrected_time_and_where_it_comes_from(library: Truth, tmp_path: Path) -> None:
    engine, truth, groups = _fresh(library, tmp_path, "preview")
    shifts, events = _ids(groups, engine)
    times = [c for gid in events for c in engine.preview(gid)["changes"] if c["field"] == "datetime_original"
             and "clock group" in c["reason"]]
    assert times, "an event group with camera photos proposes their corrected time"
    for c in times:
        assert f"clock group {shifts[0]}" in c["reason"] or any(f"clock group {s}" in c["reason"] for s in shifts)
        assert c["old"] != c["new"]
    engine.close()
