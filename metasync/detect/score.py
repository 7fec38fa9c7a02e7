"""Why two photos belong together: named evidence components, their weights, one confidence, readable reasons.

Detection and planning both ask the same question ("how sure are we that these two are the same event, and why?"),
so the answer lives here once. Each component is a strength in [0, 1] already multiplied by its weight; they combine
like independent witnesses (noisy-OR: 1 - prod(1 - s)), so more agreeing evidence always raises the confidence.
Contradicting evidence (GPS far apart, capture times far apart) lowers or breaks the link.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ..config import Settings
from ..models import Photo, band
from ..timeutil import clock_reading, format_duration, offset_seconds
from ..track import EARTH_RADIUS_M

__all__ = ["WEIGHTS", "Score", "PairScores", "score_pair", "describe", "haversine", "capture_times", "source_priority", "band"]

# Highest strength each component can contribute (at zero time gap, zero distance, identical pHash).
WEIGHTS: dict[str, float] = {
    "time": 0.75,  # captured within the time window
    "distance": 0.7,  # within the GPS radius
    "same_shot": 0.95,  # pHash distance <= phash_same_shot: a resized/re-encoded copy
    "visual": 0.6,  # pHash distance <= phash_similar
    "folder": 0.25,  # same folder or parent/child: only strengthens other evidence
}
# A GPS disagreement beyond the conflict distance keeps a visually supported link, at this fraction.
FAR_GPS_FACTOR = 0.4
# GPS between the radius and the conflict distance: no support, a mild doubt.
NEAR_GPS_FACTOR = 0.85
# Similar images (not the same shot) still link up to this many time windows apart: the same scene revisited
# within the hour is one outing; the time component is then zero and the images carry the link.
VISUAL_REACH = 2.0
# A copy keeps the GPS it had: near-identical pixels farther apart than this are two shots of one view.
SAME_SHOT_GPS_M = 2.0
# A planned change in dispute (sources disagree) is proposed at this fraction of its confidence.
CONFLICT_FACTOR = 0.5
# Naive times take the offset of the nearest photo (by wall clock) that has one, at most this far away.
OFFSET_REACH_S = 12 * 3600.0


@dataclass(slots=True)
class Score:
    """The evidence linking photo `a` to photo `b` (dt_s = a - b; positive means a was taken after b)."""

    a: str
    b: str
    components: dict[str, float]
    confidence: float
    dt_s: float | None
    distance_m: float | None
    phash_distance: int | None
    same_folder: bool
    same_shot: bool
    similar: bool
    gps_conflict: bool

    @property
    def band(self) -> str:
        return band(self.confidence)

    def reasons(self) -> str:
        """Human text from a's point of view: "2 min after IMG_0412.HEIC, 38 m away, pHash distance 6"."""
        return describe(self.b, self.dt_s, self.distance_m, self.phash_distance, self.similar, self.same_shot,
                        self.same_folder)


def describe(other: str, dt_s: float | None, distance_m: float | None, phash_distance: int | None, similar: bool,
             same_shot: bool, same_folder: bool) -> str:
    """The evidence linking a photo to `other` (a path) in words; Score.reasons, for callers holding columns."""
    other = other.rsplit("/", 1)[-1]
    parts = []
    if dt_s is None:
        parts.append(f"like {other} (no common capture time)")
    elif abs(dt_s) < 1:
        parts.append(f"same time as {other}")
    else:
        gap = abs(dt_s)
        gap = round(gap / 60) * 60 if gap >= 60 else gap
        parts.append(f"{format_duration(gap)} {'after' if dt_s > 0 else 'before'} {other}")
    if distance_m is not None:
        d = distance_m
        parts.append(f"{d:.0f} m away" if d < 1000 else f"{d / 1000:.1f} km away")
    if phash_distance is not None and similar:
        parts.append(f"pHash distance {phash_distance}" + (" (same shot)" if same_shot else ""))
    if same_folder:
        parts.append("same folder")
    return ", ".join(parts)


class PairScores:
    """Scores of many pairs (i[k], j[k]) of one photo list, computed column-wise with numpy.

    Detection scores hundreds of thousands of candidate pairs and a plan every target against every source; both
    go through here, so the rules exist once. `score(k)` gives one pair's explainable Score.
    """

    def __init__(self, photos: Sequence[Photo], when: Sequence[float | None], i: Iterable[int], j: Iterable[int],
                 settings: Settings) -> None:
        self.photos = photos
        self.i = np.fromiter(i, dtype=np.intp)
        self.j = np.fromiter(j, dtype=np.intp)
        i, j = self.i, self.j
        col = _columns(photos, when)
        w = settings.time_window_s
        with np.errstate(invalid="ignore"):
            self.dt = col["t"][i] - col["t"][j]  # nan: a time is unknown
            has_gps = col["gps"][i] & col["gps"][j]
            self.dist = np.where(has_gps, haversine(col["lat"][i], col["lon"][i], col["lat"][j], col["lon"][j]),
                                 np.nan)
            near = has_gps & (self.dist <= settings.gps_radius_m)
            self.gps_conflict = has_gps & (self.dist > settings.conflict_gps_m)
            has_hash = col["hashed"][i] & col["hashed"][j]
            self.hd = np.where(has_hash, np.bitwise_count(col["phash"][i] ^ col["phash"][j]), 99).astype(np.int64)
            # near-identical pixels are one shot only when identities agree: two camera originals are two shots,
            # and a copy keeps the GPS it had
            copies = ~(col["camera"][i] & col["camera"][j]) & (~has_gps | (self.dist <= SAME_SHOT_GPS_M))
            self.same_shot = (self.hd <= settings.phash_same_shot) & copies
            self.similar = self.hd <= settings.phash_similar
            gap = np.abs(self.dt)
            timed = ~np.isnan(self.dt)
            within = timed & (gap <= w)
            span = settings.phash_similar - settings.phash_same_shot + 1
            comp = {
                "time": np.where(within, WEIGHTS["time"] * (1.0 - gap / w), 0.0),
                "distance": np.where(near, WEIGHTS["distance"] * (1.0 - self.dist / settings.gps_radius_m), 0.0),
                "same_shot": np.where(self.same_shot, WEIGHTS["same_shot"] * (
                    1.0 - 0.05 * self.hd / max(settings.phash_same_shot, 1)), 0.0),
                "visual": np.where(self.similar & ~self.same_shot, WEIGHTS["visual"] * (
                    1.0 - np.maximum(0, self.hd - settings.phash_same_shot) / span), 0.0),
            }
        linked = np.logical_or.reduce([c > 0 for c in comp.values()])
        self.related = _related(photos, i, j)
        comp["folder"] = np.where(linked & self.related, WEIGHTS["folder"], 0.0)
        self.components = comp
        factor = np.where(has_gps & ~near & ~self.gps_conflict, NEAR_GPS_FACTOR, 1.0)
        factor = np.where(self.gps_conflict & self.similar, factor * FAR_GPS_FACTOR, factor)
        # another occasion (a same-shot copy with a wrong clock, or similar images within reach, still link),
        # or another place without images to say otherwise
        broken = timed & ~within & ~(self.same_shot | self.similar & (gap <= VISUAL_REACH * w))
        broken |= self.gps_conflict & ~self.similar
        miss = np.prod([1.0 - c for c in comp.values()], axis=0)
        self.confidence = np.where(linked & ~broken, (1.0 - miss) * factor, 0.0)

    def __len__(self) -> int:
        return len(self.i)

    def score(self, k: int, flip: bool = False) -> Score:
        """Pair k as a Score from i's point of view (from j's with flip)."""
        return self.explain([k], [flip])[0]

    def explain(self, ks: Sequence[int], flips: Sequence[bool]) -> list[Score]:
        """Pairs ks as Scores (each from j's point of view where its flip is set), read from the columns at once."""
        at = np.asarray(ks, dtype=np.intp)
        cols = {n: c[at].tolist() for n, c in self._arrays().items()}
        return [self._score(cols, k, flip) for k, flip in enumerate(flips)]

    def lists(self, *names: str) -> dict[str, list]:
        """Columns by name (see _arrays) as Python lists: a plan reads every pair, and reading numpy arrays one
        element at a time was most of a plan's time."""
        arrays = self._arrays()
        return {n: arrays[n].tolist() for n in names}

    def _arrays(self) -> dict[str, np.ndarray]:
        """The columns by name: pair attributes, then evidence components ("c_" + name)."""
        cols = {"i": self.i, "j": self.j, "dt": self.dt, "dist": self.dist, "hd": self.hd,
                "confidence": self.confidence, "related": self.related, "same_shot": self.same_shot,
                "similar": self.similar, "gps_conflict": self.gps_conflict}
        return cols | {"c_" + n: c for n, c in self.components.items()}

    def _score(self, cols: dict[str, list], k: int, flip: bool = False) -> Score:
        dt, dist, hd = cols["dt"][k], cols["dist"][k], cols["hd"][k]
        a, b = self.photos[cols["i"][k]].path, self.photos[cols["j"][k]].path
        dt = None if dt != dt else dt  # nan != nan
        if flip:
            a, b, dt = b, a, None if dt is None else -dt
        parts = {n: cols["c_" + n][k] for n in self.components}
        return Score(a, b, {n: v for n, v in parts.items() if v > 0}, cols["confidence"][k], dt,
                     None if dist != dist else dist, None if hd == 99 else hd, cols["related"][k],
                     cols["same_shot"][k], cols["similar"][k], cols["gps_conflict"][k])


def _columns(photos: Sequence[Photo], when: Sequence[float | None]) -> dict[str, np.ndarray]:
    metas = [p.meta for p in photos]
    gps = np.array([m.gps_latitude is not None and m.gps_longitude is not None for m in metas], dtype=bool)
    return {
        "t": np.array([np.nan if t is None else t for t in when], dtype=float),
        "gps": gps,
        "lat": np.array([m.gps_latitude if g else np.nan for m, g in zip(metas, gps)], dtype=float),
        "lon": np.array([m.gps_longitude if g else np.nan for m, g in zip(metas, gps)], dtype=float),
        "hashed": np.array([p.phash is not None for p in photos], dtype=bool),
        "phash": np.array([p.phash or 0 for p in photos], dtype=np.uint64),
        "camera": np.array([bool(m.make or m.model) for m in metas], dtype=bool),
    }


def haversine(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres, element-wise (track.distance_m for arrays)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def _related(photos: Sequence[Photo], i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Same folder, or one folder inside the other."""
    folder_of = [p.path.rpartition("/")[0] for p in photos]
    ids = {f: k for k, f in enumerate(dict.fromkeys(folder_of))}
    fid = np.array([ids[f] for f in folder_of], dtype=np.int64)
    n = len(ids)
    nested = []  # child * n + ancestor, for folders that both hold photos
    for f, k in ids.items():
        up = f.rpartition("/")[0]
        while up:
            if up in ids:
                nested.append(k * n + ids[up])
            up = up.rpartition("/")[0]
    a, b = fid[i], fid[j]
    if not nested:
        return a == b
    keys = np.array(nested, dtype=np.int64)
    return (a == b) | np.isin(a * n + b, keys) | np.isin(b * n + a, keys)


def score_pair(a: Photo, b: Photo, ta: float | None, tb: float | None, settings: Settings) -> Score:
    """One pair's Score from their UTC capture times (see capture_times); confidence 0 means no link."""
    return PairScores([a, b], [ta, tb], [0], [1], settings).score(0)


def capture_times(photos: Iterable[Photo]) -> dict[int, float]:
    """UTC capture time per photo id, for photos that have one.

    A photo without an offset is read as local time of the photos around it: it takes the offset of the photo
    with a known offset nearest to it by wall clock (within OFFSET_REACH_S), else UTC.
    """
    parsed: list[tuple[int, float, float | None]] = []  # (id, wall clock read as UTC, offset seconds)
    for p in photos:
        reading = clock_reading(p.meta.datetime_original)
        if reading is None:
            continue
        wall, off = reading
        parsed.append((p.id, wall, off if off is not None else offset_seconds(p.meta.offset_time)))
    known = sorted((wall, off) for _, wall, off in parsed if off is not None)
    walls = [k[0] for k in known]
    out: dict[int, float] = {}
    for pid, wall, off in parsed:
        if off is None and known:
            i = bisect.bisect_left(walls, wall)
            near = min((known[j] for j in (i - 1, i) if 0 <= j < len(known)), key=lambda k: abs(k[0] - wall))
            off = near[1] if abs(near[0] - wall) <= OFFSET_REACH_S else None
        out[pid] = wall - (off or 0.0)
    return out


def source_priority(photo: Photo) -> int:
    """Source priority, what a photo can give: GPS + EXIF (3) > GPS only (2) > EXIF only (1) > nothing (0)."""
    m = photo.meta
    return (2 if m.has_gps else 0) + (1 if m.has_exif else 0)
