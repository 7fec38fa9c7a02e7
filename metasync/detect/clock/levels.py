"""The clock differences a camera's photos agree on (levels): the centre where most agree to seconds, its kept
pairs (outliers beyond 3 scaled MADs dropped), each level more than chance would line up; and the levels a camera
left on one zone's time must show where the references were in another zone."""
from __future__ import annotations

import bisect
import logging
import math
import statistics
from collections import Counter
from typing import NamedTuple

from ...config import Settings
from ...timeutil import offset_seconds
from .chance import chance_at, evidence, false_alarm, proven, right_clock
from .pairs import AGREE_S, TOLERANCE_S, ClockPair, agreement_width, tolerance

log = logging.getLogger(__name__)

MIN_PAIRS = 2
# At most this many clock differences (zones, settings) are sought per camera.
MAX_LEVELS = 8
# A camera's best clock difference that is not proven, but that chance would line up less often than this (and a
# right clock does not explain), puts its clock in doubt.
DOUBT = 0.25


class Level(NamedTuple):
    """A clock difference several camera photos agree on: `at` seconds, give or take `tolerance`, lined up as
    chance alone would `chance` of the time (chance.evidence: in time and likeness)."""

    at: float
    tolerance: float
    chance: float


def agreement_centre(candidates: dict[str, list[ClockPair]]) -> float | None:
    """The clock difference most camera photos agree on, to seconds (None: no pairs).

    The density of distinct camera photos (a Gaussian kernel of TOLERANCE_S: same-moment pairs agree to
    seconds), then the most alike pairs (least total pHash distance). Regular shooting makes a decoy: the same
    photos paired with the phone's previous or next shot, one shooting interval off; those differences scatter by
    the variation of the interval, the true moments do not.
    """
    flat = sorted((p for ps in candidates.values() for p in ps), key=lambda p: p.diff_s)
    if not flat:
        return None
    diffs = [p.diff_s for p in flat]
    reach = 3 * TOLERANCE_S
    best_key, centre = (0.0, 0), flat[0].diff_s
    for c in diffs:
        weight: dict[str, tuple[float, int]] = {}
        for p in flat[bisect.bisect_left(diffs, c - reach):bisect.bisect_right(diffs, c + reach)]:
            w = (math.exp(-0.5 * ((p.diff_s - c) / TOLERANCE_S) ** 2), -p.unlikeness)
            weight[p.camera_path] = max(w, weight.get(p.camera_path, w))
        key = (round(sum(w for w, _ in weight.values()), 9), sum(h for _, h in weight.values()))
        if key > best_key:
            best_key, centre = key, c
    return centre


def pairs_near(candidates: dict[str, list[ClockPair]], centre: float, within: float = AGREE_S) -> list[ClockPair]:
    """Each camera photo's pair nearest the centre, within `within` seconds."""
    chosen = []
    for ps in candidates.values():
        p = nearest_pair(ps, centre)
        if abs(p.diff_s - centre) <= within:
            chosen.append(p)
    return chosen


def robust(pairs: list[ClockPair]) -> tuple[float, float, list[ClockPair]]:
    """(median, spread, kept pairs) of one cluster of clock differences.

    Pairs further from the median than 3 scaled MADs (never tighter than TOLERANCE_S) are outliers: a camera shot
    taken on its own a minute or more from any phone shot, paired with the nearest lookalike. Dropping them moves
    the median, so this repeats until the kept set is stable. The spread is the MAD of what is kept.
    """
    keep = pairs
    for _ in range(5):
        med = statistics.median(p.diff_s for p in keep)
        mad = statistics.median(abs(p.diff_s - med) for p in keep)
        tol = tolerance(mad)
        kept = [p for p in pairs if abs(p.diff_s - med) <= tol]
        if not kept or kept == keep:
            break
        keep = kept
    med = statistics.median(p.diff_s for p in keep)
    return med, statistics.median(abs(p.diff_s - med) for p in keep), keep


def find_levels(candidates: dict[str, list[ClockPair]], settings: Settings) -> list[Level]:
    """The clock differences that several camera photos agree on, densest first.

    The strongest centre's agreeing pairs make a level; every pair near it is its own or a decoy of it, and the
    rest is searched again (a photo keeps its other pairs: a decoy level may have taken it, its true one is still
    to come). A camera carried across zones on one zone's time shows one level per zone; a clock reset, one per
    setting. Each level must agree more than chance would anywhere in all the camera's pairs (a few photos each
    paired with the phone's shot before lining up is to be expected somewhere over a trip: the search looked
    everywhere), and its pairs' likeness must not make that less credible (chance.proven: on a trip, some of a
    camera's lone shots line up with phone shots about as tightly as its few twins do); a centre that does not is
    passed over.
    """
    rest = dict(candidates)
    out: list[Level] = []
    for _ in range(2 * MAX_LEVELS):
        if not rest or len(out) == MAX_LEVELS:
            break
        centre = agreement_centre(rest)
        if len(pairs_near(rest, centre)) < MIN_PAIRS:
            break
        chance, level, spread, kept = _cluster(rest, centre, candidates, settings)
        if len(kept) >= MIN_PAIRS and proven(chance, kept):
            out.append(Level(level, tolerance(spread), evidence(chance, kept)))
        else:
            log.debug("%d pairs agree at %+.0f s, as chance would %.0f %% of the time", len(kept), level,
                      100 * chance)
        rest = {path: left for path, ps in rest.items() if (left := [p for p in ps if abs(p.diff_s - level) > AGREE_S])}
    return out


def doubted_level(candidates: dict[str, list[ClockPair]], settings: Settings) -> Level | None:
    """The clock difference a camera's photos agree on best, when that puts its clock in doubt without proving it
    off: more pairs than a right clock explains as tightly, lined up as chance would less than DOUBT of the time.
    Its time then places nothing on a track by itself (a few twins seldom prove a clock; the camera's shots
    placed 17 minutes off are written data)."""
    centre = agreement_centre(candidates)
    if centre is None:
        return None
    chance, level, spread, kept = _cluster(candidates, centre, candidates, settings)
    if len(kept) < MIN_PAIRS or right_clock(candidates, agreement_width(kept)) >= len(kept):
        return None
    doubt = evidence(chance, kept)
    return Level(level, tolerance(spread), doubt) if doubt <= DOUBT else None


def zone_levels(candidates: dict[str, list[ClockPair]], levels: list[Level], settings: Settings) -> list[Level]:
    """The levels a camera left on one zone's time would show where the references were in another zone: a
    level found with references at offset o, moved by each other offset the references had, and tested against
    the pairs with references at that offset alone, without a search (so a short stay at home, a few pairs, is
    found: its difference was known before looking). A camera that compares in UTC, or that follows the local
    zone, shows no such level (it is the level found, or there are no pairs there)."""
    offsets = sorted({p.reference_offset for ps in candidates.values() for p in ps if p.reference_offset})
    out: list[Level] = []
    for level, tol, _ in levels:
        here = _main_offset([path for path, ps in candidates.items()
                             if any(abs(p.diff_s - level) <= tol for p in ps)], candidates, level)
        if here is None:
            continue
        for offset in offsets:
            at = level + offset_seconds(offset) - offset_seconds(here)
            if any(abs(at - known.at) <= AGREE_S for known in (*levels, *out)):
                continue
            there = {path: mine for path, ps in candidates.items()
                     if (mine := [p for p in ps if p.reference_offset == offset])}
            agreeing = pairs_near(there, at, TOLERANCE_S)
            if len(agreeing) < MIN_PAIRS:
                continue
            found, spread, kept = robust(agreeing)
            chance = chance_at(there, len(kept), agreement_width(kept), at, settings)
            if len(kept) >= MIN_PAIRS and proven(chance, kept):
                out.append(Level(found, tolerance(spread), evidence(chance, kept)))
    return out


def _cluster(rest: dict[str, list[ClockPair]], centre: float, candidates: dict[str, list[ClockPair]],
             settings: Settings) -> tuple[float, float, float, list[ClockPair]]:
    """(chance, median, spread, kept pairs) of the pairs around a centre, at the reach that makes them least
    likely by chance: a tight core among scattered lookalikes shows within TOLERANCE_S, pairs shot a minute
    apart only within AGREE_S (where lookalikes would drown the core's MAD)."""
    best = None
    for reach in (TOLERANCE_S, 2 * TOLERANCE_S, 4 * TOLERANCE_S, AGREE_S):
        agreeing = pairs_near(rest, centre, reach)
        if len(agreeing) < MIN_PAIRS:
            continue
        level, spread, kept = robust(agreeing)
        found = (false_alarm(candidates, len(kept), agreement_width(kept), settings), level, spread, kept)
        if best is None or found[0] < best[0]:
            best = found
    return best if best is not None else (1.0, centre, 0.0, [])


def _main_offset(paths: list[str], candidates: dict[str, list[ClockPair]], level: float) -> str | None:
    """The offset most of a leg's agreeing reference photos were taken in (None when they carry none)."""
    votes = Counter(nearest_pair(candidates[path], level).reference_offset for path in paths)
    return min(votes, key=lambda o: (-votes[o], o or "")) if votes else None


def nearest_pair(pairs: list[ClockPair], level: float) -> ClockPair:
    return min(pairs, key=lambda p: (abs(p.diff_s - level), p.unlikeness))
