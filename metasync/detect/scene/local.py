"""The local analyzer: colour, light and sun cues from pixels and EXIF, deterministic, numpy and Pillow only.
"""
from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Any, Mapping, Sequence

import numpy as np

from ...config import Settings
from ...models import Photo, Verdict
from ...scan.phash import thumbnail_image
from ...scan.pixels import AB_BINS, FEATURES_VERSION, GRID, L_BINS, LOCAL, SIZE, pixel_features
from ...timeutil import parse_local, utc_epoch
from ...track import distance_m
from ..score import capture_times
from .base import Descriptor, SceneCache

log = logging.getLogger(__name__)


# Pair distance weights (colour distribution, colour layout, light, sun/day-night, pHash) and the split cut-off,
# calibrated on generated libraries (bench/scene_accuracy.py): events differ by > 0.6, shots of one event by < 0.35.
_WEIGHTS = {"colour": 0.5, "layout": 0.2, "light": 0.1, "daynight": 0.1, "phash": 0.1}
SPLIT_DISTANCE = 0.45
_MAX_SPLIT_MEMBERS = 600  # clustering is O(n^3); bigger groups are scored from a sample, not split


# -- light and sun -------------------------------------------------------------------------------------------------
def exposure_value(f_number: float | None, exposure_time: float | None, iso: float | None) -> float | None:
    """Scene light as EV at ISO 100: log2(N²/t) − log2(ISO/100). Sunny outdoors ≈ 15, offices ≈ 7, night streets ≈ 3."""
    if not f_number or not exposure_time or f_number <= 0 or exposure_time <= 0:
        return None
    ev = math.log2(f_number * f_number / exposure_time)
    if iso and iso > 0:
        ev -= math.log2(iso / 100.0)
    return ev


def sun_elevation(lat: float, lon: float, epoch_utc: float) -> float:
    """Solar elevation in degrees (Astronomical Almanac low-precision formulas, ~0.01° for 1950-2050).

    No refraction correction: it matters only within half a degree of the horizon.
    """
    n = epoch_utc / 86400.0 + 2440587.5 - 2451545.0  # days since J2000.0
    mean_lon = (280.460 + 0.9856474 * n) % 360.0
    anomaly = math.radians((357.528 + 0.9856003 * n) % 360.0)
    ecl_lon = math.radians(mean_lon + 1.915 * math.sin(anomaly) + 0.020 * math.sin(2 * anomaly))
    obliquity = math.radians(23.439 - 0.0000004 * n)
    ra = math.atan2(math.cos(obliquity) * math.sin(ecl_lon), math.cos(ecl_lon))
    dec = math.asin(math.sin(obliquity) * math.sin(ecl_lon))
    gmst_h = (18.697374558 + 24.06570982441908 * n) % 24.0
    hour_angle = math.radians(gmst_h * 15.0 + lon) - ra
    phi = math.radians(lat)
    s = math.sin(phi) * math.sin(dec) + math.cos(phi) * math.cos(dec) * math.cos(hour_angle)
    return math.degrees(math.asin(max(-1.0, min(1.0, s))))


def time_of_day(elevation: float) -> str:
    """Civil twilight is the sun between -6° and +6°: light changes fast and looks different from noon or night."""
    if elevation > 6.0:
        return "day"
    if elevation >= -6.0:
        return "twilight"
    return "night"


def _local_hour(photo: Photo) -> float | None:
    dt = parse_local(photo.meta.datetime_original)
    return None if dt is None else dt.hour + dt.minute / 60.0


def _hour_time_of_day(hour: float) -> str:
    """Without GPS the clock is all we have: a rough, season-blind guess."""
    if 8.0 <= hour < 18.0:
        return "day"
    if 6.0 <= hour < 8.0 or 18.0 <= hour < 20.0:
        return "twilight"
    return "night"


# -- pixels --------------------------------------------------------------------------------------------------------
def _thumbnail_rgb(path: str) -> np.ndarray:
    """A small upright RGB array via phash.py, the one pixel decoder (as the scan's hashing pass decodes it)."""
    return np.asarray(thumbnail_image(path, size=SIZE))


def _subject(px: Mapping[str, Any], indoor: bool | None) -> str:
    """A coarse, colour-based category; honest about being a guess from colours, not object recognition."""
    if px["brightness"] < 22:
        return "dark scene"
    if px["green"] > 0.3:
        return "greenery"
    if px["blue"] > 0.3 or px["sky_top"] > 0.5:
        return "sky/water"
    if px["brightness"] > 80 and px["green"] + px["blue"] + px["warm"] < 0.1:
        return "snow/bright"
    if px["warm"] > 0.35:
        return "warm interior" if indoor else "warm tones"
    return "mixed"


def _indoor(px: Mapping[str, Any], ev: float | None, tod: str | None) -> bool | None:
    """Daylight outdoors is EV 12-16; a lit room by day EV 5-8. At night both are dim, so only the sky tells."""
    if ev is not None and ev >= 11.0:
        return False
    if px["sky_top"] > 0.4:
        return False
    if ev is not None and ev <= 8.0 and tod == "day":
        return True
    return None


def build_descriptor(photo: Photo, px: Mapping[str, Any], analyzer: str = LOCAL) -> Descriptor:
    """Pixel features (cached) plus metadata cues (cheap, recomputed: GPS or time may have been filled in since)."""
    m = photo.meta
    ev = exposure_value(m.f_number, m.exposure_time, m.iso)
    epoch = utc_epoch(m) if m.datetime_original else None
    elev = sun_elevation(m.gps_latitude, m.gps_longitude, epoch) if (m.has_gps and epoch is not None) else None
    if elev is not None:
        tod: str | None = time_of_day(elev)
    else:
        hour = _local_hour(photo)
        tod = _hour_time_of_day(hour) if hour is not None else None
    indoor = _indoor(px, ev, tod)
    subject = _subject(px, indoor)
    where = {True: "indoor", False: "outdoor", None: "indoor/outdoor unknown"}[indoor]
    light = [f"{tod}" if tod else "time unknown"]
    if elev is not None:
        light.append(f"sun {elev:.0f}°")
    if ev is not None:
        light.append(f"EV {ev:.1f}")
    return Descriptor(
        path=photo.path, analyzer=analyzer, indoor=indoor, time_of_day=tod, subject=subject,
        scene=f"{where}, {subject}, {', '.join(light)}", histogram=tuple(px["histogram"]), layout=tuple(px["layout"]),
        brightness=px["brightness"], ev=ev, sun_elevation=elev)


# -- distances and clustering --------------------------------------------------------------------------------------
def _gather(values: Sequence[Any], width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-photo values (None or empty = unknown) into an array and a "known" mask."""
    known = np.array([v is not None and (width is None or len(v) == width) for v in values], dtype=bool)
    filler = 0.0 if width is None else [0.0] * width
    return np.array([v if k else filler for v, k in zip(values, known)], dtype=np.float64), known


def distance_matrix(photos: Sequence[Photo], descs: Mapping[str, Descriptor],
                    settings: Settings) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Pairwise scene dissimilarity in [0, 1] (n x n) and each cue's weighted share, for reasons.

    Cues: colour distribution (Hellinger distance of the exposure-normalised CIELAB histograms), colour layout
    (mean ΔE of a 3x3 grid), light (EV, else brightness), day vs night, pHash. A cue counts for a pair only when
    both photos have it; same-shot copies (pHash within phash_same_shot) are distance 0. GPS is not a cue here: the
    detector already keeps photos far apart out of one group, and a walk through one event can cover kilometres.
    """
    d = [descs[p.path] for p in photos]
    n = len(photos)
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def both(known: np.ndarray) -> np.ndarray:
        return known[:, None] & known[None, :]

    hist, known = _gather([x.histogram or None for x in d], L_BINS * AB_BINS * AB_BINS)
    root = np.sqrt(hist)
    parts["colour"] = (np.sqrt(np.clip(1.0 - root @ root.T, 0.0, 1.0)), both(known))
    layout, known = _gather([x.layout or None for x in d], GRID * GRID * 3)
    cells = layout.reshape(n, GRID * GRID, 3)
    delta = sum(np.linalg.norm(cells[:, None, c] - cells[None, :, c], axis=-1) for c in range(GRID * GRID))
    delta = delta / (GRID * GRID)  # mean ΔE over the cells, one cell at a time to keep memory at n² x 3
    parts["layout"] = (np.minimum(1.0, delta / 40.0), both(known))
    ev, ev_known = _gather([x.ev for x in d])
    bright, b_known = _gather([x.brightness for x in d])
    by_ev = both(ev_known)
    light = np.where(by_ev, np.abs(ev[:, None] - ev[None, :]) / 5.0, np.abs(bright[:, None] - bright[None, :]) / 40.0)
    parts["light"] = (np.minimum(1.0, light), by_ev | both(b_known))
    day = np.array([x.time_of_day == "day" for x in d])
    night = np.array([x.time_of_day == "night" for x in d])
    parts["daynight"] = ((day[:, None] & night[None, :]) | (night[:, None] & day[None, :]),
                         both(np.array([x.time_of_day is not None for x in d])))
    hashes = np.array([p.phash or 0 for p in photos], dtype=np.uint64)
    h_known = np.array([p.phash is not None for p in photos])
    hamming = np.bitwise_count(hashes[:, None] ^ hashes[None, :]).astype(np.float64)
    parts["phash"] = (np.minimum(1.0, hamming / 32.0), both(h_known))

    weighted = {k: _WEIGHTS[k] * v * m for k, (v, m) in parts.items()}
    total = sum(_WEIGHTS[k] * m for k, (_, m) in parts.items())
    dist = np.where(total > 0, sum(weighted.values()) / np.where(total > 0, total, 1.0), 0.0)
    dist[both(h_known) & (hamming <= settings.phash_same_shot)] = 0.0
    np.fill_diagonal(dist, 0.0)
    return dist, weighted


def average_linkage(dist: np.ndarray, cutoff: float) -> list[list[int]]:
    """Agglomerative clustering (UPGMA): merge the two closest clusters while their mean distance < cutoff.

    Average linkage, not single: one GPS-less photo that resembles both events must not chain them together.
    """
    n = dist.shape[0]
    clusters: list[list[int]] = [[i] for i in range(n)]
    d = dist.astype(np.float64).copy()
    np.fill_diagonal(d, np.inf)
    sizes = np.ones(n)
    alive = np.ones(n, dtype=bool)
    while alive.sum() > 1:
        masked = np.where(alive[:, None] & alive[None, :], d, np.inf)
        i, j = np.unravel_index(int(np.argmin(masked)), masked.shape)
        if masked[i, j] >= cutoff:
            break
        merged = (d[i] * sizes[i] + d[j] * sizes[j]) / (sizes[i] + sizes[j])
        d[i, :] = merged
        d[:, i] = merged
        d[i, i] = np.inf
        sizes[i] += sizes[j]
        alive[j] = False
        clusters[i].extend(clusters[j])
        clusters[j] = []
    return sorted((sorted(c) for c, a in zip(clusters, alive) if a), key=lambda c: c[0])


def without_evidence_merged(clusters: list[list[int]], photos: Sequence[Photo],
                            settings: Settings) -> list[list[int]]:
    """Clusters of looks, merged back where nothing but looks separates them.

    A split needs positive evidence of another event: a place (GPS far apart) or a gap in time. A cluster whose
    timed photos all lie inside another cluster's GPS track span (its located photos' capture times, widened by
    max_extrap_s) and whose own GPS, if any, is near that track, is the same outing seen differently (a
    photographer's telephoto details between the phone shots): it joins that cluster. A cluster with no timed
    photo, or outside the span (the next event 20 min later), stays apart.
    """
    if len(clusters) < 2:
        return clusters
    times = capture_times(photos)
    when = [times.get(p.id) for p in photos]
    fixes = [(p.meta.gps_latitude, p.meta.gps_longitude) if p.meta.has_gps else None for p in photos]

    def absorbs(a: list[int], b: list[int]) -> bool:
        """b lies inside a's track: every photo of b timed within a's located span, its GPS near a's fixes."""
        located = [when[i] for i in a if fixes[i] is not None and when[i] is not None]
        timed = [when[i] for i in b if when[i] is not None]
        if not located or not timed or len(timed) < len(b):
            return False
        lo, hi = min(located) - settings.max_extrap_s, max(located) + settings.max_extrap_s
        track = [fixes[i] for i in a if fixes[i] is not None]
        return all(lo <= t <= hi for t in timed) and not any(
            fixes[i] is not None and min(distance_m(*fixes[i], *g) for g in track) > settings.conflict_gps_m
            for i in b)

    clusters = [list(c) for c in clusters]
    while pair := next(((a, b) for a in range(len(clusters)) for b in range(len(clusters))
                        if a != b and absorbs(clusters[a], clusters[b])), None):
        a, b = pair
        clusters[a] = sorted(clusters[a] + clusters[b])
        del clusters[b]
    return sorted(clusters, key=lambda c: c[0])


# -- the local analyzer --------------------------------------------------------------------------------------------
class LocalAnalyzer:
    """Colour distribution and layout in CIELAB, exposure value, sun elevation, pHash. Deterministic and offline."""

    name = LOCAL

    def __init__(self, settings: Settings, cache: SceneCache | None = None) -> None:
        self.settings = settings
        self.cache = cache
        self.computed = 0  # images decoded by this analyzer (tests assert a rescan decodes none)
        self._memo: dict[tuple[str, str | None], dict[str, Any]] = {}  # a split part is judged again in one run

    def _pixel_features(self, photos: Sequence[Photo]) -> dict[str, dict[str, Any]]:
        """path -> pixel features: from this run's memo, else the index cache (by content hash; the scan fills it
        while hashing), else decoded here."""
        todo = [p for p in photos if (p.path, p.content_hash) not in self._memo]
        keyed = {p.path: p.content_hash for p in todo if p.content_hash}
        cached = self.cache.scene_cache_get(self.name, set(keyed.values())) if (self.cache and keyed) else {}
        fresh: dict[str, dict[str, Any]] = {}
        for p in todo:
            hit = cached.get(keyed.get(p.path, ""))
            if hit is not None and hit.get("v") == FEATURES_VERSION:
                self._memo[p.path, p.content_hash] = hit
                continue
            try:
                px = pixel_features(_thumbnail_rgb(p.path))
            except Exception as exc:  # noqa: BLE001 - one unreadable image must not stop the analysis
                log.warning("scene: cannot read %s (%s); judged by metadata only", p.path, exc)
                continue
            self.computed += 1
            self._memo[p.path, p.content_hash] = px
            if p.content_hash:
                fresh[p.content_hash] = px
        if fresh and self.cache is not None:
            self.cache.scene_cache_put(self.name, fresh)
        return {p.path: self._memo[p.path, p.content_hash] for p in photos if (p.path, p.content_hash) in self._memo}

    def describe(self, photos: Sequence[Photo]) -> dict[str, Descriptor]:
        pixels = self._pixel_features(photos)
        empty = {"histogram": [], "layout": [], "brightness": None, "green": 0.0, "blue": 0.0, "warm": 0.0,
                 "sky_top": 0.0}
        out = {}
        for p in photos:
            px = pixels.get(p.path)
            if px is None:
                desc = build_descriptor(p, {**empty, "brightness": 50.0}, self.name)
                desc = replace(desc, brightness=None, subject=None)
            else:
                desc = build_descriptor(p, px, self.name)
            out[p.path] = desc
        return out

    def same_event(self, photos: Sequence[Photo]) -> Verdict:
        photos = list(photos)
        if len(photos) < 2:
            return Verdict(True, 1.0, self.name, ("a single photo",), (tuple(p.path for p in photos),))
        if len(photos) > _MAX_SPLIT_MEMBERS:  # judge a spread sample; splitting that many is left to the user
            step = len(photos) / _MAX_SPLIT_MEMBERS
            photos = [photos[int(i * step)] for i in range(_MAX_SPLIT_MEMBERS)]
            sampled = True
        else:
            sampled = False
        dist, cues = distance_matrix(photos, self.describe(photos), self.settings)
        clusters = [list(range(len(photos)))] if sampled else average_linkage(dist, SPLIT_DISTANCE)
        looks = len(clusters)
        clusters = without_evidence_merged(clusters, photos, self.settings)
        spread = float(dist[np.triu_indices(len(photos), 1)].mean())
        paths = tuple(tuple(photos[i].path for i in c) for c in clusters)
        if len(clusters) == 1 and looks > 1:
            # the pictures differ, but nothing says another event: doubt, not a split
            conf = max(0.0, min(1.0, spread / SPLIT_DISTANCE - 0.5))
            return Verdict(False, round(conf, 3), self.name,
                           (f"scene varies (mean distance {spread:.2f}), but the photos lie inside one track's "
                            f"time span: kept together",), paths)
        if len(clusters) == 1:
            # confident when well below the cut-off, unsure near it
            conf = max(0.0, min(1.0, 1.0 - spread / SPLIT_DISTANCE))
            return Verdict(True, round(conf, 3), self.name,
                           (f"scene consistent (mean distance {spread:.2f})",), () if sampled else paths)
        mean_between = float(np.mean([dist[np.ix_(ca, cb)].mean() for x, ca in enumerate(clusters)
                                      for cb in clusters[x + 1:]]))
        conf = max(0.0, min(1.0, (mean_between - SPLIT_DISTANCE) / (1.0 - SPLIT_DISTANCE) + 0.5))
        a, b = clusters[0], clusters[1]
        block = dist[np.ix_(a, b)]
        i, j = (int(k) for k in np.unravel_index(int(np.argmin(block)), block.shape))
        cue = max(cues, key=lambda k: cues[k][a[i], b[j]])
        reason = (f"scene splits into {len(clusters)} sets (mean distance between {mean_between:.2f}; "
                  f"closest pair {photos[a[i]].name} / {photos[b[j]].name} differs most in {cue})")
        return Verdict(False, round(conf, 3), self.name, (reason,), paths)
