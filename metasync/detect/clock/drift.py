"""A clock that drifts (seconds a day) within a leg: a Theil-Sen line, fitted when a rank test shows the trend."""
from __future__ import annotations

import math
import statistics
from typing import Mapping, Sequence

from .pairs import AGREE_S, RESOLUTION_S, ClockPair, tolerance

# A drift is fitted from this many pairs on, when its rank test's |z| reaches DRIFT_Z (0.3 %, two-sided: every
# leg is tested, and a steady clock's jitter must not pass for drift).
MIN_DRIFT_PAIRS = 5
DRIFT_Z = 3.0


def theil_sen(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """(slope, intercept) of the median line: the median of the slopes between every two points, and the median
    of what is left at x = 0. Robust: up to ~29 % of the points may be anywhere."""
    slopes = [(ys[j] - ys[i]) / (xs[j] - xs[i]) for i in range(len(xs)) for j in range(i + 1, len(xs))
              if xs[j] != xs[i]]
    slope = statistics.median(slopes) if slopes else 0.0
    return slope, statistics.median(y - slope * x for x, y in zip(xs, ys))


def trend_z(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Mann-Kendall's z of a monotonic trend of ys along xs (beyond +-3: a trend at the 0.3 % level), the rank
    test that goes with the Theil-Sen slope: how many pairs of points rise, less how many fall."""
    n = len(xs)
    s = sum((1 if (xs[j] - xs[i]) * (ys[j] - ys[i]) > 0 else -1)
            for i in range(n) for j in range(i + 1, n) if xs[j] != xs[i] and ys[j] != ys[i])
    var = n * (n - 1) * (2 * n + 5) / 18.0
    if s == 0 or var <= 0:
        return 0.0
    return (s - math.copysign(1, s)) / math.sqrt(var)


def fit_drift(candidates: dict[str, list[ClockPair]], kept: list[ClockPair], days: Mapping[str, float]
           ) -> tuple[float, float, float, list[ClockPair]] | None:
    """(slope in s a day, difference at day 0, spread, kept pairs) of a drifting clock, or None when the pairs do
    not show a drift: fewer than MIN_DRIFT_PAIRS, no significant trend (trend_z), or less than the clock's
    resolution over the leg. A drifting clock's pairs leave a constant's tolerance: once the line is known, each
    photo's pair nearest it is chosen again, and kept within 3 scaled MADs of it (never tighter than TOLERANCE_S)."""
    line = _trend(kept, days)
    if line is None:
        return None
    slope, at0 = line

    def off(p: ClockPair) -> float:
        return p.diff_s - at0 - slope * days[p.camera_path]

    chosen = [min(ps, key=lambda p: (abs(off(p)), p.unlikeness)) for ps in candidates.values()]
    chosen = [p for p in chosen if abs(off(p)) <= AGREE_S]
    mad = statistics.median(abs(off(p)) for p in chosen) if chosen else 0.0
    kept = [p for p in chosen if abs(off(p)) <= tolerance(mad)]
    line = _trend(kept, days)
    if line is None:
        return None
    slope, at0 = line
    return slope, at0, statistics.median(abs(off(p)) for p in kept), kept


def _trend(pairs: list[ClockPair], days: Mapping[str, float]) -> tuple[float, float] | None:
    """The Theil-Sen line of the pairs' differences over days, when the pairs support it: a significant rank
    trend, and a drift over the leg beyond 3 MADs of the pairs about the line (a line through jitter alone
    would explain nothing)."""
    if len(pairs) < MIN_DRIFT_PAIRS:
        return None
    xs, ys = [days[p.camera_path] for p in pairs], [p.diff_s for p in pairs]
    slope, at0 = theil_sen(xs, ys)
    jitter = statistics.median(abs(y - at0 - slope * x) for x, y in zip(xs, ys))
    if abs(trend_z(xs, ys)) < DRIFT_Z or abs(slope) * (max(xs) - min(xs)) < max(RESOLUTION_S, 3 * jitter):
        return None
    return slope, at0
