"""When two photos' values agree, for planning's disputes and corrections: one tolerance per kind, in one place,
so that the event rules (events.py) and a copy's originals (copies.py) judge alike.
"""
from __future__ import annotations

import functools
from typing import Callable, Iterable, Sequence, TypeVar

import numpy as np

from ..config import Settings
from ..detect.score import haversine
from ..models import Photo
from ..timeutil import clock_reading
from ..track import distance_m

T = TypeVar("T")


def opinions(items: Iterable[T], agree: Callable[[T, T], bool]) -> tuple[T, list[T]]:
    """Items (best first) clustered into opinions, each joining the first opinion whose first item it agrees with:
    (the first item of the largest opinion, ties to the earliest; the first item of every other opinion)."""
    found: list[list[T]] = []
    for item in items:
        for op in found:
            if agree(op[0], item):
                op.append(item)
                break
        else:
            found.append([item])
    winner = max(found, key=len)  # max keeps the first among equals
    return winner[0], [op[0] for op in found if op is not winner]


def positions_agree(a: Photo, b: Photo, settings: Settings) -> bool:
    """Whether two photos' positions are one place (within conflict_gps_m)."""
    return distance_m(a.meta.gps_latitude, a.meta.gps_longitude,
                      b.meta.gps_latitude, b.meta.gps_longitude) <= settings.conflict_gps_m


def gps_agreement(settings: Settings, sources: Sequence[Photo] = ()) -> Callable[[Photo, Photo], bool]:
    """positions_agree as a function of two photos. Among `sources` (a group's, whose targets ask about the same
    pairs again and again) every answer is worked out at once, on the first question."""

    @functools.cache
    def table() -> tuple[dict[int, int], list[list[bool]]]:
        located = [p for p in sources if p.meta.has_gps]
        lat = np.array([p.meta.gps_latitude for p in located], dtype=float)
        lon = np.array([p.meta.gps_longitude for p in located], dtype=float)
        near = haversine(lat[:, None], lon[:, None], lat[None, :], lon[None, :]) <= settings.conflict_gps_m
        return {p.id: k for k, p in enumerate(located)}, near.tolist()

    def agree(a: Photo, b: Photo) -> bool:
        row, near = table()
        ra, rb = row.get(a.id), row.get(b.id)
        if ra is not None and rb is not None:
            return near[ra][rb]
        return positions_agree(a, b, settings)

    return agree


def times_agree(a_s: float, b_s: float, settings: Settings) -> bool:
    """Whether two capture times (seconds) are one moment as far as the rules go: within time_fix_min_s (a time
    is corrected, and same-shot sources disagree, only beyond it)."""
    return abs(a_s - b_s) <= settings.time_fix_min_s


def readings_agree(a: str, b: str, settings: Settings) -> bool:
    """times_agree for two recorded times: in UTC when both carry an offset, else by the wall clock (a naive time
    is local time). A time that cannot be read disagrees with nothing."""
    x, y = clock_reading(str(a)), clock_reading(str(b))
    if x is None or y is None:
        return True
    if x[1] is None or y[1] is None:
        return times_agree(x[0], y[0], settings)
    return times_agree(x[0] - x[1], y[0] - y[1], settings)
