"""What planning and place detection look things up in: towns, time zones, GPS track logs.

Built once by the Engine (from settings) and passed in, so that planning itself reads no dataset and writes no
cache; tests build one from a few towns in memory.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..track import Fix, load_logs
from .gazetteer import Gazetteer
from .zones import Zones


@dataclass(frozen=True)
class Lookups:
    gazetteer: Gazetteer
    zones: Zones
    logs: tuple[Fix, ...] = ()  # the points of the GPS track logs, beside the photos' own fixes

    @classmethod
    def from_settings(cls, settings: Settings) -> "Lookups":
        """The dataset's towns (through the gazetteer cache in settings.cache_dir), the zone polygons, and the points
        of settings.gpx_logs (TrackError names an unreadable log)."""
        return cls(Gazetteer.from_dataset(settings.cache_dir), Zones(), tuple(load_logs(settings.gpx_logs)))
