"""A camera's photos in time order split into legs where its clock difference changes (a zone left on home time,
a reset clock), each leg with its level, its photos and their pairs."""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Sequence

from ...config import Settings
from ...models import Photo
from ...timeutil import has_known_offset, wall_epoch
from .chance import right_clock
from .levels import MIN_PAIRS, Level, find_levels, nearest_pair, pairs_near, robust, zone_levels
from .pairs import ClockPair, agreement_width, comparison_clock
from .references import Devices

# A camera unused for longer than this may have had its clock reset: a leg takes no photos from such a session
# unless it has pairs there.
SESSION_GAP_S = 2 * 86400.0
# Changing leg costs this many disagreeing photos: a leg inside another needs 3 agreeing pairs, one at either end 2.
SWITCH_COST = 1.25
# Two levels whose photos take turns at least this often in time order (a b a b a: a stray pair or two in a leg
# makes fewer), and are not grouped in time more than this (a runs test's z: fewer runs than a random mix of their
# photos would make, in standard deviations), interleave.
MIN_RUNS = 5
GROUPED_Z = -2.0


def camera_sessions(photos: list[Photo], gap_s: float) -> list[list[Photo]]:
    """A camera's photos split where it was not used for longer than `gap_s` (a clock may be reset between trips)."""
    out: list[list[Photo]] = []
    last = None
    for p in sorted(photos, key=lambda p: wall_epoch(p.meta)):
        t = wall_epoch(p.meta)
        if last is None or t - last > gap_s:
            out.append([])
        out[-1].append(p)
        last = t
    return out


def beat_the_right_clock(legs: list[tuple[tuple[float, float], list[Photo], dict[str, list[ClockPair]]]]
                          ) -> set[tuple[float, float]]:
    """The levels whose pairs, over all their legs, outnumber what a right clock explains as tightly (a clock
    is right until shown otherwise: ties go to it). Judged per level, not per leg: a short leg at a level the
    camera shows elsewhere too needs no more proof than that its pairs agree with it."""
    by_level: dict[tuple[float, float], dict[str, list[ClockPair]]] = defaultdict(dict)
    for level, _, candidates in legs:
        by_level[level].update(candidates)
    out = set()
    for level, candidates in by_level.items():
        agreeing = pairs_near(candidates, *level)
        if len(agreeing) < MIN_PAIRS:
            continue
        kept = robust(agreeing)[2]
        if right_clock(candidates, agreement_width(kept)) < len(kept):
            out.add(level)
    return out


def switch_points(labels: Sequence[int | None], n_levels: int) -> list[int]:
    """The level each labelled photo's leg has (time order), legs piecewise constant.

    The cheapest labelling where a photo whose label is not its leg's costs 1 and a change of leg SWITCH_COST
    (a Viterbi pass): a leg inside another needs more than 2 * SWITCH_COST agreeing photos, so one or two stray
    pairs are outliers of their leg, never a leg of their own. `labels`: each photo's nearest level (None: none).
    """
    cost = [0.0] * n_levels
    back: list[list[int]] = []
    for label in labels:
        best = min(range(n_levels), key=lambda k: (cost[k], k))
        back.append([k if cost[k] <= cost[best] + SWITCH_COST else best for k in range(n_levels)])
        cost = [min(cost[k], cost[best] + SWITCH_COST) + (label is not None and label != k)
                for k in range(n_levels)]
    state = min(range(n_levels), key=lambda k: (cost[k], k))
    out = []
    for prev in reversed(back):
        out.append(state)
        state = prev[state]
    return out[::-1]


def split_legs(sessions: list[list[Photo]], candidates: dict[str, list[ClockPair]], devices: Devices,
          settings: Settings) -> list[tuple[tuple[float, float], list[Photo], dict[str, list[ClockPair]]]]:
    """A camera's photos split where its clock difference changes: each leg's level (and tolerance), photos and
    their candidate pairs.

    Levels are found over all the camera's pairs (of two that take turns in time, only the one chance explains
    least: without_rivals), each paired photo labelled with the level it agrees with, and the time order split
    into legs (switch_points). A photo takes the leg whose paired photos span its time;
    between or beyond them, the nearest leg in time whose reference device, at the time that leg's correction
    gives the photo, was in a zone it was in during the leg (a camera on home time back home takes the first
    home leg's correction, not New York's); none such: no correction. Legs only take photos from sessions where
    they have pairs (a camera unused for days may have been reset).
    """
    found = find_levels(candidates, settings)
    photos = [p for session in sessions for p in session]
    session_of = {p.path: k for k, session in enumerate(sessions) for p in session}
    times = {p.path: wall_epoch(p.meta) for p in photos}
    levels = [(level.at, level.tolerance)
              for level in without_rivals(found + zone_levels(candidates, found, settings), candidates, times)]
    if not levels:
        return []
    labelled = sorted((times[path], path, _label(ps, levels)) for path, ps in candidates.items())
    states = switch_points([label for _, _, label in labelled], len(levels))
    runs: list[tuple[int, list[str]]] = []  # (level, agreeing photos)
    for (_, path, label), state in zip(labelled, states):
        if not runs or runs[-1][0] != state:
            runs.append((state, []))
        if label == state:
            runs[-1][1].append(path)
    runs = [(level, paths) for level, paths in runs if paths]
    spans = [(times[paths[0]], times[paths[-1]]) for _, paths in runs]
    used = [{session_of[path] for path in paths} for _, paths in runs]
    offsets = [{nearest_pair(candidates[path], levels[k][0]).reference_offset for path in paths} - {None}
               for k, paths in runs]
    device = [devices.main(p for path in paths for p in candidates[path]) for _, paths in runs]
    members: list[list[Photo]] = [[] for _ in runs]
    for p in photos:
        t, mine = times[p.path], [k for k in range(len(runs)) if session_of[p.path] in used[k]]
        inside = [k for k in mine if spans[k][0] <= t <= spans[k][1]]
        near = inside or sorted(mine, key=lambda k: (min(abs(t - spans[k][0]), abs(t - spans[k][1])), k))
        both = has_known_offset(p.meta)
        fits = [k for k in near if inside or not offsets[k] or devices.offset_at(
            device[k], both, comparison_clock(p.meta, both) + levels[runs[k][0]][0]) in offsets[k]]
        if fits:
            members[fits[0]].append(p)
    return [(levels[level], leg, {p.path: candidates[p.path] for p in leg if p.path in candidates})
            for (level, _), leg in zip(runs, members) if leg]


def without_rivals(levels: list[Level], candidates: dict[str, list[ClockPair]], times: dict[str, float]
                   ) -> list[Level]:
    """The levels, less each that interleaves with one chance explains less (kept in the order given).

    A camera has one clock at a time: two levels whose photos take turns over the same days cannot both be its
    error, and one is the other's decoy (its lone shots paired with the phone's shot a shooting interval before
    or after them, which now and then line up as tightly as twins do). Levels that follow one another (zones,
    a reset clock) have their photos grouped in time, a stray pair or two aside; interleaving is a runs test on
    the two levels' photos in time order (MIN_RUNS, GROUPED_Z)."""
    kept: list[Level] = []
    for level in sorted(levels, key=lambda lv: lv.chance):
        if not any(_interleave(level, other, candidates, times) for other in kept):
            kept.append(level)
    return [level for level in levels if level in kept]


def _interleave(a: Level, b: Level, candidates: dict[str, list[ClockPair]], times: dict[str, float]) -> bool:
    """Whether the photos agreeing with `a` or `b` (each with the nearer) take turns in time as a random mix of
    them would (Wald-Wolfowitz runs test, normal approximation)."""
    pair = [(a.at, a.tolerance), (b.at, b.tolerance)]
    labels = [label for _, label in sorted((times[path], _label(ps, pair)) for path, ps in candidates.items())
              if label is not None]
    n_a, n = labels.count(0), len(labels)
    n_b = n - n_a
    runs = 1 + sum(x != y for x, y in zip(labels, labels[1:]))
    if runs < MIN_RUNS:
        return False
    mean = 1 + 2 * n_a * n_b / n
    var = 2 * n_a * n_b * (2 * n_a * n_b - n) / (n * n * (n - 1))
    return var > 0 and (runs - mean) / math.sqrt(var) > GROUPED_Z


def _label(pairs: list[ClockPair], levels: list[tuple[float, float]]) -> int | None:
    """The level one camera photo's pairs agree with best (in tolerances; None: none within its tolerance)."""
    fits = [(min(abs(p.diff_s - level) for p in pairs) / tol, k) for k, (level, tol) in enumerate(levels)]
    best = min(fits)
    return best[1] if best[0] <= 1.0 else None
