"""Time zones from GPS, offline: the zone polygon (timezonefinder) and its rules (zoneinfo) give the UTC offset."""
from __future__ import annotations

import functools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .timeutil import format_offset


@functools.lru_cache(maxsize=1)
def _finder():  # -> timezonefinder.TimezoneFinder; loading the polygons costs ~0.3 s, so once, on first use
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


def zone_at(lat: float, lon: float) -> str | None:
    """IANA zone name at a position ("Europe/Paris"; "Etc/GMT-3" at sea); None if unknown."""
    return _finder().timezone_at(lng=lon, lat=lat)


def utc_offset(lat: float, lon: float, local: datetime) -> timedelta | None:
    """The offset in force at that place for a naive local wall time, daylight saving included.

    An ambiguous wall time (the hour repeated when clocks go back) takes the first, summer, offset; a wall time
    skipped when clocks go forward takes the offset before the change (PEP 495 fold=0).
    """
    name = zone_at(lat, lon)
    if name is None:
        return None
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return local.replace(tzinfo=zone, fold=0).utcoffset()


def offset_for(lat: float, lon: float, local_naive: datetime) -> str | None:
    """Offset text ("+02:00") for a naive local capture time at that place; None when no zone is known."""
    off = utc_offset(lat, lon, local_naive.replace(tzinfo=None))
    return None if off is None else format_offset(off)
