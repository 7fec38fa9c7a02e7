"""Time zones from GPS, offline: the zone polygon (timezonefinder) and its rules (zoneinfo) give the UTC offset."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from ..models import FieldChange, Metadata
from ..timeutil import format_offset, offset_seconds, parse_local


class Zones:
    """Zone lookups over the timezonefinder polygons, loaded once by whoever builds this (~0.3 s)."""

    def __init__(self) -> None:
        from timezonefinder import TimezoneFinder

        self._finder = TimezoneFinder()

    def at(self, lat: float, lon: float) -> str | None:
        """IANA zone name at a position ("Europe/Paris"; "Etc/GMT-3" at sea); None if unknown."""
        return self._finder.timezone_at(lng=lon, lat=lat)

    def at_many(self, coords: Sequence[tuple[float, float]]) -> list[str | None]:
        """`at` for many (lat, lon) at once (one batch lookup)."""
        if not coords:
            return []
        lat, lon = np.asarray(coords, dtype=float).T
        return self._finder.timezone_names_at(lngs=lon, lats=lat)

    def utc_offset(self, lat: float, lon: float, local: datetime) -> timedelta | None:
        """The offset in force at that place for a naive local wall time, daylight saving included.

        An ambiguous wall time (the hour repeated when clocks go back) takes the first, summer, offset; a wall time
        skipped when clocks go forward takes the offset before the change (PEP 495 fold=0).
        """
        zone = _zone(self.at(lat, lon))
        return None if zone is None else local.replace(tzinfo=zone, fold=0).utcoffset()

    def offset_for(self, lat: float, lon: float, local_naive: datetime) -> str | None:
        """Offset text ("+02:00") for a naive local capture time at that place; None when no zone is known."""
        off = self.utc_offset(lat, lon, local_naive.replace(tzinfo=None))
        return None if off is None else format_offset(off)


def _zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def offset_change(zones: Zones, path: str, meta: Metadata, confidence: float = 1.0,
                  source: str | None = None) -> FieldChange | None:
    """offset_time for a photo whose camera wrote local time without an offset, once it has GPS (`meta` as the
    plan leaves it); `confidence` and `source` are those of the GPS the zone comes from."""
    return offset_changes(zones, [(path, meta, confidence, source)])[0]


def offset_changes(zones: Zones, items: Sequence[tuple[str, Metadata, float, str | None]]
                   ) -> list[FieldChange | None]:
    """offset_change for many (path, meta, confidence, source), their zones looked up in one batch."""
    wanted = []  # (item, its local time)
    for k, (_, meta, _, _) in enumerate(items):
        if meta.has_gps and offset_seconds(meta.offset_time) is None:
            local = parse_local(meta.datetime_original)
            if local is not None and local.tzinfo is None:
                wanted.append((k, local))
    names = zones.at_many([(items[k][1].gps_latitude, items[k][1].gps_longitude) for k, _ in wanted])
    out: list[FieldChange | None] = [None] * len(items)
    for (k, local), name in zip(wanted, names):
        zone = _zone(name)
        if zone is None:
            continue
        path, meta, confidence, source = items[k]
        aware = local.replace(tzinfo=zone, fold=0)
        text = format_offset(aware.utcoffset())
        reason = f"time zone {name} at its GPS position: {text} on {local.date().isoformat()}" + (
            " (summer time)" if aware.dst() else "")
        out[k] = FieldChange(path, "offset_time", meta.offset_time, text, source, reason, confidence)
    return out
