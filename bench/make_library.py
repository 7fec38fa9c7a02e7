"""Generate (or reuse) an N-photo benchmark library with the demo generator, cached under bench/cache/.

The library is cut into shards of a few events each (`generate_library` per shard, each in its own process with
its own ExifTool), so generation uses every core; each shard starts on its own date, far from the others, so
events never overlap across shards. Every event holds 48 camera photos (phones with GPS, a DSLR with a wrong
clock) plus 2 stripped WhatsApp copies; small N get smaller events. Same N, size and seed: byte-identical files,
generated once (a shard with its ground_truth.json is complete and kept).

    .venv/bin/python bench/make_library.py 10000 --size 1600x1200
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from demokit.library import TRUTH_FILE, generate_library

log = logging.getLogger("bench.make_library")

CACHE = Path(__file__).resolve().parent / "cache"
DEFAULT_SIZE = (1600, 1200)  # 2 MP: 10,000 fit here; 12 MP (--size 4000x3000) is 32 GB and ~1 h a run (README)
EVENT_PHOTOS = 50  # photos per event (with the WhatsApp copies) in libraries of at least this many
WHATSAPP = 2
EVENTS_PER_SHARD = 4  # ~200 photos: small enough to balance the cores, big enough to amortise ExifTool's start
SHARD_SPACING_DAYS = 60  # 4 events (2 days, 1-8 days apart) fit in 24 days
FIRST_DAY = date(2015, 5, 12)


@dataclass(frozen=True)
class Layout:
    """How N photos are cut into events and shards."""

    events: int
    per_event: int  # photos per event, copies included
    whatsapp: int

    @classmethod
    def for_n(cls, n: int) -> "Layout":
        if n < 2:
            raise ValueError("a benchmark library needs at least 2 photos")
        per_event = EVENT_PHOTOS if n >= EVENT_PHOTOS else max(2, min(10, n))
        events = math.ceil(n / per_event)
        per_event = math.ceil(n / events)  # spread evenly: N = 120 -> 3 events of 40, not 50 + 50 + 20
        whatsapp = WHATSAPP if per_event >= 20 else 1
        return cls(events, per_event, whatsapp)

    @property
    def photos(self) -> int:
        return self.events * self.per_event

    def shards(self) -> list[int]:
        """Events per shard."""
        full, rest = divmod(self.events, EVENTS_PER_SHARD)
        return [EVENTS_PER_SHARD] * full + ([rest] if rest else [])


def library_dir(n: int, size: tuple[int, int], seed: int) -> Path:
    return CACHE / f"lib-n{n}-{size[0]}x{size[1]}-s{seed}"


def _shard(args: tuple[Path, int, int, int, tuple[int, int], int]) -> int:
    dest, seed, events, per_event, size, whatsapp = args
    truth = generate_library(dest, seed=seed, events=events, photos_per_event=per_event - whatsapp, size=size,
                             whatsapp_per_event=whatsapp, start_date=_start(dest).isoformat())
    return len(truth.photos)


def _start(dest: Path) -> date:
    return FIRST_DAY + timedelta(days=SHARD_SPACING_DAYS * int(dest.name.split("-")[1]))


def make_library(n: int, size: tuple[int, int] = DEFAULT_SIZE, seed: int = 1, workers: int | None = None,
                 root: Path | None = None) -> Path:
    """The library's folder, generating the shards not yet complete (all of them on the first call)."""
    layout = Layout.for_n(n)
    root = root or library_dir(n, size, seed)
    jobs = [(root / f"shard-{k:04d}", seed * 100_003 + k, events, layout.per_event, size, layout.whatsapp)
            for k, events in enumerate(layout.shards())]
    todo = [j for j in jobs if not (j[0] / TRUTH_FILE).exists()]
    if not todo:
        log.info("library %s cached (%d photos)", root, layout.photos)
        return root
    started = time.perf_counter()
    workers = min(workers or os.cpu_count() or 1, len(todo))
    log.info("generating %d of %d shards (%d photos, %dx%d) with %d processes", len(todo), len(jobs),
             layout.photos, *size, workers)
    if workers == 1:
        done = sum(map(_shard, todo))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            done = sum(pool.map(_shard, todo))
    log.info("generated %d photos in %.1f s", done, time.perf_counter() - started)
    return root


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 4000x3000, not {text!r}") from None
    if w < 64 or h < 48:
        raise argparse.ArgumentTypeError(f"size {text} is too small (at least 64x48)")
    return w, h


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("n", type=int, help="number of photos")
    p.add_argument("--size", type=parse_size, default=DEFAULT_SIZE,
                   help="photo size WxH (default %dx%d)" % DEFAULT_SIZE)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=None, help="generator processes (default: one per core)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(make_library(args.n, args.size, args.seed, args.workers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
