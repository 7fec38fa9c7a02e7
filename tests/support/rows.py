"""Photo rows without files, for the pure detection and planning tests: a phone with GPS and offset, a DSLR with a
naive local clock, and a messenger copy (no metadata, pHash a few bits from its original)."""
from __future__ import annotations

from datetime import datetime, timedelta

from metasync.models import Metadata, Photo

T0 = datetime(2024, 5, 12, 14, 0, 0)


def when(minutes: float, offset: str | None = "+02:00", base: datetime = T0) -> str:
    t = (base + timedelta(minutes=minutes)).isoformat(timespec="seconds")
    return t + offset if offset else t


def phone(pid: int, minutes: float, lat: float = 48.8584, lon: float = 2.2945, phash: int | None = None,
          folder: str = "/lib/a", **kw) -> Photo:
    meta = Metadata(datetime_original=when(minutes), offset_time="+02:00", gps_latitude=lat, gps_longitude=lon,
                    make="Apple", model="iPhone 13", **kw)
    return Photo(pid, f"{folder}/IMG_{pid:04d}.HEIC", meta, phash=phash)


def dslr(pid: int, minutes: float, phash: int | None = None, folder: str = "/lib/a", **kw) -> Photo:
    meta = Metadata(datetime_original=when(minutes, None), make="Canon", model="EOS R6", iso=400.0, **kw)
    return Photo(pid, f"{folder}/DSC_{pid:04d}.JPG", meta, phash=phash)


def copy_of(pid: int, original: Photo, flips: int = 2, folder: str = "/lib/wa") -> Photo:
    h = original.phash
    for b in range(flips):
        h ^= 1 << (7 * b + 3)
    return Photo(pid, f"{folder}/IMG-20240512-WA{pid:04d}.jpg", Metadata(), phash=h)
