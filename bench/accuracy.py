"""Accuracy of metasync on generated libraries with a known truth (demokit.library writes ground_truth.json).

For each seed: generate a library, scan it, suggest groups (events and camera time shifts), plan every group with
the pending time shifts applied in memory, and compare each proposed value with the truth:

- field transfers: precision (proposed values that are right) and recall (missing values that were filled right),
  per field family;
- GPS: median / p95 error of every proposed position, and of the interpolated ones;
- camera clocks: absolute error of each recovered offset;
- cross-event transfers: a value given by a photo of another event (must be 0).

    .venv/bin/python bench/accuracy.py --seeds 1 2 3 [--events 4 --photos-per-event 12] [--dst] [--dslr-gps] [--dslr-details]
"""
from __future__ import annotations

import argparse
import functools
import logging
import math
import os
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
from metasync.config import Settings
from metasync.detect.place import place_groups
from metasync.engine import Engine
from metasync.fields import CAMERA_FIELDS, GPS_FIELDS, PLACE_FIELDS
from metasync.lookups.gazetteer import Gazetteer, Place
from metasync.models import FieldChange, Group, GroupKind, Plan
from metasync.plan import plan_group
from metasync.timeutil import parse_local, parse_offset
from metasync.track import distance_m

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
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
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
