"""metasync at library scale, measured side by side with bare ExifTool and imagehash on the same files.

    .venv/bin/python bench/run.py --n 10000 [--size 1600x1200] [--out bench/results.json]

Sections (README.md says what each number means): the floor (bare `exiftool -json -n -r` + imagehash pHash on a
full decode, one file after the other), `metasync scan` as a user runs it (cold, unchanged, 1 % touched) with its
peak memory, grouping and planning in process (the library, and synthetic index rows for growth), and the bridge's
group preview latency on the real waitress server. Results: a table on stdout and JSON (--out).
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from statistics import median, quantiles
from typing import Any, Callable, Iterator

import imagehash
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_library import DEFAULT_SIZE, make_library, parse_size  # noqa: E402

from demokit.library import CAMERAS, PHONES, camera_meta, phone_meta  # noqa: E402
from metasync.config import Settings  # noqa: E402
from metasync.detect.events import detect_groups  # noqa: E402
from metasync.engine import Engine  # noqa: E402
from metasync.lookups import Lookups  # noqa: E402
from metasync.models import Metadata, Photo  # noqa: E402
from metasync.plan import plan_groups  # noqa: E402
from metasync.scan.walk import walk  # noqa: E402

log = logging.getLogger("bench")

RESULTS = Path(__file__).resolve().parent / "results.json"
SYNTHETIC = (10_000, 100_000)
SYNTHETIC_REPEATS = 5  # synthetic grouping runs (3 above 10,000); the best is reported beside the first and median
BRIDGE_GROUP = 50
BRIDGE_REQUESTS = 200
TOUCH_FRACTION = 0.01
RSS_POLL_S = 0.05  # /proc is read this often while a command runs (a 2-core machine: keep it light)
TARGETS = {  # the targets on this 2-core machine (ratios, seconds, MB)
    "scan_vs_floor": 1.3, "rescan_unchanged_s": 2.0, "rescan_touched_s": 5.0, "group_plan_10k_s": 1.0,
    "group_plan_100k_s": 15.0, "bridge_p95_ms": 50.0, "scan_peak_rss_mb": 500.0,
}


@dataclass(frozen=True)
class Options:
    n: int
    size: tuple[int, int] = DEFAULT_SIZE
    seed: int = 1
    synthetic: tuple[int, ...] = SYNTHETIC
    bridge_requests: int = BRIDGE_REQUESTS
    library: Path | None = None  # default: the cached library for (n, size, seed)


# -- processes and memory ------------------------------------------------------------------------------------------
def _tree(root: int) -> dict[int, tuple[int, float]]:
    """pid -> (RSS bytes, user + system CPU seconds) for `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    info: dict[int, tuple[int, float]] = {}
    page, tick = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{entry}/statm", "rb") as f:
                resident = int(f.read().split()[1]) * page
        except OSError:
            continue  # exited meanwhile
        fields = stat[stat.rindex(b")") + 2:].split()  # fields from the 3rd on: state, ppid, ...
        children.setdefault(int(fields[1]), []).append(int(entry))
        info[int(entry)] = (resident, (int(fields[11]) + int(fields[12])) / tick)
    out, stack = {}, [root]
    while stack:
        pid = stack.pop()
        if pid in info:
            out[pid] = info[pid]
        stack.extend(children.get(pid, ()))
    return out


def children_cpu() -> float:
    """User + system CPU seconds of every waited-for child process (and theirs) so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


@dataclass
class Run:
    seconds: float
    cpu_s: float  # CPU of the command and its descendants: what the wall time would be on idle cores, summed
    stdout: str
    peak_main_mb: float
    peak_tree_mb: float


def run_measured(cmd: list[str], env: dict[str, str]) -> Run:
    """Run a command to completion: wall time, stdout, and peak RSS of it alone and of its whole process tree
    (hashing workers, forkserver, ExifTool), polled from /proc. CPU: the larger of two lower bounds, the
    waited-for children's rusage and the last CPU time polled from each process of the tree."""
    peak = [0, 0]
    last_cpu: dict[int, float] = {}
    cpu = children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            tree = _tree(proc.pid)
            last_cpu.update((pid, c) for pid, (_, c) in tree.items())
            peak[0] = max(peak[0], tree.get(proc.pid, (0, 0.0))[0])
            peak[1] = max(peak[1], sum(rss for rss, _ in tree.values()))
            done.wait(RSS_POLL_S)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    done.set()
    poller.join()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()[-2000:]}")
    cpu = max(children_cpu() - cpu, sum(last_cpu.values()))
    return Run(seconds, cpu, out, peak[0] / 2**20, peak[1] / 2**20)


def _metasync(*args: str) -> list[str]:
    return [sys.executable, "-m", "metasync", *args]


@contextmanager
def timed(into: dict[str, float], key: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    into[key] = round(time.perf_counter() - started, 4)


# -- 1. the floor ------------------------------------------------------------------------------------------------
def photo_paths(library: Path) -> list[str]:
    found, _ = walk([library])
    return sorted(found)


def baseline_exiftool(library: Path) -> tuple[float, float]:
    """Bare `exiftool -json -n -r DIR > /dev/null`: (wall, CPU) seconds."""
    cpu, started = children_cpu(), time.perf_counter()
    subprocess.run(["exiftool", "-json", "-n", "-r", str(library)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started, children_cpu() - cpu


def baseline_phash(paths: list[str]) -> tuple[float, float]:
    """imagehash pHash of every file on a plain full decode, one after the other: (wall, CPU) seconds."""
    cpu, started = time.process_time(), time.perf_counter()
    for p in paths:
        with Image.open(p) as im:
            imagehash.phash(im)
    return time.perf_counter() - started, time.process_time() - cpu


# -- 2, 3, 6. metasync scan ----------------------------------------------------------------------------------------
def scan(library: Path, db: Path, env: dict[str, str]) -> dict[str, Any]:
    run = run_measured(_metasync("scan", str(library), "--db", str(db), "--json"), env)
    summary = json.loads(run.stdout)
    return {"seconds": round(run.seconds, 3), "cpu_s": round(run.cpu_s, 3),
            "peak_rss_main_mb": round(run.peak_main_mb, 1),
            "peak_rss_tree_mb": round(run.peak_tree_mb, 1),
            **{k: summary[k] for k in ("photos", "new", "changed", "unchanged", "removed")},
            "errors": len(summary["errors"])}


def touch(paths: list[str], fraction: float) -> list[str]:
    """Set a new mtime on every 1/fraction-th file (what an editor saving the file looks like to a rescan)."""
    step = max(1, round(1 / fraction))
    chosen = paths[::step]
    now = time.time_ns()
    for k, p in enumerate(chosen):
        os.utime(p, ns=(now + k, now + k))
    return chosen


# -- 4. grouping and planning ----------------------------------------------------------------------------------------
def group_and_plan(photos: list[Photo], settings: Settings, repeats: int = 1) -> dict[str, Any]:
    """detect_groups, then plan_groups for every group, timed per stage (in process, no I/O once the lookups are
    loaded, which is timed on its own as a long-running bridge loads them once). With repeats, the best run is
    reported beside the first: the first pays one-time costs (parsing every capture time) that a bridge pays once."""
    runs = []
    load: dict[str, float] = {}
    with timed(load, "lookups_s"):
        lookups = Lookups.from_settings(settings)
    for _ in range(repeats):
        t: dict[str, float] = {}
        with timed(t, "detect_s"):
            groups = detect_groups(photos, settings)
        by_id = {p.id: p for p in photos}
        with timed(t, "plan_s"):
            changes = sum(len(p.changes) for p in plan_groups(groups, by_id, settings, lookups))
        runs.append(t | {"total_s": round(t["detect_s"] + t["plan_s"], 4)})
    best = min(runs, key=lambda r: r["total_s"])
    sizes = [len(g.members) for g in groups]
    return {"photos": len(photos), **load, **best, "first": runs[0],
            "median_total_s": median(r["total_s"] for r in runs), "runs": len(runs), "groups": len(groups), "largest_group": max(sizes, default=0), "changes": changes}


def synthetic_grouping(n: int) -> dict[str, Any]:
    """group_and_plan on n synthetic rows in a fresh process, not behind the library's run and the large heap it
    leaves (its photos, the engine, scene features): there, 10,000 rows took 1.28 s (best of 5); in a process of
    their own a few minutes later, 0.87 s."""
    out = subprocess.run([sys.executable, __file__, "--synthetic-child", str(n)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def library_grouping(db: Path, settings: Settings, library: Path) -> dict[str, Any]:
    """The scanned library: load, detect, scene refine (first after the scan, which stored the scene features;
    then again), plan; then `suggest` end to end."""
    t: dict[str, float] = {}
    with Engine(settings) as engine:
        with timed(t, "load_s"):
            photos = engine.index.photos()
        out = group_and_plan(photos, settings)
        by_id = {p.id: p for p in photos}
        groups = detect_groups(photos, settings)
        with timed(t, "refine_cold_s"):
            engine.refine(groups, by_id)
        with timed(t, "refine_cached_s"):
            engine.refine(groups, by_id)
        with timed(t, "suggest_s"):
            suggested = engine.suggest([library])
    return {**out, **t, "suggested_groups": len(suggested)}


def synthetic_photos(n: int, seed: int = 7, per_event: int = 50) -> list[Photo]:
    """Index rows like a real library's, without images: events of `per_event` photos every few days, two phones
    (GPS, time with offset) and a DSLR (wrong clock, no GPS) per event, stripped copies, pHashes a few bits apart
    within an event. Built with the demo generator's metadata functions."""
    rng = np.random.default_rng(seed)
    offset = timedelta(hours=2)
    photos: list[Photo] = []
    start = datetime(2010, 5, 12, 8, tzinfo=timezone.utc).timestamp()
    for e in range(-(-n // per_event)):
        start += float(rng.uniform(0.5, 4)) * 86400
        lat, lon = float(rng.uniform(46, 54)), float(rng.uniform(6, 16))
        base = int(rng.integers(0, 2**63))
        camera = CAMERAS[e % 2]
        for k in range(min(per_event, n - len(photos))):
            t = start + k * float(rng.uniform(200, 400))
            kind = k % 10
            if kind in (3, 6, 9):  # DSLR
                meta = camera_meta(camera, t, offset, 3800.0, rng)
            elif kind == 7:  # a stripped copy of the previous photo
                meta = {}
            else:
                lat += float(rng.normal(0, 0.0005))
                lon += float(rng.normal(0, 0.0005))
                meta = phone_meta(PHONES[k % 2], t, offset, lat, lon, 100.0, rng)
            # pHash: a copy 0-2 bits from its original, the others 0-6 bits from the event's scene
            flips = sum(1 << int(b) for b in rng.choice(64, size=int(rng.integers(0, 3 if kind == 7 else 7)),
                                                        replace=False))
            pid = len(photos) + 1
            photos.append(Photo(id=pid, path=f"/synthetic/e{e:05d}/{k:03d}.jpg", meta=Metadata.from_dict(meta),
                                phash=(photos[-1].phash if kind == 7 else base) ^ flips, size=1, mtime_ns=pid,
                                content_hash=f"{pid:064x}"))
    return photos


# -- 5. the bridge ---------------------------------------------------------------------------------------------
_DASHBOARD = re.compile(r"http://([\d.]+):(\d+)/\?token=(\S+)")


@contextmanager
def serving(library: Path, db: Path, env: dict[str, str]) -> Iterator[tuple[str, int, str]]:
    """`metasync serve` on a free loopback port: (host, port, token)."""
    proc = subprocess.Popen(_metasync("serve", "--root", str(library), "--db", str(db), "--port", "0"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = _DASHBOARD.search(line)
        if not match:
            raise RuntimeError(f"metasync serve did not start: {line}{proc.stderr.read()[-2000:]}")
        yield match[1], int(match[2]), match[3]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bridge_latency(library: Path, db: Path, settings: Settings, env: dict[str, str], requests: int
                   ) -> dict[str, Any]:
    """p50/p95 of GET /api/metadata-sync/groups/{id} for a hand-made group of the library's first 50 photos
    (path order: one event), on one keep-alive connection to the real server."""
    with Engine(settings) as engine:
        files = [p.path for p in engine.index.photos()][:BRIDGE_GROUP]
        group_id = engine.create_group(files)
        changes = len(engine.plan(group_id).changes)
    with serving(library, db, env) as (host, port, token):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        times = []
        for k in range(requests + 10):  # the first 10 warm up (imports, caches)
            started = time.perf_counter()
            conn.request("GET", f"/api/metadata-sync/groups/{group_id}", headers={"X-Metasync-Token": token})
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"bridge answered {resp.status}: {body[:500]!r}")
            if k >= 10:
                times.append((time.perf_counter() - started) * 1000)
        conn.close()
    cuts = quantiles(times, n=100, method="inclusive")
    return {"group_size": len(files), "changes": changes, "requests": len(times), "bytes": len(body),
            "p50_ms": round(cuts[49], 2), "p95_ms": round(cuts[94], 2), "max_ms": round(max(times), 2)}


# -- the whole run -----------------------------------------------------------------------------------------------
def run(opts: Options, say: Callable[[str], None] = log.info,
        checkpoint: Callable[[dict[str, Any]], None] = lambda results: None) -> dict[str, Any]:
    """Every section in order; `checkpoint` gets the results so far after each (a long run that fails late
    keeps what it measured)."""
    library = opts.library or make_library(opts.n, opts.size, opts.seed)
    paths = photo_paths(library)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "exiftool": subprocess.run(["exiftool", "-ver"], capture_output=True, text=True).stdout.strip(),
                    "date": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "library": {"path": str(library), "photos": len(paths), "size": list(opts.size),
                    "bytes": sum(os.path.getsize(p) for p in paths)},
    }
    with tempfile.TemporaryDirectory(prefix="metasync-bench-") as tmp:
        work = Path(tmp)
        db = work / "index.db"
        env = {**os.environ, "XDG_CONFIG_HOME": str(work / "config"), "XDG_DATA_HOME": str(work / "data"),
               "METASYNC_DB": str(db)}
        settings = Settings.load(None, db_path=db)

        say("floor: bare exiftool")
        exiftool_s, exiftool_cpu = baseline_exiftool(library)
        say("floor: imagehash on full decodes")
        phash_s, phash_cpu = baseline_phash(paths)
        floor = exiftool_s + phash_s
        results["floor"] = {"exiftool_s": round(exiftool_s, 3), "phash_s": round(phash_s, 3),
                            "total_s": round(floor, 3), "exiftool_cpu_s": round(exiftool_cpu, 3),
                            "phash_cpu_s": round(phash_cpu, 3), "total_cpu_s": round(exiftool_cpu + phash_cpu, 3)}
        checkpoint(results)

        say("metasync scan (cold)")
        first = scan(library, db, env)
        say("metasync scan (unchanged)")
        again = scan(library, db, env)
        touched = touch(paths, TOUCH_FRACTION)
        say(f"metasync scan ({len(touched)} touched)")
        after_touch = scan(library, db, env)
        results["scan"] = {"first": first, "ratio_to_floor": round(first["seconds"] / floor, 3),
                           "unchanged": again, "touched": after_touch | {"touched": len(touched)}}
        checkpoint(results)

        say("grouping and planning (library)")
        results["grouping"] = {"library": library_grouping(db, settings, library)}
        for n in opts.synthetic:
            say(f"grouping and planning ({n} synthetic rows)")
            results["grouping"][f"synthetic_{n}"] = synthetic_grouping(n)
            checkpoint(results)
        say("bridge")
        results["bridge"] = bridge_latency(library, db, settings, env, opts.bridge_requests)
    results["targets"] = check(results)
    return results


def check(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target with the measured value and whether it is met (None: not measured at that scale)."""
    g = r["grouping"]
    synthetic = {int(k.split("_")[1]): v for k, v in g.items() if k.startswith("synthetic_")}
    measured = {
        "scan_vs_floor": r["scan"]["ratio_to_floor"],
        "rescan_unchanged_s": r["scan"]["unchanged"]["seconds"],
        "rescan_touched_s": r["scan"]["touched"]["seconds"],
        "group_plan_10k_s": synthetic[10_000]["total_s"] if 10_000 in synthetic else None,
        "group_plan_100k_s": synthetic[100_000]["total_s"] if 100_000 in synthetic else None,
        "bridge_p95_ms": r["bridge"]["p95_ms"],
        "scan_peak_rss_mb": r["scan"]["first"]["peak_rss_tree_mb"],
    }
    return {k: {"value": v, "target": TARGETS[k], "met": None if v is None else v <= TARGETS[k]}
            for k, v in measured.items()}


def table(r: dict[str, Any]) -> str:
    lib, fl, sc, g, b = r["library"], r["floor"], r["scan"], r["grouping"], r["bridge"]
    rows = [
        ("library", f"{lib['photos']} photos, {lib['size'][0]}x{lib['size'][1]}, {lib['bytes'] / 2**30:.2f} GiB", ""),
        ("floor: exiftool -json -n -r", f"{fl['exiftool_s']:.2f} s (CPU {fl['exiftool_cpu_s']:.2f} s)", ""),
        ("floor: imagehash pHash, full decode", f"{fl['phash_s']:.2f} s (CPU {fl['phash_cpu_s']:.2f} s)", ""),
        ("floor total", f"{fl['total_s']:.2f} s (CPU {fl['total_cpu_s']:.2f} s)", ""),
        ("scan, first (cold index)", f"{sc['first']['seconds']:.2f} s = {sc['ratio_to_floor']:.2f} x floor "
         f"(CPU {sc['first']['cpu_s']:.2f} s)", "<= 1.3 x floor"),
        ("scan, unchanged", f"{sc['unchanged']['seconds']:.2f} s (CPU {sc['unchanged']['cpu_s']:.2f} s)",
         "<= 2 s at 10k"),
        (f"scan, {sc['touched']['touched']} touched (1 %)",
         f"{sc['touched']['seconds']:.2f} s (CPU {sc['touched']['cpu_s']:.2f} s)", "<= 5 s at 10k"),
        ("scan peak RSS (process / with workers, ExifTool)",
         f"{sc['first']['peak_rss_main_mb']:.0f} / {sc['first']['peak_rss_tree_mb']:.0f} MB", "<= 500 MB"),
    ]
    lg = g["library"]
    rows.append(("library: load + detect + plan",
                 f"{lg['load_s']:.2f} + {lg['detect_s']:.2f} + {lg['plan_s']:.2f} s ({lg['groups']} groups)", ""))
    rows.append(("library: scene refine first / again", f"{lg['refine_cold_s']:.2f} / {lg['refine_cached_s']:.2f} s",
                 ""))
    rows.append(("library: suggest end to end (warm)", f"{lg['suggest_s']:.2f} s", ""))
    for key, v in g.items():
        if key.startswith("synthetic_"):
            n = int(key.split("_")[1])
            target = {10_000: "<= 1 s", 100_000: "<= 15 s"}.get(n, "")
            first = v.get("first", v)
            rows.append((f"{n} synthetic rows: detect + plan, best of {v.get('runs', 1)}",
                         f"{v['detect_s']:.2f} + {v['plan_s']:.2f} = {v['total_s']:.2f} s ({v['groups']} groups; "
                         f"first {first['total_s']:.2f} s, median {v.get('median_total_s', v['total_s']):.2f} s)",
                         target))
    rows.append((f"bridge GET group ({b['group_size']} photos) p50 / p95",
                 f"{b['p50_ms']:.1f} / {b['p95_ms']:.1f} ms", "p95 <= 50 ms"))
    width = max(len(a) for a, _, _ in rows)
    vwidth = max(len(v) for _, v, _ in rows)
    return "\n".join(f"{a:<{width}}  {v:<{vwidth}}  {t}".rstrip() for a, v, t in rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500, help="photos in the library (default 500)")
    p.add_argument("--size", type=parse_size, default=DEFAULT_SIZE,
                   help="photo size WxH (default %dx%d)" % DEFAULT_SIZE)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--synthetic", type=int, nargs="*", default=list(SYNTHETIC),
                   help="synthetic index sizes for grouping growth (default 10000 100000)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results JSON (default bench/results.json)")
    p.add_argument("--synthetic-child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.synthetic_child:  # one synthetic_grouping run, as JSON on stdout
        n = args.synthetic_child
        print(json.dumps(group_and_plan(synthetic_photos(n), Settings(), SYNTHETIC_REPEATS if n <= 10_000 else 3)))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    def save(results: dict[str, Any]) -> None:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")

    results = run(Options(args.n, args.size, args.seed, tuple(args.synthetic)), checkpoint=save)
    save(results)
    print(table(results))
    print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
