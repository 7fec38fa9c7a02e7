"""Held-out clock check: each camera photo's pending clock correction against the truth, without the apply.

For each seed a demokit trip is generated, scanned, and its clocks detected (suggest_time_shifts, the first step
of Engine.suggest); every camera photo's time as the pending correction gives it (its own where none does) is
compared with the true instant, per camera. Nothing is applied, so nothing else (events, places, copies) can
hide or make up a clock error.

    .venv/bin/python bench/clock_check.py --seeds $(seq 1 30) [--jobs 2] [--size 512 384] [--out F]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from accuracy import effective_utc  # a sibling script: bench/ is on the path when this one runs

from demokit.trips import generate_trip
from metasync.config import Settings
from metasync.detect.clock import shift_values, suggest_time_shifts
from metasync.engine import Engine

# A camera time this close to the truth is right (the trip bars' "camera times within 30 s").
WITHIN_S = 30.0
CAMERAS = ("dslr", "camera2")  # demokit.trips' kinds: the Canon on home time, the second camera (Nikon)


def check_seed(seed: int, size: tuple[int, int]) -> dict[str, Any]:
    """Per camera of one trip: photos, right within WITHIN_S, corrected (by a pending shift) and the shifts'
    reasons."""
    with tempfile.TemporaryDirectory(prefix=f"metasync-clock-{seed}-") as tmp:
        truth = generate_trip(Path(tmp) / "trip", seed=seed, size=size)
        root = truth.root.resolve()
        settings = Settings(db_path=Path(tmp) / "index.db", library_roots=(root,))
        with Engine(settings) as engine:
            engine.scan([root])
            photos = engine.index.photos()
        groups, _, _ = suggest_time_shifts(photos, settings)
    by_path = {p.path: p for p in photos}
    pending: dict[str, dict[str, str]] = {}
    for g in groups:
        for m in g.targets:
            if m.path in by_path:
                pending[m.path] = shift_values(g, by_path[m.path])
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"photos": 0, "right": 0, "corrected": 0})
    for t in truth.photos:
        if t.kind not in CAMERAS:
            continue
        path = str(root / t.path)
        photo = by_path[path]
        values = {**photo.meta.to_dict(), **pending.get(path, {})}
        utc = effective_utc(values, {}, t.offset)
        row = out[t.device]
        row["photos"] += 1
        row["corrected"] += bool(pending.get(path))
        row["right"] += utc is not None and abs(utc - t.utc_epoch) <= WITHIN_S
    return {"seed": seed, "cameras": dict(out), "reasons": [r for g in groups for r in g.reasons]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 31)))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--size", type=int, nargs=2, default=(512, 384), metavar=("W", "H"))
    ap.add_argument("--out", help="write the per-seed figures as JSON here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(check_seed, args.seeds, [tuple(args.size)] * len(args.seeds)))
    total: dict[str, dict[str, int]] = defaultdict(lambda: {"photos": 0, "right": 0, "corrected": 0, "seeds_all": 0})
    for run in runs:
        print(f"seed {run['seed']}: " + ", ".join(
            f"{cam} {c['right']}/{c['photos']} right ({c['corrected']} corrected)"
            for cam, c in sorted(run["cameras"].items())))
        for cam, c in run["cameras"].items():
            for k in ("photos", "right", "corrected"):
                total[cam][k] += c[k]
            total[cam]["seeds_all"] += c["right"] == c["photos"]
    print(f"\n{len(runs)} seeds in {time.perf_counter() - t0:.0f} s")
    for cam, c in sorted(total.items()):
        print(f"{cam}: {100 * c['right'] / c['photos']:.1f} % within {WITHIN_S:.0f} s ({c['right']}/{c['photos']}), "
              f"{c['corrected']} corrected, all right on {c['seeds_all']} seeds")
    if args.out:
        Path(args.out).write_text(json.dumps({"size": list(args.size), "seeds": runs, "total": total}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
