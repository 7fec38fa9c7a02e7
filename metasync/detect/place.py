"""Place groups: photos that no event covers and that lack place names or an offset, or get GPS from a log.
"""
from __future__ import annotations

import logging
from datetime import timedelta, timezone
from typing import Sequence

from ..config import Settings
from ..fields import PLACE_FIELDS
from ..lookups import Lookups
from ..lookups.gazetteer import PLACE_CONFIDENCE
from ..models import Group, GroupKind, GroupMember, Photo
from ..timeutil import has_known_offset, parse_local
from ..track import gps_changes
from .score import capture_times

log = logging.getLogger(__name__)


def place_groups(photos: Sequence[Photo], covered: set[int], settings: Settings, lookups: Lookups) -> list[Group]:
    """Groups for the photos no other group covers that lack place names or a UTC offset and have GPS, or get it
    from a GPS log (interpolated at their capture time): one group per folder, all members targets."""
    logs = lookups.logs
    times = log_capture_times(photos, lookups)
    by_folder: dict[str, list[Photo]] = {}
    for p in photos:
        m = p.meta
        if p.id in covered or p.error:
            continue
        if not m.has_gps:
            if gps_changes(p, times.get(p.id), logs, settings):
                by_folder.setdefault(p.folder, []).append(p)
        elif all(getattr(m, f) is None for f in PLACE_FIELDS) or (m.datetime_original and not has_known_offset(m)):
            by_folder.setdefault(p.folder, []).append(p)
    return [Group(id=None, members=tuple(GroupMember(p.id, p.path, is_source=False) for p in ps),
                  confidence=PLACE_CONFIDENCE, kind=GroupKind.PLACE,
                  reasons=(_place_reason(folder, ps),))
            for folder, ps in sorted(by_folder.items())]


def log_capture_times(photos: Sequence[Photo], lookups: Lookups) -> dict[int, float]:
    """UTC capture times to look up in the logs. Naive times borrow the offset of photos that have one; when none
    does (a camera-only folder), they are read in the zone where the log was (its points are in UTC)."""
    logs = lookups.logs
    if not logs:
        return {}
    if any(has_known_offset(p.meta) for p in photos):
        return capture_times(photos)
    mid = logs[len(logs) // 2]
    out = {}
    for p in photos:
        local = parse_local(p.meta.datetime_original)
        if local is not None:
            off = lookups.zones.utc_offset(mid.lat, mid.lon, local) or timedelta(0)
            out[p.id] = local.replace(tzinfo=timezone(off)).timestamp()
    return out


def _place_reason(folder: str, photos: list[Photo]) -> str:
    name = folder.rsplit("/", 1)[-1] or folder
    logged = sum(not p.meta.has_gps for p in photos)
    what = f"{logged} get GPS from a track log; all get " if logged else "get "
    return f"{len(photos)} photo(s) in {name}: {what}place names and time zones"
