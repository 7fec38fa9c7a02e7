"""How well can a camera shot be placed from the phone's track alone, with perfect clocks? (issue 16, camera GPS)

For every camera photo of generated trips that should get a position, metasync.track.estimate_position places it on
the traveller's phone fixes at the true capture times (the clocks solved perfectly, the right track chosen), and the
position is judged as bench/accuracy.py --trips judges it (within 100 m). Shots between two fixes are interpolated;
shots after the phone's last shot of an event (or before its first) are continued from the last stretch, and only
written when the error radius is within max_gps_error_m. The table is the precision/recall the camera GPS bars can
reach at each max_gps_error_m: the ceiling of the real pipeline, whose clocks and tracks are estimated.

    .venv/bin/python bench/track_limit.py --seeds 1 2 3 4 5
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from demokit.library import Truth
from demokit.trips import TRAVELLER, generate_trip
from metasync.config import Settings
from metasync.track import Fix, PositionEstimate, distance_m, estimate_position

GPS_OK_M = 100.0  # as bench/accuracy.py judges a position
LIMITS_M = (60.0, 80.0, 100.0, 125.0, 150.0, 175.0, 200.0)


def placements(truth: Truth) -> list[tuple[PositionEstimate | None, float]]:
    """(estimate, its true error in metres) for every camera photo that should get a position."""
    fixes = sorted((Fix(p.utc_epoch, p.lat, p.lon, p.alt, p.path, device=TRAVELLER.label) for p in truth.photos
                    if p.kind == "phone" and p.device == TRAVELLER.label), key=lambda f: f.utc)
    settings = Settings(db_path=Path("/nonexistent/index.db"))
    out = []
    for p in truth.photos:
        if p.kind in ("dslr", "camera2") and p.want and "gps_latitude" in p.want:
            est = estimate_position(p.utc_epoch, fixes, settings)
            out.append((est, distance_m(est.lat, est.lon, p.lat, p.lon) if est else float("inf")))
    return out


def table(rows: list[tuple[PositionEstimate | None, float]]) -> str:
    inside = [e for est, e in rows if est and est.method != "extrapolated"]
    beyond = [(est, e) for est, e in rows if est and est.method == "extrapolated"]
    ok_in, ok_beyond = sum(e <= GPS_OK_M for e in inside), sum(e <= GPS_OK_M for _, e in beyond)
    head = (f"{len(rows)} camera photos: {len(inside)} placed between fixes ({ok_in} within {GPS_OK_M:.0f} m), "
            f"{len(beyond)} beyond a track's end ({ok_beyond} within {GPS_OK_M:.0f} m if all were written), "
            f"{len(rows) - len(inside) - len(beyond)} unplaced")
    lines = [head, "max_gps_error_m  written  right  precision  recall"]
    for limit in LIMITS_M:
        written = inside + [e for est, e in beyond if est.error_m <= limit]
        right = sum(e <= GPS_OK_M for e in written)
        lines.append(f"{limit:>15.0f}  {len(written):>7}  {right:>5}  {100 * right / len(written):>8.1f}%  "
                     f"{100 * right / len(rows):>5.1f}%")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--days", type=int, default=14)
    args = ap.parse_args(argv)
    rows = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix=f"metasync-track-limit-{seed}-") as tmp:
            rows += placements(generate_trip(Path(tmp) / "trip", seed=seed, days=args.days))
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
