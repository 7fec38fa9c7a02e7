"""A copy takes its original's time, place and camera: which member of its group it was made of, and what it gets.

A copy (a messenger's, an export) has lost its metadata but kept its pixels: it is the same shot (pHash within
phash_same_shot) as exactly one photo that still names its camera. Look-alikes are common, though: a DSLR shot and
the phone shot taken seconds before it of the same view, or several shots of one scene, hash alike at 64 bits. The
256-bit detail hash (Photo.detail_hash) sees the small differences in framing that a recompressed, resized copy
keeps, so the nearest original by detail hash wins, and among originals equally near by both hashes the one exposed
as the copy is (Photo.lightness: hashes ignore exposure, a copy keeps it); a messenger copy's received day
(Metadata.received_day) first rules out originals taken after it and prefers those taken that day or up to
RECEIVED_WITHIN_DAYS before.

The copy then takes the original's values as the plan leaves them (the original is often a target itself: a DSLR
shot whose GPS this very plan interpolates and whose clock a pending correction fixes), never over a value of its
own (a time of its own is corrected only when it differs by more than time_fix_min_s, as from any same shot).
A messenger copy without an original gets no time at all: its received day is not when it was taken, and another
photo's time is no better.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Sequence

import numpy as np

from ..config import Settings
from ..detect.score import CONFLICT_FACTOR, SAME_SHOT_GPS_M, WEIGHTS
from ..fields import CAMERA_FIELDS, FIELDS, GPS_FIELDS, PLACE_FIELDS, POSITION_FIELDS, TIME_FIELDS
from ..models import FieldChange, Photo
from ..timeutil import parse_local
from ..track import distance_m
from .agree import opinions, positions_agree, readings_agree

# What a copy takes from its original.
COPY_FIELDS = (*TIME_FIELDS, *GPS_FIELDS, *CAMERA_FIELDS, *PLACE_FIELDS)
# A messenger copy is received the day its original was taken or up to this many days later.
RECEIVED_WITHIN_DAYS = 2
# A copy's mean lightness (CIELAB L*, 0-100) is its original's within this (resizing, recompression): measured on
# 14 messenger copies at most 0.16 apart, while look-alike shots of one view lay 0.33-19 apart.
LIGHTNESS_NOISE = 0.5
# An original dated this many days after the received day cannot be one (the sender may be a zone east of the
# receiver: a day of slack).
AFTER_RECEIVED_DAYS = 1


@dataclass(frozen=True)
class Original:
    """The member a copy was made of, why, and the members equally near (a doubt when their values disagree)."""

    photo: Photo
    why: str
    alike: tuple[Photo, ...] = ()


def is_copy(photo: Photo) -> bool:
    """A photo that names no camera: only such a photo can be a copy (a camera's own shots are originals)."""
    return not (photo.meta.make or photo.meta.model)


def original_of(copy: Photo, members: Sequence[Photo], settings: Settings) -> Original | None:
    """The member `copy` was made of (see the module), or None. `members` as the plan leaves them (planned values
    in): their dates decide the received-day window."""
    received = _day(copy.meta.received_day)
    ranked = []
    for m in members:
        if m.id == copy.id or is_copy(m) or m.phash is None or copy.phash is None:
            continue
        hd = (m.phash ^ copy.phash).bit_count()
        if hd > settings.phash_same_shot or not _gps_allows(copy, m):
            continue
        taken = _taken_day(m)
        if received is not None and taken is not None and taken > received + timedelta(days=AFTER_RECEIVED_DAYS):
            continue
        outside = received is not None and (taken is None or not
                                            received - timedelta(days=RECEIVED_WITHIN_DAYS) <= taken <= received)
        detail = (m.detail_hash ^ copy.detail_hash).bit_count() \
            if m.detail_hash is not None and copy.detail_hash is not None else None
        unknown = 1 << 16  # ranks after any known detail distance (a row indexed before detail hashes existed)
        ranked.append(((outside, detail if detail is not None else unknown, hd), m.path, m, detail))
    if not ranked:
        return None
    ranked.sort(key=lambda r: r[:2])
    key, _, _, detail = ranked[0]
    tied = [r[2] for r in ranked if r[0] == key]
    alike = _by_exposure(copy, tied)
    best = alike[0]
    why = f"copy of {best.name}: pHash distance {key[2]}" + (f", detail distance {detail}" if detail is not None
                                                             else "")
    if len(alike) < len(tied):
        why += f", exposed alike (lightness {best.lightness:.2f}, the copy {copy.lightness:.2f}; " \
               f"{len(tied) - len(alike)} look-alike(s) as near by hash are not)"
    if received is not None:
        why += f", received {received.isoformat()}" + (" (taken outside the days before)" if key[0] else "")
    return Original(best, why, tuple(alike[1:]))


def _by_exposure(copy: Photo, tied: list[Photo]) -> list[Photo]:
    """Of originals equally near by hash (in path order), those exposed as the copy is, nearest first: hashes
    ignore exposure by design, a resized and recompressed copy keeps it. One whose lightness is unknown stays
    (after the others); without the copy's, all stay as they are."""
    if len(tied) < 2 or copy.lightness is None:
        return tied
    gap = {p.id: abs(p.lightness - copy.lightness) if p.lightness is not None else math.inf for p in tied}
    nearest = min(gap.values())
    if nearest == math.inf:
        return tied
    return sorted((p for p in tied if gap[p.id] <= nearest + LIGHTNESS_NOISE or p.lightness is None),
                  key=lambda p: gap[p.id])


def with_originals(changes: list[FieldChange], targets: Sequence[Photo], sources: Sequence[Photo],
                   settings: Settings) -> list[FieldChange]:
    """The group's planned changes with every copy's time, place and camera taken from its original instead (the
    other rules' guesses for those fields dropped); a messenger copy without an original loses any planned time."""
    planned: dict[str, dict[str, FieldChange]] = {}
    for c in changes:
        planned.setdefault(c.path, {})[c.field] = c
    final = [_as_planned(p, planned.get(p.path, {})) for p in (*sources, *targets)]
    originals = [p for p in final if not is_copy(p) and p.phash is not None]
    hashes = np.array([p.phash for p in originals], dtype=np.uint64)
    replaced: dict[str, list[FieldChange]] = {}
    for copy in targets:
        if not is_copy(copy):
            continue
        near = [] if copy.phash is None else np.flatnonzero(
            np.bitwise_count(hashes ^ np.uint64(copy.phash)) <= settings.phash_same_shot).tolist()
        found = original_of(copy, [originals[k] for k in near], settings)  # a big group holds thousands
        if found is not None:
            replaced[copy.path] = _taken(copy, found, planned.get(found.photo.path, {}), settings)
        elif copy.meta.received_day is not None:
            replaced[copy.path] = [c for f, c in planned.get(copy.path, {}).items()
                                   if f in COPY_FIELDS and f not in TIME_FIELDS]
    if not replaced:
        return changes
    return [c for c in changes if c.path not in replaced or c.field not in COPY_FIELDS] + \
        [c for cs in replaced.values() for c in cs]


def _taken(copy: Photo, found: Original, its_changes: dict[str, FieldChange], settings: Settings
           ) -> list[FieldChange]:
    """The copy's changes, worded as the same-shot rules word them: each field it lacks from the original (a time
    of its own only when it is off by more than time_fix_min_s; equally near originals that disagree: a dispute)."""
    meta = copy.meta
    timed = meta.datetime_original is None or not readings_agree(meta.datetime_original,
                                                                  found.photo.meta.datetime_original, settings)
    rule = "no capture time" if meta.datetime_original is None else "clock differs from the same shot"
    located = meta.gps_latitude is not None or meta.gps_longitude is not None  # even half a position stays
    out = []
    for f in COPY_FIELDS:
        old = getattr(meta, f)
        if f in GPS_FIELDS and located:
            continue
        if f in TIME_FIELDS and timed:
            if f == "offset_time" and found.photo.meta.offset_time in (None, old):
                continue
            why = rule
        elif f == "offset_time" and old is None and meta.datetime_original is not None:
            why = "offset of the same shot"
        elif old is None and f not in TIME_FIELDS:
            why = "no GPS" if f in GPS_FIELDS else "place of the source" if f in PLACE_FIELDS else \
                "camera of the same shot"
        else:
            continue
        change = _opinion(copy, f, why, found, its_changes.get(f), settings)
        if change is not None:
            out.append(change)
    return out


def _opinion(copy: Photo, f: str, rule: str, found: Original, planned: FieldChange | None,
             settings: Settings) -> FieldChange | None:
    """The original's value of `f` for the copy; equally near originals that disagree make it a dispute (the most
    common value wins, ties go to the first)."""
    given = [p for p in (found.photo, *found.alike)
             if getattr(p.meta, f) is not None and (f not in GPS_FIELDS or p.meta.has_gps)]  # a position is one
    if not given:
        return None
    src, others = opinions(given, lambda a, b: _agree(f, a, b, settings))
    reason = f"{rule}: {found.why if src is found.photo else f'copy of {src.name}'}"
    if planned is not None and src is found.photo:
        reason += f"; {src.name} gets it too ({planned.reason})"
    alternatives = tuple(getattr(o.meta, f) for o in others)
    if others:
        reason += " (sources disagree: " + "; ".join(f"{o.name} says {getattr(o.meta, f)!r}" for o in others) + ")"
    confidence = WEIGHTS["same_shot"] if planned is None else min(WEIGHTS["same_shot"], planned.confidence)
    return FieldChange(copy.path, f, getattr(copy.meta, f), getattr(src.meta, f), src.path, reason,
                       round(confidence * (CONFLICT_FACTOR if others else 1.0), 4), bool(others), alternatives)


def _agree(f: str, a: Photo, b: Photo, settings: Settings) -> bool:
    x, y = getattr(a.meta, f), getattr(b.meta, f)
    if f == "datetime_original":
        return readings_agree(x, y, settings)
    if f in POSITION_FIELDS:
        return positions_agree(a, b, settings)
    return FIELDS[f].same(x, y)


def _as_planned(photo: Photo, changes: dict[str, FieldChange]) -> Photo:
    """The photo with the plan's undisputed changes in (a disputed value is nobody's to pass on)."""
    values: dict[str, Any] = {f: c.new for f, c in changes.items() if not c.conflict and f in COPY_FIELDS}
    if not values:
        return photo
    return replace(photo, meta=photo.meta.with_values(**values))


def _gps_allows(copy: Photo, original: Photo) -> bool:
    """A copy keeps the GPS it had: two photos placed apart are two shots (as score.py's same-shot rule)."""
    a, b = copy.meta, original.meta
    return not (a.has_gps and b.has_gps) or distance_m(a.gps_latitude, a.gps_longitude, b.gps_latitude,
                                                       b.gps_longitude) <= SAME_SHOT_GPS_M


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _taken_day(photo: Photo) -> date | None:
    """The wall-clock day the photo was taken."""
    local = parse_local(photo.meta.datetime_original)
    return local.date() if local else None
