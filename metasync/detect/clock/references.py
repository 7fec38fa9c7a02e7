"""The reference devices (phones) whose clocks the cameras are compared with: which they are, their GPS track,
and the zone offsets their photos carry along their clocks."""
from __future__ import annotations

import bisect
from typing import Any, Iterable, Mapping

from ...models import CameraKey, Photo
from ...timeutil import has_known_offset, offset_of, utc_epoch, wall_epoch
from ...track import FixGrid, photo_fixes
from .pairs import ClockPair, comparison_clock, most_common

# The references' track looks at stretches that start or end this close to a camera photo (fixes of a walk are a
# few hundred metres apart).
TRACK_REACH_M = 600.0


def reference_devices(by_camera: Mapping[CameraKey, list[Photo]]) -> set[CameraKey]:
    """The devices whose clocks the others are compared with.

    A device that geotags most of its photos knows where it is and, if it is a phone, the time from the network.
    Phones also write the zone offset they got from it; a camera with its own GPS unit (or one that a phone app
    geotags) usually writes its own clock's local time without one. So: the geotagging devices that write an
    offset, or every geotagging device when none does. (An offset tag alone proves nothing: cameras write one from
    their own, possibly wrong, settings.)
    """
    def most(photos: list[Photo], test: Any) -> bool:
        return 2 * sum(1 for p in photos if test(p.meta)) > len(photos)

    located = {k for k, ps in by_camera.items() if most(ps, lambda m: m.has_gps)}
    return {k for k in located if most(by_camera[k], has_known_offset)} or located


def reference_tracks(located: list[Photo]) -> dict[bool, FixGrid]:
    """The references' fixes as a track on their wall clocks (for cameras without an offset) and in UTC (for
    cameras with one, against references that have one), like the two ways comparison_clock compares."""
    walls = {p.id: wall_epoch(p.meta) for p in located}
    utcs = {p.id: utc_epoch(p.meta) for p in located if has_known_offset(p.meta)}
    return {both: FixGrid(photo_fixes(located, times), TRACK_REACH_M) for both, times in ((False, walls), (True, utcs))}


class Devices:
    """The reference devices' clocks: which device took a reference photo, and the offsets its photos carry along
    its clock (a phone's offset is the zone it was in)."""

    def __init__(self, by_camera: Mapping[CameraKey, list[Photo]], references: set[CameraKey]) -> None:
        self.of: dict[int, CameraKey] = {}
        self.clocks: dict[tuple[CameraKey, bool], tuple[list[float], list[str | None]]] = {}
        for key in references:
            for p in by_camera[key]:
                self.of[p.id] = key
            for both in (False, True):
                timed = sorted((comparison_clock(p.meta, both), offset_of(p.meta)) for p in by_camera[key]
                               if both is False or has_known_offset(p.meta))
                self.clocks[(key, both)] = ([t for t, _ in timed], [o for _, o in timed])

    def main(self, pairs: Iterable[ClockPair]) -> CameraKey | None:
        """The device most of the pairs are with."""
        return most_common(self.of.get(p.reference_id) for p in pairs)

    def offset_at(self, device: CameraKey | None, both: bool, clock: float) -> str | None:
        """The offset of the device's photo nearest to this moment of its clock (None: it writes none)."""
        times, offsets = self.clocks.get((device, both), ([], []))
        if not times:
            return None
        k = bisect.bisect_left(times, clock)
        near = min((j for j in (k - 1, k) if 0 <= j < len(times)), key=lambda j: abs(times[j] - clock))
        return offsets[near]
