"""Time zones from GPS, offline: the zone polygon (timezonefinder) and its rules (zoneinfo) give the UTC offset."""
from __future__ import annotations

import functools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .models import FieldChange, Metadata
from .timeutil import format_offset, parse_local, parse_offset


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
    zone = _zone(zone_at(lat, lon))
    return None if zone is None else local.replace(tzinfo=zone, fold=0).utcoffset()


def _zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def offset_for(lat: float, lon: float, local_naive: datetime) -> str | None:
    """Offset text ("+02:00") for a naive local capture time at that place; None when no zone is known."""
    off = utc_offset(lat, lon, local_naive.replace(tzinfo=None))
    return None if off is None else format_offset(off)


def offset_change(path: str, meta: Metadata, confidence: float = 1.0, source: str | None = None) -> FieldChange | None:
    """offset_time for a photo whose camera wrote local time without an offset, once it has GPS (`meta` as the
    plan leaves it); `confidence` and `source` are those of the GPS the zone comes from."""
    if not meta.has_gps or parse_offset(meta.offset_time) is not None:
        return None
    local = parse_local(meta.datetime_original)
    if local is None or local.tzinfo is not None:
        return None
    name = zone_at(meta.gps_latitude, meta.gps_longitude)
    zone = _zone(name)
    if zone is None:
        return None
    aware = local.replace(tzinfo=zone, fold=0)
    text = format_offset(aware.utcoffset())
    reason = f"time zone {name} at its GPS position: {text} on {local:%Y-%m-%d}" + (
        " (summer time)" if aware.dst() else "")
    return FieldChange(path, "offset_time", meta.offset_time, text, source, reason, confidence)
