"""A camera's correction in words: each leg's shift split into the zone difference and the clock's own error
("camera on home time +02:00, 3 min 40 s fast; here -04:00"), and its drift."""
from __future__ import annotations

from datetime import timedelta
from typing import Sequence

from ...timeutil import format_duration, format_offset, offset_seconds
from .pairs import RESOLUTION_S, most_common


def zone_and_error(legs: Sequence[tuple[float, float | None]]) -> list[tuple[float, float]]:
    """Each leg's correction (shift, the reference's offset there, in s; None: unknown) as (zone difference, clock
    correction): zone differences in whole quarter hours, the clock's own error about the same in every leg.

    The error is the one that explains the legs best: small, with the camera's zone (the reference's offset less
    the zone difference) the local one, else a whole-hour zone, rarely a half-hour one, hardly ever a quarter-hour
    one. A camera 17 min slow on local time is that, not 2 min slow on a :45 zone.
    """
    def penalty(zone_diff: float, here: float | None) -> float:
        if zone_diff == 0:
            return 0.0
        zone = zone_diff if here is None else here - zone_diff
        return 0.5 if zone % 3600 == 0 else 1.5 if zone % 1800 == 0 else 2.5

    def split(error: float) -> list[tuple[float, float]]:
        return [(900.0 * round((s - error) / 900.0), s - 900.0 * round((s - error) / 900.0)) for s, _ in legs]

    def cost(error: float) -> tuple[float, float]:
        return abs(error) / 900.0 + sum(penalty(z, here) for (z, _), (_, here) in zip(split(error), legs)), abs(error)

    options = {s - 900.0 * round(s / 900.0) + 900.0 * j for s, _ in legs for j in range(-3, 4)}
    return split(min(sorted(options), key=cost))


def leg_reasons(legs: Sequence[tuple[float, Sequence[str | None], float]]) -> list[str]:
    """Each leg's shift in words, for the legs of one session of a camera, each given as (shift, the offsets its
    photos take, drift in s a day); "" where one shift says it all (a single leg without drift). The legs are
    explained together: zone differences and the clock's own error, the same in each, and the zone the first leg
    was set to is the camera's home."""
    heres = [most_common(offsets) for _, offsets, _ in legs]
    parts = zone_and_error([(shift, offset_seconds(h)) for (shift, _, _), h in zip(legs, heres)])
    zones = [format_offset(timedelta(seconds=offset_seconds(h) - z)) if h else None
             for (z, _), h in zip(parts, heres)]
    abroad = any(z for z, _ in parts)
    return [explanation(zone_diff, error, zone, here, abroad and zone is not None and zone == zones[0], drift)
            if len(legs) > 1 or drift else ""
            for (_, _, drift), (zone_diff, error), zone, here in zip(legs, parts, zones, heres)]


def explanation(zone_diff: float, error: float, zone: str | None, here: str | None, home: bool,
                drift_s_per_day: float = 0.0) -> str:
    """A leg's shift in words: "camera on home time +02:00, 3 min 40 s fast; here -04:00", "camera on local time,
    17 min 10 s slow, drifting 2 s a day slower". `error` is the clock's own correction (+: it is slow), `zone`
    the zone it is set to, `here` the reference's offset, `home` whether `zone` is the one it was first set to."""
    if zone_diff == 0 and not home:
        setting = "camera on local time"
    elif zone is not None:
        setting = f"camera on {'home ' if home else ''}time {zone}"
    else:
        setting = f"camera {format_duration(-zone_diff, signed=True)} off the local zone"
    clock = (f"{format_duration(error)} {'slow' if error > 0 else 'fast'}" if abs(error) >= RESOLUTION_S
             else "clock otherwise right")
    if drift_s_per_day:
        rate = f"{round(abs(drift_s_per_day)) if abs(drift_s_per_day) >= 1 else round(abs(drift_s_per_day), 1):g} s"
        clock += f", drifting {rate} a day {'slower' if drift_s_per_day > 0 else 'faster'}"
    return f"{setting}, {clock}" + (f"; here {here}" if zone_diff and here else "")
