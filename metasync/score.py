"""Why two photos belong together: named evidence components, their weights, one confidence, readable reasons.

Detection and planning both ask the same question ("how sure are we that these two are the same event, and why?"),
so the answer lives here once. Each component is a strength in [0, 1] already multiplied by its weight; they combine
like independent witnesses (noisy-OR: 1 - prod(1 - s)), so more agreeing evidence always raises the confidence.
Contradicting evidence (GPS far apart, capture times far apart) lowers or breaks the link.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import timezone
from typing import Iterable

from .config import Settings
from .models import Metadata, Photo, band
from .timeutil import format_duration, parse_local, parse_offset
from .track import distance_m

__all__ = ["WEIGHTS", "Score", "score_pair", "capture_times", "source_priority", "band"]

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
        other = self.b.rsplit("/", 1)[-1]
        parts = []
        if self.dt_s is None:
            parts.append(f"like {other} (no common capture time)")
        elif abs(self.dt_s) < 1:
            parts.append(f"same time as {other}")
        else:
            gap = abs(self.dt_s)
            gap = round(gap / 60) * 60 if gap >= 60 else gap
            parts.append(f"{format_duration(gap)} {'after' if self.dt_s > 0 else 'before'} {other}")
        if self.distance_m is not None:
            d = self.distance_m
            parts.append(f"{d:.0f} m away" if d < 1000 else f"{d / 1000:.1f} km away")
        if self.phash_distance is not None and self.similar:
            parts.append(f"pHash distance {self.phash_distance}" + (" (same shot)" if self.same_shot else ""))
        if self.same_folder:
            parts.append("same folder")
        return ", ".join(parts)


def _related_folders(a: str, b: str) -> bool:
    """Same folder, or one inside the other (paths compared by their folder part)."""
    fa, fb = a.rpartition("/")[0], b.rpartition("/")[0]
    return fa == fb or fa.startswith(fb + "/") or fb.startswith(fa + "/")


def _may_be_copies(ma: Metadata, mb: Metadata, dist: float | None) -> bool:
    """Near-identical pixels mean "the same shot" only when the files' identities agree: two camera originals
    (both with make/model) are two shots, and a copy keeps the GPS it had."""
    if (ma.make or ma.model) and (mb.make or mb.model):
        return False
    return dist is None or dist <= SAME_SHOT_GPS_M


def score_pair(a: Photo, b: Photo, ta: float | None, tb: float | None, settings: Settings) -> Score:
    """Score the link a-b from their UTC capture times (see capture_times) and metadata; confidence 0 = no link.

    Called for every candidate pair of a library, so it is written for speed (plain attribute access).
    """
    ma, mb = a.meta, b.meta
    comp: dict[str, float] = {}
    factor = 1.0
    dt = ta - tb if ta is not None and tb is not None else None
    dist = None
    gps_conflict = False
    if ma.gps_latitude is not None and ma.gps_longitude is not None and mb.gps_latitude is not None \
            and mb.gps_longitude is not None:
        dist = distance_m(ma.gps_latitude, ma.gps_longitude, mb.gps_latitude, mb.gps_longitude)
        if dist <= settings.gps_radius_m:
            comp["distance"] = WEIGHTS["distance"] * (1.0 - dist / settings.gps_radius_m)
        elif dist > settings.conflict_gps_m:
            gps_conflict = True
        else:
            factor = NEAR_GPS_FACTOR
    hd = (a.phash ^ b.phash).bit_count() if a.phash is not None and b.phash is not None else None
    same_shot = hd is not None and hd <= settings.phash_same_shot and _may_be_copies(ma, mb, dist)
    similar = hd is not None and hd <= settings.phash_similar
    if same_shot:
        comp["same_shot"] = WEIGHTS["same_shot"] * (1.0 - 0.05 * hd / max(settings.phash_same_shot, 1))
    elif similar:
        span = settings.phash_similar - settings.phash_same_shot + 1
        comp["visual"] = WEIGHTS["visual"] * (1.0 - max(0, hd - settings.phash_same_shot) / span)
    if dt is not None:
        if -settings.time_window_s <= dt <= settings.time_window_s:
            comp["time"] = WEIGHTS["time"] * (1.0 - abs(dt) / settings.time_window_s)
        elif not (same_shot or similar and abs(dt) <= VISUAL_REACH * settings.time_window_s):
            factor = 0.0  # another occasion; a same-shot copy with a wrong clock still links
    if gps_conflict and not similar:
        factor = 0.0
    elif gps_conflict:
        factor *= FAR_GPS_FACTOR
    related = _related_folders(a.path, b.path)
    conf = 0.0
    if comp:
        if related:
            comp["folder"] = WEIGHTS["folder"]
        miss = 1.0
        for v in comp.values():
            miss *= 1.0 - v
        conf = (1.0 - miss) * factor
    return Score(a.path, b.path, comp, conf, dt, dist, hd, related, same_shot, similar, gps_conflict)


def capture_times(photos: Iterable[Photo]) -> dict[int, float]:
    """UTC capture time per photo id, for photos that have one.

    A photo without an offset is read as local time of the photos around it: it takes the offset of the photo
    with a known offset nearest to it by wall clock (within OFFSET_REACH_S), else UTC.
    """
    parsed: list[tuple[int, float, float | None]] = []  # (id, wall clock read as UTC, offset seconds)
    for p in photos:
        dt = parse_local(p.meta.datetime_original)
        if dt is None:
            continue
        off = dt.utcoffset() if dt.tzinfo is not None else parse_offset(p.meta.offset_time)
        wall = dt.replace(tzinfo=timezone.utc).timestamp()
        parsed.append((p.id, wall, off.total_seconds() if off is not None else None))
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
    """The seed's source priority: GPS + EXIF (3) > GPS only (2) > EXIF only (1) > AI-detected or nothing (0)."""
    m = photo.meta
    return (2 if m.has_gps else 0) + (1 if m.has_exif else 0)
