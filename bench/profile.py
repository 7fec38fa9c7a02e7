"""Where grouping and planning spend their time: a pyinstrument call tree over synthetic index rows.

    .venv/bin/pip install pyinstrument
    .venv/bin/python bench/profile.py [--n 10000] [--repeats 3]

The rows are bench/run.py's synthetic ones. A warm-up run comes first, so one-time loads (gazetteer, time zone
polygons, capture-time parsing) stay out of the tree; the tree covers detect_groups and plan_groups `repeats` times.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import synthetic_photos  # noqa: E402

from metasync.config import Settings  # noqa: E402
from metasync.detect.events import detect_groups  # noqa: E402
from metasync.lookups import Lookups  # noqa: E402
from metasync.plan import plan_groups  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000, help="synthetic photos (default 10000)")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("bench/profile.py needs pyinstrument: .venv/bin/pip install pyinstrument", file=sys.stderr)
        return 2
    photos = synthetic_photos(args.n)
    settings = Settings()
    by_id = {p.id: p for p in photos}
    lookups = Lookups.from_settings(settings)
    plan_groups(detect_groups(photos, settings), by_id, settings, lookups)  # warm-up: one-time loads
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(args.repeats):
        plan_groups(detect_groups(photos, settings), by_id, settings, lookups)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
