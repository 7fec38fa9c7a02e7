"""Grouping time at library scale: detect_groups on 10,000 and 100,000 synthetic index rows (no disk).

Usage: .venv/bin/python bench/grouping.py [N ...]   (default 10000 100000)
Prints wall and CPU seconds, the groups found, and how many groups mix two true events (must be 0).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_detect import synthetic_library  # noqa: E402

from metasync.config import Settings  # noqa: E402
from metasync.detect.events import detect_groups  # noqa: E402


def main(sizes: list[int]) -> None:
    settings = Settings(db_path=Path("/nonexistent/index.db"))
    for n in sizes:
        photos, truth = synthetic_library(n)
        wall, cpu = time.perf_counter(), time.process_time()
        groups = detect_groups(photos, settings)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        mixed = sum(1 for g in groups if len({truth[m.photo_id] for m in g.members}) > 1)
        grouped = sum(len(g.members) for g in groups)
        print(f"{n:>7} rows: {wall:6.2f} s wall, {cpu:6.2f} s CPU, {len(groups)} groups, "
              f"{grouped} photos grouped, {mixed} mixed groups")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000])
