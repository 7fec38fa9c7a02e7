"""Capture-time arithmetic: canonical ISO strings <-> UTC epoch seconds, offsets as "+02:00"."""
from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta, timezone

from .models import Metadata

# The one pattern of a UTC offset ending a time (or standing alone): "+02:00", "+0200" or "Z".
_OFFSET = re.compile(r"(?:Z|([+-])(\d{2}):?(\d{2}))$")
_EXIF_DATE = re.compile(r"^\d{4}:\d{2}:\d{2}")


def parse_offset(text: str | None) -> timedelta | None:
    """An offset standing alone ("+02:00", "+0200"; not "Z", which only a time carries) as a timedelta."""
    m = _OFFSET.match(text.strip()) if text else None
    if not m or not m.group(1):
        return None
    sign = -1 if m.group(1) == "-" else 1
    return sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))


def canonical_offset(text: str | None) -> str | None:
    """An offset standing alone written as "+02:00" (None when it is not one)."""
    m = _OFFSET.match(text.strip()) if text else None
    return f"{m.group(1)}{m.group(2)}:{m.group(3)}" if m and m.group(1) else None


def split_offset(text: str) -> tuple[str, str | None]:
    """A time without the offset it ends with, and that offset as "+02:00" ("Z" is "+00:00"; None: it has none)."""
    m = _OFFSET.search(text)
    if not m:
        return text, None
    return text[:m.start()], f"{m.group(1)}{m.group(2)}:{m.group(3)}" if m.group(1) else "+00:00"


def format_offset(delta: timedelta) -> str:
    total = int(delta.total_seconds() // 60)
    sign = "-" if total < 0 else "+"
    total = abs(total)
    return f"{sign}{total // 60:02d}:{total % 60:02d}"


def parse_local(text: str | None) -> datetime | None:
    """ISO 8601 (or EXIF "YYYY:MM:DD HH:MM:SS") to a datetime, aware only when the text carries an offset."""
    if not text:
        return None
    return _parse_local(text)


@functools.lru_cache(maxsize=1 << 17)
def _parse_local(text: str) -> datetime | None:
    """Remembered: detection, planning and time zones read the same photos' times again and again (datetimes are
    immutable, so sharing them is safe)."""
    t = exif_to_iso(text.strip()).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(t)
    except ValueError:
        return None


def exif_to_iso(text: str) -> str:
    """An EXIF-style time ("2024:05:12 14:03:07") in ISO 8601 form; other text as it is but for the "T"."""
    if _EXIF_DATE.match(text):
        text = text[:10].replace(":", "-") + text[10:]
    return text.replace(" ", "T", 1)


def utc_epoch(meta: Metadata, assume_offset: timedelta | None = None) -> float | None:
    """Seconds since the epoch in UTC; naive times use the photo's offset_time, else `assume_offset`, else UTC."""
    dt = parse_local(meta.datetime_original)
    if dt is None:
        return None
    if dt.tzinfo is None:
        off = parse_offset(meta.offset_time) or assume_offset or timedelta(0)
        dt = dt.replace(tzinfo=timezone(off))
    return dt.timestamp()


def offset_of(meta: Metadata) -> str | None:
    """The offset a photo's time is in: its OffsetTimeOriginal, else the one its time carries."""
    return canonical_offset(meta.offset_time) or (split_offset(meta.datetime_original)[1]
                                                  if meta.datetime_original else None)


def has_known_offset(meta: Metadata) -> bool:
    dt = parse_local(meta.datetime_original)
    return (dt is not None and dt.tzinfo is not None) or parse_offset(meta.offset_time) is not None


def iso_local(epoch_utc: float, offset: timedelta | None) -> str:
    """Canonical datetime_original for a UTC instant shown in local time (offset appended when known)."""
    dt = datetime.fromtimestamp(epoch_utc, tz=timezone(offset or timedelta(0)))
    text = dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")
    return text if offset is not None else text[: -len("+00:00")]


def wall_epoch(meta: Metadata) -> float | None:
    """The capture time as its clock showed it (local wall time read as if UTC): how to compare two clocks
    when neither offset is known."""
    reading = clock_reading(meta.datetime_original)
    return None if reading is None else reading[0]


def clock_reading(text: str | None) -> tuple[float, float | None] | None:
    """A capture time as (its wall clock read as if UTC, the offset in seconds it carries or None)."""
    return _clock_reading(text) if text else None


@functools.lru_cache(maxsize=1 << 17)
def _clock_reading(text: str) -> tuple[float, float | None] | None:
    dt = _parse_local(text)
    if dt is None:
        return None
    off = dt.utcoffset()
    return dt.replace(tzinfo=timezone.utc).timestamp(), None if off is None else off.total_seconds()


@functools.lru_cache(maxsize=1024)
def offset_seconds(text: str | None) -> float | None:
    """An offset text ("+02:00") in seconds; None when absent or unreadable."""
    off = parse_offset(text)
    return None if off is None else off.total_seconds()


def format_duration(seconds: float, signed: bool = False) -> str:
    """Human duration, whole seconds: "1 h 03 min 20 s", "4 min", "45 s"; `signed` prefixes + or -."""
    total = int(round(abs(seconds)))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    parts = []
    if h:
        parts.append(f"{h} h")
    if m or (h and s):
        parts.append(f"{m:02d} min" if h else f"{m} min")
    if s or not parts:
        parts.append(f"{s:02d} s" if (h or m) else f"{s} s")
    text = " ".join(parts)
    if signed:
        text = ("-" if seconds < 0 and total else "+") + text
    return text


def shift_datetime(text: str, seconds: float) -> str | None:
    """A canonical datetime_original moved by `seconds` on its own clock, keeping its offset (or lack of one)."""
    dt = parse_local(text)
    if dt is None:
        return None
    dt += timedelta(seconds=seconds)
    return dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")
