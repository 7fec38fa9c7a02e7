"""Same-moment pairs: a camera photo and a reference shot that may show the same moment, and how closely such
pairs agree.

Two kinds: near-identical pictures (pHash), and, for a camera that geotags its photos, the moment the references'
GPS track (their photos' fixes, interpolated) passed where the camera was. Each look-alike pair also carries its
rank in likeness among its camera photo's candidates: the evidence that tells a same-moment shot from the other
shots of its scene.
"""
from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence, TypeVar

from ...config import Settings
from ...models import Metadata, Photo
from ...timeutil import has_known_offset, offset_of, utc_epoch, wall_epoch
from ...track import FixGrid, passages

T = TypeVar("T")

# Same-moment pairs of one camera are sought in a cluster this wide on either side of its median...
AGREE_S = 120.0
# ...and within it agree to 3 scaled MADs of their differences, never tighter than this.
TOLERANCE_S = 15.0
# Camera clocks count whole seconds: two differences this close are indistinguishable.
RESOLUTION_S = 2.0
# A geotagged camera photo and the references' track are "together" when the track passed this close.
PLACE_MATCH_M = 30.0


def most_common(values: Iterable[T | None]) -> T | None:
    """The value most of `values` are (None counts for nothing), ties to the smallest."""
    votes = Counter(v for v in values if v is not None)
    return min(votes, key=lambda v: (-votes[v], v)) if votes else None


def tolerance(mad: float) -> float:
    """How far a pair may lie from its cluster's median: 3 scaled MADs, never tighter than TOLERANCE_S."""
    return max(3 * 1.4826 * mad, TOLERANCE_S)


def agreement_width(kept: Sequence[ClockPair]) -> float:
    """How tightly the kept pairs agree: their differences' range, at the clocks' resolution."""
    return max(p.diff_s for p in kept) - min(p.diff_s for p in kept) + RESOLUTION_S


@dataclass(frozen=True)
class ClockPair:
    """A camera photo and a reference shot of the same moment: alike (`hamming`), or placed together by the
    references' track (`metres` between the camera's position and the track; the reference is the nearer fix)."""

    camera_path: str
    reference_path: str
    reference_id: int
    diff_s: float  # reference clock minus camera clock
    hamming: int | None
    metres: float | None = None
    reference_offset: str | None = None  # the offset the reference photo was taken in
    alike: float | None = None  # rank among the camera photo's candidates: 0 the most alike, 1 the least
    peers: int = 0  # how many other candidates that rank was among (0: no rank)

    @property
    def unlikeness(self) -> int:
        """Tie-breaker between pairs: pHash distance (a track pair counts as alike)."""
        return self.hamming or 0


def comparison_clock(meta: Metadata, both_offsets: bool) -> float | None:
    return utc_epoch(meta) if both_offsets else wall_epoch(meta)


def candidate_pairs(session: list[Photo], refs: list[Photo], ref_walls: list[float],
                     settings: Settings) -> dict[str, list[ClockPair]]:
    """Per camera photo, every similar-looking reference shot within the search window (the time structure, not
    the closest look, tells which one was taken at the same moment)."""
    out: dict[str, list[ClockPair]] = {}
    for cam in session:
        if cam.phash is None:
            continue
        wall = wall_epoch(cam.meta)
        lo = bisect.bisect_left(ref_walls, wall - settings.clock_search_s)
        hi = bisect.bisect_right(ref_walls, wall + settings.clock_search_s)
        pairs, alike = [], []
        for r in refs[lo:hi]:
            h = (cam.phash ^ r.phash).bit_count()
            if h > settings.phash_similar:
                continue
            both = has_known_offset(cam.meta) and has_known_offset(r.meta)
            t_ref, t_cam = comparison_clock(r.meta, both), comparison_clock(cam.meta, both)
            pairs.append(ClockPair(cam.path, r.path, r.id, t_ref - t_cam, h, reference_offset=offset_of(r.meta)))
            alike.append(r)
        if pairs:
            out[cam.path] = _ranked(cam, pairs, alike)
    return out


def _ranked(cam: Photo, pairs: list[ClockPair], refs: list[Photo]) -> list[ClockPair]:
    """The pairs (with `refs`, their reference photos), each with its rank in likeness among the photo's
    candidates (mid-ranks for ties).

    Every shot of one scene looks alike, and how alike depends on the scene: a distance alone does not tell the
    same moment (on the generated trips twins and look-alikes are as far apart, by pHash or detail hash: AUC
    0.50). Within one photo's candidates the scene is the same, and the shot of the same moment is the most alike
    more often than chance would make it (rank by detail hash: AUC 0.71, by pHash 0.65)."""
    if len(pairs) < 2:
        return pairs
    detailed = cam.detail_hash is not None and all(r.detail_hash is not None for r in refs)
    dist = [(cam.detail_hash ^ r.detail_hash).bit_count() if detailed else p.hamming for p, r in zip(pairs, refs)]
    n = len(pairs) - 1
    return [replace(p, alike=(sum(e < d for e in dist) + 0.5 * (sum(e == d for e in dist) - 1)) / n, peers=n)
            for p, d in zip(pairs, dist)]


def place_pairs(session: list[Photo], grids: Mapping[bool, FixGrid], located: Mapping[str, Photo],
                 settings: Settings) -> dict[str, list[ClockPair]]:
    """Per geotagged camera photo, every moment within the search window that the references' track passed
    within PLACE_MATCH_M of where it was taken. A track that lingered (a party, a slow stroll) places a moment
    too loosely to tell a clock's error: such passages are left out."""
    out: dict[str, list[ClockPair]] = {}
    for cam in session:
        if not cam.meta.has_gps:
            continue
        both = has_known_offset(cam.meta)
        t_cam = comparison_clock(cam.meta, both)
        window = (t_cam - settings.clock_search_s, t_cam + settings.clock_search_s)
        pairs = [ClockPair(cam.path, p.fix.source, located[p.fix.source].id, p.utc - t_cam, None, round(p.metres, 1),
                           offset_of(located[p.fix.source].meta))
                 for p in passages(grids[both], cam.meta.gps_latitude, cam.meta.gps_longitude, PLACE_MATCH_M,
                                   settings, window)
                 if p.blur_s <= AGREE_S]
        if pairs:
            out[cam.path] = pairs
    return out
