"""How likely chance alone makes pairs agree as they do: in time (anywhere the search looked, or at a difference
known beforehand), in likeness, and as a right clock would. A clock is right until shown otherwise."""
from __future__ import annotations

import bisect
import math
from typing import Sequence

from ...config import Settings
from .pairs import AGREE_S, TOLERANCE_S, ClockPair

# Agreement that chance alone would show this often (or more) is no evidence of a wrong clock.
FALSE_ALARM = 0.05


def false_alarm(candidates: dict[str, list[ClockPair]], agreeing: int, width: float,
                 settings: Settings) -> float:
    """How likely chance alone lines up `agreeing` camera photos within `width` seconds (as closely as the kept
    pairs agree) anywhere the search looked.

    Photos of one scene all look alike, so each camera photo matches the reference shots of its whole event:
    its n differences spread over the event's duration (at least time_window_s), where one window catches one
    of them with probability n * width / spread. Where those stretches overlap, the sum of the probabilities is
    the expected count in a window, and a Poisson tail the chance of `agreeing` or more; summed over every
    window position (a union bound: the search picked the best one).
    """
    edges = sorted(e for lo, hi, p in _stretches(candidates, width, settings) for e in ((lo, p), (hi, -p)))
    total, expected = 0.0, 0.0
    for (at, step), (nxt, _) in zip(edges, edges[1:]):
        expected = max(0.0, expected + step)
        if nxt > at and expected > 0:
            total += (nxt - at) / width * _poisson_tail(expected, agreeing)
    return min(1.0, total)


def _stretches(candidates: dict[str, list[ClockPair]], width: float, settings: Settings
               ) -> list[tuple[float, float, float]]:
    """Per camera photo, the stretch of differences its lookalikes spread over and the chance that one window
    `width` wide there catches one of them: (from, to, chance)."""
    out = []
    for pairs in candidates.values():
        diffs = [p.diff_s for p in pairs]
        spread = max(max(diffs) - min(diffs), settings.time_window_s) + width
        middle = (max(diffs) + min(diffs)) / 2
        out.append((middle - spread / 2, middle + spread / 2, min(1.0, len(diffs) * width / spread)))
    return out


def chance_at(candidates: dict[str, list[ClockPair]], agreeing: int, width: float, at: float,
               settings: Settings) -> float:
    """false_alarm for a difference known beforehand (give or take TOLERANCE_S): no search, so the windows
    around `at` only."""
    expected = sum(p for lo, hi, p in _stretches(candidates, width, settings) if lo <= at <= hi)
    return min(1.0, (1 + 2 * TOLERANCE_S / width) * _poisson_tail(expected, agreeing)) if expected > 0 else 0.0


def _poisson_tail(mean: float, k: int) -> float:
    """P(X >= k) for X ~ Poisson(mean), mean > 0."""
    term = math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1))
    tail, j = 0.0, k
    while term > 1e-12 * (tail or 1.0) and j < k + 500:
        tail += term
        j += 1
        term *= mean / j
    return tail


def _visual_chance(pairs: Sequence[ClockPair]) -> float | None:
    """How likely chance alone makes the pairs rank as alike as they do among their photos' candidates (None: no
    pair has a rank). A pair picked by time from lookalikes ranks anywhere (uniform, mean 1/2); a same-moment pair
    tends to rank first. One-sided, the rank sum's normal approximation."""
    ranked = [p for p in pairs if p.alike is not None]
    if not ranked:
        return None
    var = sum((p.peers + 2) / (12.0 * p.peers) for p in ranked)
    z = sum(0.5 - p.alike for p in ranked) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def evidence(time_chance: float, pairs: Sequence[ClockPair]) -> float:
    """How likely chance alone makes pairs agree in time as they do (`time_chance`) and rank as alike as they do,
    combined (lookalikes that happen to line up rank like any other of their photos' candidates, and that makes
    the agreement less credible). Pairs without ranks (track pairs, a photo with one candidate): the time alone."""
    visual = _visual_chance(pairs)
    return time_chance if visual is None else fisher(time_chance, visual)


def proven(time_chance: float, pairs: Sequence[ClockPair]) -> bool:
    """Whether pairs that agree in time as chance would `time_chance` of the time show a clock difference: the
    agreement in time must beat FALSE_ALARM on its own, and still when combined with their likeness (evidence)."""
    return time_chance <= FALSE_ALARM and evidence(time_chance, pairs) <= FALSE_ALARM


def fisher(p: float, q: float) -> float:
    """Fisher's combination of two independent chances: how likely both are as small as they are, or smaller."""
    product = p * q
    return min(1.0, product * (1.0 - math.log(product))) if product > 0 else 0.0


def right_clock(candidates: dict[str, list[ClockPair]], width: float) -> int:
    """How many camera photos a right clock explains as tightly as the kept pairs agree: the most photos with a
    pair in any window `width` wide within AGREE_S of no difference (decoys of a right clock, the photos paired
    with the phone's shot before or after, count for it; scattered lookalikes near it do not)."""
    near = sorted((p.diff_s, path) for path, ps in candidates.items() for p in ps if abs(p.diff_s) <= AGREE_S)
    diffs = [d for d, _ in near]
    return max((len({path for _, path in near[k:bisect.bisect_right(diffs, d + width)]})
                for k, d in enumerate(diffs)), default=0)
