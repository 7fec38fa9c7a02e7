"""Suggest for a plugin's selection in a scanned library: what a host's Suggest button waits for.

Generates (or reuses) an N-photo library with bench/make_library.py, scans it and runs the first detection once
(cold), then times `Engine.suggest(<20 selected camera photos>, roots=[library])` warm: an incremental rescan of
the whole library, then, the library unchanged, the stored groups touching the selection. Also timed: the same
call after one photo changed (rescan of that photo, a new detection, group ids kept).

    .venv/bin/python bench/first_suggest.py --n 10000 --size 320x240
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_library import make_library, parse_size  # noqa: E402

from demokit.library import TRUTH_FILE, Truth  # noqa: E402
from metasync.config import Settings  # noqa: E402
from metasync.engine import Engine  # noqa: E402


def selection(library: Path, k: int) -> list[Path]:
    """`k` camera photos of the library (the ones a photographer selects to borrow GPS for)."""
    out: list[Path] = []
    for truth_file in sorted(library.rglob(TRUTH_FILE)):
        truth = Truth.load(truth_file.parent)
        out += [truth.path(p) for p in truth.photos if p.kind == "dslr"]
        if len(out) >= k:
            break
    return out[:k]


def measure(n: int, size: tuple[int, int], picks: int, repeats: int) -> dict[str, object]:
    library = make_library(n, size)
    chosen = selection(library, picks)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db_path=Path(tmp) / "index.db", library_roots=(library,))
        with Engine(settings) as engine:
            t0 = time.perf_counter()
            first = engine.suggest(chosen)
            cold = time.perf_counter() - t0
            warm = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                again = engine.suggest(chosen)
                warm.append(time.perf_counter() - t0)
            assert [g["id"] for g in again] == [g["id"] for g in first], "a warm Suggest renumbered the groups"
            chosen[0].touch()
            t0 = time.perf_counter()
            changed = engine.suggest(chosen)
            after_change = time.perf_counter() - t0
    return {"photos": n, "size": list(size), "selected": len(chosen), "groups": len(first),
            "first_suggest_s": round(cold, 2), "warm_best_s": round(min(warm), 3),
            "warm_median_s": round(statistics.median(warm), 3), "one_photo_changed_s": round(after_change, 2),
            "ids_kept_after_change": sorted({g["id"] for g in first} & {g["id"] for g in changed}) ==
            sorted(g["id"] for g in first)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--size", type=parse_size, default=(320, 240))
    p.add_argument("--select", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    print(json.dumps(measure(args.n, args.size, args.select, args.repeats), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
