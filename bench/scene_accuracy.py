"""Grouping accuracy with and without the local scene analyzer, on generated libraries with known events.

    .venv/bin/python bench/scene_accuracy.py [--seeds 1 2 3] [--events 4] [--photos 8]

Pairwise precision/recall: every pair of photos put in one group is a prediction "same event"; the truth is
demo.py's ground_truth.json. Events are detected as `suggest` detects them: after the camera clock corrections it
proposes. "default" is the generator's library as written; "hard" moves the second event of
each day right after the first (20 min later) and takes GPS away from its photos (location services off), so
time links chain the two events and GPS cannot separate them: only what the photos look like can.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Iterable

from demokit.library import Truth, generate_library
from metasync.config import Settings
from metasync.detect.clock import suggest_time_shifts
from metasync.detect.events import detect_groups
from metasync.detect.scene import refine_groups
from metasync.detect.scene.local import LocalAnalyzer
from metasync.engine import Engine
from metasync.models import Group, Photo
from metasync.timeutil import utc_epoch

HARD_GAP_S = 20 * 60


@dataclass(frozen=True)
class Accuracy:
    precision: float
    recall: float
    groups: int

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def pair_accuracy(groups: Iterable[Group], event_of: dict[int, str]) -> Accuracy:
    """Pairwise precision/recall of groups against the true events (photos outside every event are ignored)."""
    groups = list(groups)
    predicted = {tuple(sorted(pair)) for g in groups for pair in combinations([m.photo_id for m in g.members], 2)
                 if all(event_of.get(i) for i in pair)}
    by_event: dict[str, list[int]] = {}
    for pid, event in event_of.items():
        if event:
            by_event.setdefault(event, []).append(pid)
    true_pairs = {tuple(sorted(pair)) for ids in by_event.values() for pair in combinations(ids, 2)}
    hits = len(predicted & true_pairs)
    return Accuracy(hits / len(predicted) if predicted else 1.0, hits / len(true_pairs) if true_pairs else 1.0,
                    len(groups))


def _shift(text: str | None, delta: timedelta) -> str | None:
    if not text:
        return text
    dt = datetime.fromisoformat(text) + delta
    return dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")


def harden(photos: list[Photo], truth: Truth) -> list[Photo]:
    """The hard variant: each day's second event starts HARD_GAP_S after the first one's last photo, without GPS."""
    event_of = _event_of(photos, truth)
    by_event: dict[str, list[Photo]] = {}
    for p in photos:
        by_event.setdefault(event_of.get(p.id, ""), []).append(p)
    out = {p.id: p for p in photos}
    days: dict[str, list[str]] = {}
    for e in truth.events:
        days.setdefault(e.id[:10], []).append(e.id)
    for first, second, *_ in (ids for ids in days.values() if len(ids) >= 2):
        def span(event: str) -> list[float]:
            return sorted(t for p in by_event.get(event, []) if p.meta.offset_time and (t := utc_epoch(p.meta)))
        end, start = span(first)[-1], span(second)[0]
        delta = timedelta(seconds=end + HARD_GAP_S - start)
        for p in by_event.get(second, []):
            meta = p.meta.with_values(datetime_original=_shift(p.meta.datetime_original, delta),
                                      gps_latitude=None, gps_longitude=None, gps_altitude=None)
            out[p.id] = replace(p, meta=meta)
    return [out[p.id] for p in photos]


def _event_of(photos: list[Photo], truth: Truth) -> dict[int, str]:
    by_rel = {str((truth.root / t.path).resolve()): t.event for t in truth.photos}
    return {p.id: by_rel.get(str(Path(p.path).resolve()), "") for p in photos}


def evaluate(photos: list[Photo], truth: Truth, settings: Settings,
             analyzer: LocalAnalyzer) -> tuple[Accuracy, Accuracy]:
    event_of = _event_of(photos, truth)
    _, photos, _ = suggest_time_shifts(photos, settings)  # as `suggest` does: events are found on corrected clocks
    before = detect_groups(photos, settings)
    after = refine_groups(before, {p.id: p for p in photos}, settings, analyzer)
    return pair_accuracy(before, event_of), pair_accuracy(after, event_of)


def run(seeds: list[int], events: int, photos_per_event: int, workdir: Path,
        size: tuple[int, int] = (1024, 768)) -> list[tuple[str, int, Accuracy, Accuracy]]:
    rows = []
    for seed in seeds:
        root = workdir / f"lib{seed}"
        truth = generate_library(root, seed=seed, events=events, photos_per_event=photos_per_event, size=size)
        settings = Settings(db_path=workdir / f"index{seed}.db")
        with Engine(settings) as engine:
            engine.scan([root])
            photos = engine.index.photos()
            analyzer = LocalAnalyzer(settings, cache=engine.index)  # the hard variant reuses the cached features
            for variant, lib in (("default", photos), ("hard", harden(photos, truth))):
                rows.append((variant, seed, *evaluate(lib, truth, settings, analyzer)))
    return rows


def table(rows: list[tuple[str, int, Accuracy, Accuracy]]) -> str:
    lines = [f"{'variant':8} {'seed':>4} | {'before P':>8} {'R':>5} {'F1':>5} {'groups':>6} | "
             f"{'after P':>8} {'R':>5} {'F1':>5} {'groups':>6}"]
    for variant, seed, b, a in rows:
        lines.append(f"{variant:8} {seed:>4} | {b.precision:8.3f} {b.recall:5.3f} {b.f1:5.3f} {b.groups:6d} | "
                     f"{a.precision:8.3f} {a.recall:5.3f} {a.f1:5.3f} {a.groups:6d}")
    for variant in dict.fromkeys(r[0] for r in rows):
        sel = [r for r in rows if r[0] == variant]
        mb = [sum(getattr(r[2], k) for r in sel) / len(sel) for k in ("precision", "recall", "f1")]
        ma = [sum(getattr(r[3], k) for r in sel) / len(sel) for k in ("precision", "recall", "f1")]
        lines.append(f"{variant + ' avg':13} | {mb[0]:8.3f} {mb[1]:5.3f} {mb[2]:5.3f} {'':6} | "
                     f"{ma[0]:8.3f} {ma[1]:5.3f} {ma[2]:5.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--events", type=int, default=4)
    ap.add_argument("--photos", type=int, default=8, help="photos per event")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="metasync-scene-") as tmp:
        rows = run(args.seeds, args.events, args.photos, Path(tmp))
    sys.stdout.write(table(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
