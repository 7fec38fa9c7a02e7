"""Capture-time arithmetic: canonical ISO strings <-> UTC epoch seconds, offsets as "+02:00"."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .models import Metadata

_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def parse_offset(text: str | None) -> timedelta | None:
    if not text:
        return None
    m = _OFFSET.match(text.strip())
    if not m:
        return None
    sign = -1 if m.group(1) == "-" else 1
    return sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))


def format_offset(delta: timedelta) -> str:
    total = int(delta.total_seconds() // 60)
    sign = "-" if total < 0 else "+"
    total = abs(total)
    return f"{sign}{total // 60:02d}:{total % 60:02d}"


def parse_local(text: str | None) -> datetime | None:
    """ISO 8601 (or EXIF "YYYY:MM:DD HH:MM:SS") to a datetime, aware only when the text carries an offset."""
    if not text:
        return None
    t = text.strip()
    if re.match(r"^\d{4}:\d{2}:\d{2}", t):
        t = t[:10].replace(":", "-") + t[10:]
    t = t.replace(" ", "T", 1).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(t)
    except ValueError:
        return None


def utc_epoch(meta: Metadata, assume_offset: timedelta | None = None) -> float | None:
    """Seconds since the epoch in UTC; naive times use the photo's offset_time, else `assume_offset`, else UTC."""
    dt = parse_local(meta.datetime_original)
    if dt is None:
        return None
    if dt.tzinfo is None:
        off = parse_offset(meta.offset_time) or assume_offset or timedelta(0)
        dt = dt.replace(tzinfo=timezone(off))
    return dt.timestamp()


def has_known_offset(meta: Metadata) -> bool:
    dt = parse_local(meta.datetime_original)
    return (dt is not None and dt.tzinfo is not None) or parse_offset(meta.offset_time) is not None


def iso_local(epoch_utc: float, offset: timedelta | None) -> str:
    """Canonical datetime_original for a UTC instant shown in local time (offset appended when known)."""
    dt = datetime.fromtimestamp(epoch_utc, tz=timezone(offset or timedelta(0)))
    text = dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")
    return text if offset is not None else text[: -len("+00:00")]
