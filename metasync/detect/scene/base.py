"""The scene-analysis contract: what an analyzer sees in a photo (Descriptor), its same-event Verdict, and the
cache results live in between runs (the Verdict itself is models.Verdict: groups carry it as evidence). The local
and the AI analyzers both build on this module only.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Protocol, Sequence

from ...models import Photo, Verdict

log = logging.getLogger(__name__)


# -- results -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Descriptor:
    """What an analyzer sees in one photo. Fields an analyzer cannot tell are None."""

    path: str
    analyzer: str
    indoor: bool | None = None
    time_of_day: str | None = None  # day | twilight | night
    subject: str | None = None  # coarse category, e.g. "greenery", "sky/water", "dim interior"
    scene: str | None = None  # short description of place and light
    histogram: tuple[float, ...] = ()  # joint CIELAB histogram, sums to 1
    layout: tuple[float, ...] = ()  # mean L*a*b* of a 3x3 grid, row-major
    brightness: float | None = None  # mean L*, 0..100
    ev: float | None = None  # exposure value at ISO 100 from EXIF
    sun_elevation: float | None = None  # degrees at the photo's place and time


class Analyzer(Protocol):
    name: str

    def describe(self, photos: Sequence[Photo]) -> dict[str, Descriptor]: ...

    def same_event(self, photos: Sequence[Photo]) -> Verdict: ...


class SceneCache(Protocol):
    """Where analysis results live between runs: the index (Index.scene_cache_get/put), or a dict in tests."""

    def scene_cache_get(self, analyzer: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]: ...

    def scene_cache_put(self, analyzer: str, items: Mapping[str, dict[str, Any]]) -> None: ...
