"""Accuracy of metasync on generated libraries with a known truth (demokit.library writes ground_truth.json).

For each seed: generate a library, scan it, suggest groups (events and camera time shifts), plan every group with
the pending time shifts applied in memory, and compare each proposed value with the truth:

- field transfers: precision (proposed values that are right) and recall (missing values that were filled right),
  per field family;
- GPS: median / p95 error of every proposed position, and of the interpolated ones;
- camera clocks: absolute error of each recovered offset;
- cross-event transfers: a value given by a photo of another event (must be 0).

`--trips` runs the real pipeline instead on demokit.trips' two-week trip: scan, suggest, apply every
group, read the sidecars back, and judge what a host reads (sidecar over file) against each photo's `want`: per field
precision (written values that are right) and recall (wanted values present and right), and the trip bars:
no trip photo placed at home, no distractor changed, camera times and offsets, copies, no own value overwritten.
`--orders id reverse random` applies the groups in each order on fresh copies and says whether the figures agree.

    .venv/bin/python bench/accuracy.py --seeds 1 2 3 [--events 4 --photos-per-event 12] [--dst] [--dslr-gps]
        [--dslr-details]
    .venv/bin/python bench/accuracy.py --trips --seeds 1 2 3 4 5 [--days 14] [--orders id reverse random] [--out F]
"""
from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

from demokit.library import Truth, generate_library
from demokit.trips import at_home, generate_trip
from metasync.config import Settings
from metasync.detect.place import place_groups
from metasync.engine import Engine
from metasync.fields import CAMERA_FIELDS, GPS_FIELDS, PLACE_FIELDS
from metasync.lookups.gazetteer import Gazetteer, Place
from metasync.models import FieldChange, Group, GroupKind, Plan
from metasync.naming import find_existing_sidecar
from metasync.plan import plan_group
from metasync.timeutil import parse_local, parse_offset
from metasync.track import distance_m
from metasync.write import sidecar

log = logging.getLogger("bench.accuracy")

GPS_OK_M = 100.0  # a proposed position this close to the truth counts as right
ALT_OK_M = 10.0
TIME_OK_S = 60.0  # a proposed capture time this close (in UTC) counts as right
FAR_S = 60.0  # interpolated this far from any fix: the track's gaps, not a phone twin seconds away
FAMILIES = {**{f: "gps" for f in GPS_FIELDS}, "datetime_original": "time",
            "offset_time": "offset", **{f: "camera" for f in CAMERA_FIELDS}, **{f: "place" for f in PLACE_FIELDS}}


@dataclass
class Result:
    """Counts and errors of one or more libraries (they add up)."""

    proposed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    right: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    expected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    filled: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    gps_errors: list[float] = field(default_factory=list)
    interp_errors: list[float] = field(default_factory=list)
    interp_far_errors: list[float] = field(default_factory=list)  # interpolated at least FAR_S from any fix
    clock_errors: list[float] = field(default_factory=list)
    clock_pairs: list[int] = field(default_factory=list)
    cameras_missed: int = 0
    cross_event: int = 0
    wrong: list[str] = field(default_factory=list)

    def add(self, other: "Result") -> None:
        for name in ("proposed", "right", "expected", "filled"):
            for k, v in getattr(other, name).items():
                getattr(self, name)[k] += v
        for name in ("gps_errors", "interp_errors", "interp_far_errors", "clock_errors", "clock_pairs", "wrong"):
            getattr(self, name).extend(getattr(other, name))
        self.cameras_missed += other.cameras_missed
        self.cross_event += other.cross_event

    def precision(self, family: str | None = None) -> float:
        keys = [family] if family else list(self.proposed)
        n = sum(self.proposed[k] for k in keys)
        return sum(self.right[k] for k in keys) / n if n else float("nan")

    def recall(self, family: str | None = None) -> float:
        keys = [family] if family else list(self.expected)
        n = sum(self.expected[k] for k in keys)
        return sum(self.filled[k] for k in keys) / n if n else float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


# -- running the engine -----------------------------------------------------------------------------------------
def plans_for(engine: Engine, root: Path) -> list[tuple[Group, Plan]]:
    """Scan and suggest (events, time shifts, places), then plan each pending group the way a user previewing it
    would see it."""
    engine.suggest([root])
    suggest_places(engine, [root])
    return [(g, engine.plan(g.id)) for g in engine.index.groups(status="pending")]


def suggest_places(engine: Engine, paths: list[Path]) -> list[dict[str, Any]]:
    """Place groups (GPS from the GPX logs, offline place names, zone offsets) for the indexed photos under
    `paths` that no pending group already covers as a target, sources of event groups included: [{"id", "kind",
    "files", "changes", "reasons"}]. Run after suggest (which covers photos in no event group itself)."""
    photos = engine.index.photos(under=[str(Path(p).expanduser().resolve()) for p in paths])
    pending = engine.index.groups(status="pending")
    covered = {m.photo_id for g in pending if g.kind != GroupKind.TIME_SHIFT for m in g.targets}
    by_id = {p.id: p for p in photos}
    out = []
    for group in place_groups(photos, covered, engine.settings, engine.lookups):
        plan = plan_group(group, by_id, engine.settings, engine.lookups)
        if plan.changes:
            gid = engine.index.save_group(group)
            out.append({"id": gid, "kind": group.kind, "files": [m.path for m in group.members],
                        "changes": len(plan.changes), "reasons": list(group.reasons)})
    return out


@functools.cache
def _gazetteer() -> Gazetteer:
    """The dataset's towns (through the default cache folder), to name the truth's places."""
    return Gazetteer.from_dataset(Settings().cache_dir)


def reverse_geocode(coords: list[tuple[float, float]]) -> list[Place | None]:
    """The place names the truth's positions have."""
    return _gazetteer().reverse_geocode(coords)


def run_library(workdir: Path, seed: int, **demo: Any) -> tuple[Truth, list[tuple[Group, Plan]], Settings]:
    truth = generate_library(workdir / "lib", seed=seed, **demo)
    settings = Settings(db_path=workdir / "index.db", library_roots=(workdir / "lib",))
    with Engine(settings) as engine:
        plans = plans_for(engine, workdir / "lib")
    return truth, plans, settings


# -- judging ----------------------------------------------------------------------------------------------------
def _utc_of(value: str, offset: str | None) -> float | None:
    dt = parse_local(value)
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone(parse_offset(offset) or timedelta(0)))
    return dt.timestamp()


def _expected_fields(p: Any, truth: Truth) -> set[str]:
    """What a photo lacks that the truth knows (and the engine should fill)."""
    written = p.meta
    out = {f for f in PLACE_FIELDS}
    if written.get("gps_latitude") is None:
        out |= {"gps_latitude", "gps_longitude", "gps_altitude"}
    if written.get("offset_time") is None:
        out.add("offset_time")
    true_local = datetime.fromisoformat(p.utc).astimezone(timezone(parse_offset(p.offset))).replace(tzinfo=None)
    shown = parse_local(written.get("datetime_original"))
    if shown is None or abs((shown.replace(tzinfo=None) - true_local).total_seconds()) > TIME_OK_S:
        out.add("datetime_original")
    if p.original:
        origin = truth.photo(p.original).meta
        out |= {f for f in CAMERA_FIELDS if origin.get(f) is not None and written.get(f) is None}
    return out


def judge(truth: Truth, plans: Iterable[tuple[Group, Plan]]) -> Result:
    """Compare every planned change with the truth."""
    root = str(truth.root.resolve())
    rel = {}

    def key(path: str | None) -> str | None:
        if path is None:
            return None
        if path not in rel:
            rel[path] = os.path.relpath(path.split("#", 1)[0], root) if path.startswith(root) else path
        return rel[path]

    by_rel = {p.path: p for p in truth.photos}
    res = Result()
    changes: dict[str, dict[str, FieldChange]] = defaultdict(dict)
    for group, plan in plans:
        if group.kind == "time_shift":
            _judge_shift(truth, group, by_rel, key, res)
        for c in plan.changes:
            changes[key(c.path)][c.field] = c  # a later group's value wins, as it would on disk
    true_places = dict(zip(by_rel, reverse_geocode([(p.lat, p.lon) for p in by_rel.values()])))
    for path, fields in changes.items():
        p = by_rel.get(path)
        if p is None:
            continue
        for name, c in fields.items():
            fam = FAMILIES.get(name)
            if fam is None:
                continue
            src = by_rel.get(key(c.source)) if c.source else None
            if src is not None and src.event != p.event:
                res.cross_event += 1
                res.wrong.append(f"cross-event: {path} {name} from {src.path}")
            ok = _right(p, name, c, fields, truth, true_places[path], res)
            res.proposed[fam] += 1
            res.right[fam] += ok
            if not ok:
                res.wrong.append(f"{path} {name}: {c.old!r} -> {c.new!r} ({c.reason})")
    for path, p in by_rel.items():
        for name in _expected_fields(p, truth):
            if name == "gps_altitude" or FAMILIES.get(name) is None:
                continue
            if name in PLACE_FIELDS and getattr(true_places[path], name, None) is None:
                continue
            fam = FAMILIES[name]
            res.expected[fam] += 1
            c = changes.get(path, {}).get(name)
            res.filled[fam] += c is not None and _right(p, name, c, changes[path], truth, true_places[path], None)
    return res


def _from_fix_s(truth: Truth, p: Any) -> float:
    """How far in time a photo was taken from the nearest photo that has GPS of its own."""
    return min((abs(q.utc_epoch - p.utc_epoch) for q in truth.photos if q.meta.get("gps_latitude") is not None),
               default=math.inf)


def _right(p: Any, name: str, c: FieldChange, fields: dict[str, FieldChange], truth: Truth, place: Any,
           res: Result | None) -> bool:
    if name in ("gps_latitude", "gps_longitude"):
        lat = fields["gps_latitude"].new if "gps_latitude" in fields else p.meta.get("gps_latitude")
        lon = fields["gps_longitude"].new if "gps_longitude" in fields else p.meta.get("gps_longitude")
        if lat is None or lon is None:
            return False
        err = distance_m(lat, lon, p.lat, p.lon)
        if res is not None and name == "gps_latitude":
            res.gps_errors.append(err)
            if c.reason.startswith("interpolated"):
                res.interp_errors.append(err)
                if _from_fix_s(truth, p) >= FAR_S:
                    res.interp_far_errors.append(err)
        return err <= GPS_OK_M
    if name == "gps_altitude":
        return abs(float(c.new) - p.alt) <= ALT_OK_M
    if name == "datetime_original":
        offset = fields["offset_time"].new if "offset_time" in fields else p.meta.get("offset_time") or p.offset
        utc = _utc_of(str(c.new), offset)
        return utc is not None and abs(utc - datetime.fromisoformat(p.utc).timestamp()) <= TIME_OK_S
    if name == "offset_time":
        return c.new == p.offset
    if name in CAMERA_FIELDS:
        origin = truth.photo(p.original).meta if p.original else p.meta
        return origin.get(name) == c.new
    if name in PLACE_FIELDS:
        return place is not None and getattr(place, name) == c.new
    return False


def _judge_shift(truth: Truth, group: Group, by_rel: dict[str, Any], key: Any, res: Result) -> None:
    devices = {by_rel[key(m.path)].device for m in group.targets if key(m.path) in by_rel}
    errors = [truth.cameras[d] for d in devices if d in truth.cameras]
    if len(errors) != 1:
        res.wrong.append(f"time shift {group.evidence.camera}: cameras {sorted(map(str, devices))}")
        return
    res.clock_errors.append(abs(group.evidence.shift_s + errors[0]))
    res.clock_pairs.append(group.evidence.pairs)
    for cam, ref, _ in group.evidence.matches:
        a, b = by_rel.get(key(cam)), by_rel.get(key(ref))
        if a is not None and b is not None and a.event != b.event:
            res.cross_event += 1
            res.wrong.append(f"cross-event clock pair: {a.path} ~ {b.path}")


def missed_cameras(truth: Truth, plans: list[tuple[Group, Plan]], by_rel: dict[str, Any]) -> int:
    """Cameras with a clock error in the truth that no time-shift group found."""
    root = str(truth.root.resolve())
    found = set()
    for g, _ in plans:
        if g.kind == "time_shift":
            found |= {by_rel[os.path.relpath(m.path, root)].device for m in g.targets
                      if os.path.relpath(m.path, root) in by_rel}
    used = {p.device for p in truth.photos if p.kind == "dslr"}
    return sum(1 for d, err in truth.cameras.items() if d in used and abs(err) >= 60 and d not in found)


def evaluate(truth: Truth, plans: list[tuple[Group, Plan]]) -> Result:
    res = judge(truth, plans)
    res.cameras_missed = missed_cameras(truth, plans, {p.path: p for p in truth.photos})
    return res


# -- trips: the real pipeline on demokit.trips, applied, read back from the sidecars --------------------------
TRIP_TIME_OK_S = 30.0  # camera (and copy) times this close in UTC count as right
ORDERS = ("id", "reverse", "random")
DISTRACTORS = ("scan", "screenshot", "old")
CAMERA_KINDS = ("dslr", "camera2")
TRIP_FIELDS = (*GPS_FIELDS, "datetime_original", "offset_time", *CAMERA_FIELDS, *PLACE_FIELDS)


def apply_all(engine: Engine, root: Path, order: str = "id", seed: int = 0) -> list[int]:
    """Scan, suggest (events, time shifts, places) and apply every pending group, conflicts left out, in `order`:
    by id, reversed, or shuffled (`seed`). Returns the ids in the order applied."""
    engine.suggest([root])
    suggest_places(engine, [root])
    ids = sorted(g.id for g in engine.index.groups(status="pending"))
    if order == "reverse":
        ids.reverse()
    elif order == "random":
        random.Random(seed).shuffle(ids)
    for gid in ids:
        engine.apply(gid, min_confidence=0.0)
    return ids


def sidecar_values(truth: Truth) -> dict[str, dict[str, Any]]:
    """Relative photo path -> the canonical values its sidecar holds (photos without a sidecar left out)."""
    out = {}
    for p in truth.photos:
        xmp = find_existing_sidecar(truth.path(p))
        if xmp is not None:
            out[p.path] = sidecar.read_values(xmp.read_bytes())
    return out


@dataclass
class TripResult:
    """Field-by-field counts and the trip bars over one or more trips (they add up)."""

    written: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # a value differing from the file's
    right: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    wanted: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    filled: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # bars' numerators and denominators
    wrong: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # category -> examples

    def add(self, other: "TripResult") -> None:
        for name in ("written", "right", "wanted", "filled", "counts"):
            for k, v in getattr(other, name).items():
                getattr(self, name)[k] += v
        for k, v in other.wrong.items():
            self.wrong[k].extend(v)

    def ratio(self, num: str, den: str) -> float:
        return self.counts[num] / self.counts[den] if self.counts[den] else float("nan")

    def fields(self) -> dict[str, dict[str, int]]:
        """Per field: written, right, wanted, filled (fields neither written nor wanted left out)."""
        return {f: {"written": self.written.get(f, 0), "right": self.right.get(f, 0),
                    "wanted": self.wanted.get(f, 0), "filled": self.filled.get(f, 0)}
                for f in TRIP_FIELDS if self.written.get(f) or self.wanted.get(f)}

    def figures(self) -> str:
        """Everything reported, as one comparable text (the bars hold nan where nothing was counted)."""
        return repr((self.bars(), self.fields()))

    def bars(self) -> dict[str, float | int]:
        c = self.counts
        return {
            "camera GPS precision": self.ratio("camera_gps_right", "camera_gps_written"),
            "camera GPS recall": self.ratio("camera_gps_right", "camera_photos"),
            "trip photos given a home position": c["home_given"],
            "distractors changed": c["distractors_changed"],
            "camera times within 30 s": self.ratio("camera_time_right", "camera_photos"),
            "camera offsets right": self.ratio("camera_offset_right", "camera_photos"),
            "copies' time right": self.ratio("copy_time_right", "copies"),
            "copies' GPS right": self.ratio("copy_gps_right", "copies"),
            "own values overwritten": c["overwritten"],
        }


def _wall(value: Any) -> datetime | None:
    dt = parse_local(str(value)) if value is not None else None
    return dt.replace(tzinfo=None) if dt is not None else None


def effective_utc(own: dict[str, Any], car: dict[str, Any], true_offset: str) -> float | None:
    """The capture instant a host reads: the sidecar's time (else the file's) at the sidecar's offset (else the
    file's; a time without any offset is read as the true local time, its offset judged on its own)."""
    value = car.get("datetime_original", own.get("datetime_original"))
    wall = _wall(value)
    if wall is None:
        return None
    offset = car.get("offset_time") or own.get("offset_time") or true_offset
    return wall.replace(tzinfo=timezone(parse_offset(offset) or timedelta(0))).timestamp()


def _differs(name: str, new: Any, old: Any) -> bool:
    if old is None:
        return new is not None
    if name == "datetime_original":
        a, b = _wall(new), _wall(old)
        return a is None or b is None or abs((a - b).total_seconds()) > 0.5
    if isinstance(new, (int, float)) and isinstance(old, (int, float)):
        return abs(float(new) - float(old)) > 1e-6
    return new != old


def _trip_right(p: Any, name: str, want: dict[str, Any], own: dict[str, Any], car: dict[str, Any]) -> bool:
    """Is the value a host reads for `name` (sidecar over file) the one the truth wants?"""
    if name not in want:
        return False
    if name in ("gps_latitude", "gps_longitude"):
        lat, lon = car.get("gps_latitude", own.get("gps_latitude")), car.get("gps_longitude", own.get("gps_longitude"))
        return lat is not None and lon is not None and distance_m(lat, lon, p.lat, p.lon) <= GPS_OK_M
    value = car.get(name, own.get(name))
    if value is None:
        return False
    if name == "gps_altitude":
        return abs(float(value) - float(want[name])) <= ALT_OK_M
    if name == "datetime_original":
        utc = effective_utc(own, car, p.offset)
        return utc is not None and abs(utc - p.utc_epoch) <= TRIP_TIME_OK_S
    if isinstance(value, (int, float)) and isinstance(want[name], (int, float)):
        return abs(float(value) - float(want[name])) <= 1e-6
    return value == want[name]


def judge_trip(truth: Truth, sidecars: dict[str, dict[str, Any]]) -> TripResult:
    """Compare what a host reads after the applies (sidecar over file) with each photo's `want`; place names are
    wanted wherever a position is (had or wanted), from the gazetteer at the true position."""
    res = TripResult()
    places = dict(zip((p.path for p in truth.photos), reverse_geocode([(p.lat, p.lon) for p in truth.photos])))
    for p in truth.photos:
        own, car = p.meta, sidecars.get(p.path, {})
        want = dict(p.want or {})
        if p.kind not in DISTRACTORS and (own.get("gps_latitude") is not None or "gps_latitude" in want):
            place = places[p.path]
            want.update({f: getattr(place, f) for f in PLACE_FIELDS
                         if place is not None and getattr(place, f, None) is not None})
        written = [f for f in TRIP_FIELDS if f in car and _differs(f, car[f], own.get(f))]
        for f in written:
            ok = _trip_right(p, f, want, own, car)
            res.written[f] += 1
            res.right[f] += ok
            if not ok:
                res.wrong[f"{p.kind} {f} {'unwanted' if f not in want else 'wrong'}"].append(
                    f"{p.path}: {own.get(f)!r} -> {car[f]!r} (want {want.get(f)!r})")
            if own.get(f) is not None and f not in want:
                res.counts["overwritten"] += 1
        for f, value in want.items():
            res.wanted[f] += 1
            if _trip_right(p, f, want, own, car):
                res.filled[f] += 1
            elif f not in written:
                res.wrong[f"{p.kind} {f} missing"].append(p.path)
        _trip_bars(p, own, car, written, res)
    return res


def _trip_bars(p: Any, own: dict[str, Any], car: dict[str, Any], written: list[str], res: TripResult) -> None:
    c = res.counts
    gps = "gps_latitude" in written or "gps_longitude" in written
    lat, lon = car.get("gps_latitude", own.get("gps_latitude")), car.get("gps_longitude", own.get("gps_longitude"))
    if gps and lat is not None and lon is not None and not at_home(p.lat, p.lon) and at_home(lat, lon):
        c["home_given"] += 1
        res.wrong["trip photo given a home position"].append(p.path)
    if p.kind in DISTRACTORS:
        c["distractors_changed"] += bool(written)
        if written:
            res.wrong[f"{p.kind} changed"].append(f"{p.path}: {sorted(written)}")
        return
    wanted = p.want or {}
    if p.kind in CAMERA_KINDS:
        c["camera_photos"] += 1
        c["camera_gps_written"] += gps
        c["camera_gps_right"] += gps and _trip_right(p, "gps_latitude", wanted, own, car)
        c["camera_time_right"] += _trip_right(p, "datetime_original", wanted, own, car)
        c["camera_offset_right"] += _trip_right(p, "offset_time", wanted, own, car)
    elif p.kind == "whatsapp":
        c["copies"] += 1
        c["copy_time_right"] += _trip_right(p, "datetime_original", wanted, own, car)
        c["copy_gps_right"] += _trip_right(p, "gps_latitude", wanted, own, car)


def run_trip(truth: Truth, workdir: Path, orders: Iterable[str] = ("id",),
             overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per order: a fresh copy of the trip and a fresh index, every group applied, the sidecars judged; `overrides`
    are settings other than the defaults. {"results": {order: TripResult}, "sidecar_diffs": ["path field: value by
    order", ...], "seconds": {order: s}}."""
    seed = truth.seed
    results, seconds, seen = {}, {}, []
    for order in orders:
        copy = truth.copy_to(workdir / f"trip-{order}")
        t0 = time.perf_counter()
        settings = Settings(db_path=workdir / f"{order}.db", library_roots=(copy.root,)).with_(**(overrides or {}))
        with Engine(settings) as engine:
            apply_all(engine, copy.root, order, seed)
        seconds[order] = round(time.perf_counter() - t0, 1)
        cars = sidecar_values(copy)
        results[order] = judge_trip(copy, cars)
        seen.append(cars)
    return {"results": results, "seconds": seconds,
            "sidecar_diffs": sidecar_diffs(dict(zip(orders, seen)))}


def sidecar_diffs(by_order: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Every (photo, field) whose sidecar value is not the same in all orders, with the value of each order."""
    out = []
    paths = sorted({path for cars in by_order.values() for path in cars})
    for path in paths:
        names = sorted({f for cars in by_order.values() for f in cars.get(path, {})})
        for f in names:
            values = {order: cars.get(path, {}).get(f) for order, cars in by_order.items()}
            if len({repr(v) for v in values.values()}) > 1:
                out.append(f"{path} {f}: " + ", ".join(f"{o} {v!r}" for o, v in values.items()))
    return out


def trip_table(res: TripResult) -> str:
    def pct(x: float) -> str:
        return "   -  " if x != x else f"{100 * x:5.1f}%"

    lines = ["field               written  precision  wanted  recall"]
    for f in TRIP_FIELDS:
        if res.written.get(f) or res.wanted.get(f):
            prec = res.right[f] / res.written[f] if res.written.get(f) else float("nan")
            rec = res.filled[f] / res.wanted[f] if res.wanted.get(f) else float("nan")
            lines.append(f"{f:<19} {res.written.get(f, 0):>7}  {pct(prec):>9}  {res.wanted.get(f, 0):>6}  "
                         f"{pct(rec):>6}")
    lines.append("")
    bars = {"camera GPS precision": ">= 99%", "camera GPS recall": ">= 90%", "trip photos given a home position": "0",
            "distractors changed": "0", "camera times within 30 s": ">= 95%", "camera offsets right": ">= 95%",
            "copies' time right": ">= 90%", "copies' GPS right": ">= 90%", "own values overwritten": "0"}
    for name, value in res.bars().items():
        shown = pct(value) if isinstance(value, float) else str(value)
        lines.append(f"{name:<36} {shown:>7}   bar {bars[name]}")
    return "\n".join(lines)


def trips_main(args: argparse.Namespace) -> int:
    """--trips: the two-week trip for each seed; figures printed and, with --out, written as JSON."""
    total, per_seed, t0 = TripResult(), [], time.perf_counter()
    trip = {"days": args.days, "size": tuple(args.size_wh)}
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix=f"metasync-trips-{seed}-") as tmp:
            truth = generate_trip(Path(tmp) / "trip", seed=seed, **trip)
            run = run_trip(truth, Path(tmp), args.orders, dict(args.set))
        res = run["results"][args.orders[0]]
        same = all(r.figures() == res.figures() for r in run["results"].values())
        print(f"seed {seed}: {len(truth.photos)} photos, {run['seconds']} s; "
              + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in res.bars().items())
              + (f"; orders {'/'.join(args.orders)}: figures {'same' if same else 'DIFFER'}, sidecars "
                 f"{len(run['sidecar_diffs'])} values differ" if len(args.orders) > 1 else ""), flush=True)
        for line in run["sidecar_diffs"][:args.show_wrong]:
            print("  differs:", line)
        per_seed.append({"seed": seed, "photos": len(truth.photos), "seconds": run["seconds"],
                         "bars": res.bars(), "orders_same_figures": same, "sidecar_diffs": run["sidecar_diffs"],
                         **({"by_order": {o: {"bars": r.bars(), "fields": r.fields()}
                                          for o, r in run["results"].items()}}
                            if len(args.orders) > 1 else {})})
        total.add(res)
    elapsed = time.perf_counter() - t0
    print(f"\n{len(args.seeds)} trips ({args.days} days) in {elapsed:.0f} s")
    print(trip_table(total))
    categories = sorted(total.wrong.items(), key=lambda kv: -len(kv[1]))
    print("\nwrong or missing, by category:")
    for name, examples in categories:
        print(f"  {len(examples):>5}  {name}" + (f"   e.g. {examples[0]}" if args.show_wrong else ""))
    if args.out:
        report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                              "platform": platform.platform(),
                              "date": datetime.now(timezone.utc).isoformat(timespec="seconds")},
                  "params": {"seeds": args.seeds, "orders": args.orders, **trip, "settings": dict(args.set)},
                  "seconds": round(elapsed, 1),
                  "bars": total.bars(), "fields": total.fields(), "seeds": per_seed,
                  "wrong_by_category": {k: len(v) for k, v in categories}}
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


# -- report -----------------------------------------------------------------------------------------------------
def table(res: Result) -> str:
    def pct(x: float) -> str:
        return "   -  " if x != x else f"{100 * x:5.1f}%"

    lines = ["field family   proposed  precision  expected  recall"]
    for fam in ("gps", "time", "offset", "camera", "place"):
        lines.append(f"{fam:<14} {res.proposed.get(fam, 0):>8}  {pct(res.precision(fam)):>9}  "
                     f"{res.expected.get(fam, 0):>8}  {pct(res.recall(fam)):>6}")
    lines.append(f"{'all':<14} {sum(res.proposed.values()):>8}  {pct(res.precision()):>9}  "
                 f"{sum(res.expected.values()):>8}  {pct(res.recall()):>6}")
    for name, errors in (("all proposed", res.gps_errors), ("interpolated", res.interp_errors),
                         (f"interpolated >= {FAR_S:.0f} s from a fix", res.interp_far_errors)):
        lines.append(f"GPS error, {name} ({len(errors)}): median {statistics.median(errors or [0]):.1f} m, "
                     f"p95 {percentile(errors, 0.95):.1f} m")
    ce = res.clock_errors
    lines.append(f"camera clock offsets: {len(ce)} found, {res.cameras_missed} missed; abs error median "
                 f"{statistics.median(ce or [0]):.1f} s, max {max(ce or [0]):.1f} s; pairs per estimate "
                 f"{min(res.clock_pairs or [0])}-{max(res.clock_pairs or [0])}")
    lines.append(f"cross-event transfers: {res.cross_event}")
    return "\n".join(lines)


def _setting(text: str) -> tuple[str, Any]:
    """NAME=VALUE, the value read as JSON (numbers, true/false) or else as a string."""
    name, sep, value = text.partition("=")
    if not sep or name not in Settings.__dataclass_fields__:
        raise argparse.ArgumentTypeError(f"{text!r}: want NAME=VALUE with NAME a setting")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--events", type=int, default=4)
    ap.add_argument("--photos-per-event", type=int, default=12)
    ap.add_argument("--clock-offset", type=float, default=3800.0)
    ap.add_argument("--start-date", default="2024-05-12")
    ap.add_argument("--dst", action="store_true",
                    help="cameras with a right clock, events across the spring DST change")
    ap.add_argument("--dslr-gps", action="store_true",
                    help="the DSLR geotags its photos (its clock still off): pairs by the GPS track as well")
    ap.add_argument("--dslr-details", action="store_true",
                    help="the DSLR shoots details like no phone shot; only 1-2 per event are twins of a phone shot")
    ap.add_argument("--show-wrong", type=int, default=0, help="print this many wrong proposals")
    ap.add_argument("--trips", action="store_true",
                    help="the two-week trip (demokit.trips), every group applied, sidecars judged")
    ap.add_argument("--days", type=int, default=14, help="--trips: length of the trip")
    ap.add_argument("--size", type=int, nargs=2, default=[512, 384], metavar=("W", "H"), dest="size_wh",
                    help="--trips: picture size")
    ap.add_argument("--orders", nargs="+", choices=ORDERS, default=["id"],
                    help="--trips: apply the groups in each of these orders (fresh copies) and compare")
    ap.add_argument("--out", help="--trips: write the figures as JSON here")
    ap.add_argument("--set", type=_setting, action="append", default=[], metavar="NAME=VALUE",
                    help="--trips: a setting other than its default, e.g. max_gps_error_m=150 (repeatable)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.trips:
        return trips_main(args)
    offset, start = (0.0, "2024-03-30") if args.dst else (args.clock_offset, args.start_date)
    total = Result()
    t0 = time.perf_counter()
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix=f"metasync-accuracy-{seed}-") as tmp:
            truth, plans, _ = run_library(Path(tmp), seed, events=args.events,
                                          photos_per_event=args.photos_per_event, size=(512, 384),
                                          dslr_clock_offset_s=offset, start_date=start, dslr_gps=args.dslr_gps,
                                          dslr_details=args.dslr_details)
            res = evaluate(truth, plans)
        print(f"seed {seed}: {len(truth.photos)} photos, precision {res.precision():.3f}, "
              f"recall {res.recall():.3f}, clock errors {[round(e, 1) for e in res.clock_errors]} "
              f"({res.cameras_missed} missed), cross-event {res.cross_event}", flush=True)
        total.add(res)
    print()
    print(f"{len(args.seeds)} libraries ({args.events} events x {args.photos_per_event} photos, "
          f"DSLR clock {offset:+.0f} s, from {start}) in {time.perf_counter() - t0:.0f} s")
    print(table(total))
    for line in total.wrong[:args.show_wrong]:
        print("  wrong:", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
