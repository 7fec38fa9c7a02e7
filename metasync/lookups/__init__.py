"""What planning and place detection look things up in: towns, time zones, GPS track logs.

Built once by the Engine (from settings) and passed in, so that planning itself reads no dataset and writes no
cache; tests build one from a few towns in memory.
"""
from __future__ import annotations

from functools import cached_property
from typing import Callable, Sequence

from ..config import Settings
from ..track import Fix, load_logs
from .gazetteer import Gazetteer
from .zones import Zones


class Lookups:
    """Each member is made on its first use: a time-shift plan needs no towns (about a second to load), and a
    library without GPS logs reads none."""

    def __init__(self, gazetteer: Callable[[], Gazetteer], zones: Callable[[], Zones],
                 logs: Callable[[], Sequence[Fix]] = tuple) -> None:
        self._make_gazetteer, self._make_zones, self._make_logs = gazetteer, zones, logs

    @classmethod
    def of(cls, gazetteer: Gazetteer, zones: Zones, logs: Sequence[Fix] = ()) -> "Lookups":
        """Lookups from members already made (tests, benches)."""
        return cls(lambda: gazetteer, lambda: zones, lambda: logs)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Lookups":
        """The dataset's towns (through the gazetteer cache in settings.cache_dir), the zone polygons, and the points
        of settings.gpx_logs (TrackError, on first use, names an unreadable log)."""
        return cls(lambda: Gazetteer.from_dataset(settings.cache_dir), Zones,
                   lambda: load_logs(settings.gpx_logs))

    @cached_property
    def gazetteer(self) -> Gazetteer:
        return self._make_gazetteer()

    @cached_property
    def zones(self) -> Zones:
        return self._make_zones()

    @cached_property
    def logs(self) -> tuple[Fix, ...]:
        """The points of the GPS track logs, beside the photos' own fixes."""
        return tuple(self._make_logs())
