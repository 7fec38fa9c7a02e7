"""Which photos belong to one event: candidate pairs from indexes (never all pairs), scored links, clustering.

Candidates come from three cheap indexes: a sweep over capture times (each photo meets its next few neighbours
within reach: the time window, or two for similar images), multi-index hashing for pHash (same-shot copies anywhere; visually similar photos for
photos without a capture time) and a 3-D grid for GPS (photos without a capture time). Each candidate pair is
scored by score.py; links are then merged strongest first (Kruskal-style) into groups, refusing a merge that would
put photos with GPS far apart into one group, unless a visual link insists and nobody could have travelled between
those places in the time between the photos (then a GPS is wrong: the group is marked as conflicted and its
confidence drops).
"""
from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import replace
from itertools import combinations
from statistics import fmean
from typing import Iterable, Iterator

import numpy as np

from ..config import Settings
from ..gcpause import collector_paused
from ..models import EventEvidence, Group, GroupMember, Photo
from ..track import EARTH_RADIUS_M, distance_m
from .score import VISUAL_REACH, PairScores, capture_times, source_priority

log = logging.getLogger(__name__)

# Each photo is compared with at most this many neighbours per index (nearest first); chains do the rest.
MAX_NEIGHBOURS = 6
# A group whose photos' GPS disagree (joined only by visual evidence) keeps this fraction of its confidence.
CONFLICT_FACTOR = 0.5
# Reasons listed per group (one per target, best link first).
MAX_REASONS = 12

_OFFSETS = [(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1)]


def gps_cell(lat: float, lon: float, size_m: float) -> tuple[int, int, int]:
    """Cube of `size_m` containing the point on the earth's surface (3-D, so no trouble at poles or the date line).

    Points in non-adjacent cells are more than size_m apart.
    """
    p, lam = math.radians(lat), math.radians(lon)
    s = EARTH_RADIUS_M / size_m
    return (math.floor(math.cos(p) * math.cos(lam) * s), math.floor(math.cos(p) * math.sin(lam) * s),
            math.floor(math.sin(p) * s))


def _adjacent(cell: tuple[int, int, int]) -> Iterator[tuple[int, int, int]]:
    x, y, z = cell
    for dx, dy, dz in _OFFSETS:
        yield (x + dx, y + dy, z + dz)


def distinct(a: np.ndarray) -> np.ndarray:
    """The distinct values of a 1-d array, sorted: np.unique by sorting. numpy 2.4's np.unique hashes instead and
    took 3.4 s for the 1.35 million candidate pairs of 100,000 photos, where sorting takes 0.05 s."""
    if len(a) == 0:
        return a
    s = np.sort(a)
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


class HammingIndex:
    """Multi-index hashing over 64-bit hashes (numpy): each hash is split into m chunks; if two hashes differ in at
    most r bits, some chunk differs in at most r // m bits, so only those chunk values are probed.

    With m = r + 1 (small radii) a match shares one chunk exactly, which also gives a vectorised self-join.
    """

    def __init__(self, hashes: list[int], radius: int, bits: int = 64) -> None:
        self.radius = radius
        self.hashes = np.array(hashes, dtype=np.uint64)
        m = radius + 1 if radius < 5 else 4  # small radii: exact chunk lookups; larger: 16-bit chunks
        widths = [bits // m + (1 if k < bits % m else 0) for k in range(m)]
        self.sub_radius = radius // m
        self.chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray, int, int]] = []
        shift = 0
        for w in widths:
            keys = (self.hashes >> np.uint64(shift)) & np.uint64((1 << w) - 1)
            order = np.argsort(keys, kind="stable")
            flips = np.array([sum(1 << b for b in bs) for r in range(self.sub_radius + 1)
                              for bs in combinations(range(w), r)], dtype=np.uint64)
            self.chunks.append((keys[order], order, flips, shift, w))
            shift += w

    def near(self, h: int) -> list[tuple[int, int]]:
        """(position, distance) of every stored hash within the radius of h, nearest first."""
        found = []
        for sorted_keys, order, flips, shift, w in self.chunks:
            probes = np.uint64((h >> shift) & ((1 << w) - 1)) ^ flips
            lo = np.searchsorted(sorted_keys, probes, "left")
            lens = np.searchsorted(sorted_keys, probes, "right") - lo
            total = int(lens.sum())
            if total:  # concatenate the ranges lo[k]:lo[k]+lens[k] without a Python loop
                starts = np.repeat(lo - np.cumsum(lens) + lens, lens)
                found.append(order[starts + np.arange(total)])
        if not found:
            return []
        cand = distinct(np.concatenate(found))
        dist = np.bitwise_count(self.hashes[cand] ^ np.uint64(h))
        keep = dist <= self.radius
        cand, dist = cand[keep], dist[keep]
        return [(int(c), int(d)) for d, c in sorted(zip(dist.tolist(), cand.tolist()))]

    def pairs(self, max_neighbours: int) -> np.ndarray:
        """Position pairs within the radius (rows; may repeat), each hash meeting at most max_neighbours others
        per chunk (a bucket of identical blank-image hashes must not explode). Needs an exact-chunk layout."""
        assert self.sub_radius == 0, "self-join needs m = radius + 1 chunks"
        found = np.concatenate([_sorted_neighbours(keys, order, np.equal, max_neighbours)
                                for keys, order, _, _, _ in self.chunks])
        return found[np.bitwise_count(self.hashes[found[:, 0]] ^ self.hashes[found[:, 1]]) <= self.radius]


def _sorted_neighbours(keys: np.ndarray, order: np.ndarray, near, max_neighbours: int) -> np.ndarray:
    """Rows (order[k], order[k + d]) for d = 1..max_neighbours where near(keys[k], keys[k + d]) holds; `keys` is
    sorted and `near` monotone in d, so the sweep stops at the first d where no pair is near."""
    out = [np.empty((0, 2), dtype=np.intp)]
    for d in range(1, min(max_neighbours, len(keys) - 1) + 1):
        ok = near(keys[:-d], keys[d:])
        if not ok.any():
            break
        out.append(np.stack([order[:-d][ok], order[d:][ok]], axis=1))
    return np.concatenate(out)


def candidate_pairs(photos: list[Photo], times: dict[int, float], settings: Settings) -> np.ndarray:
    """Unique position pairs (rows i < j of `photos`) worth scoring."""
    found: list[np.ndarray] = []
    # 1. time sweep: each photo meets the next few photos within reach (similar images reach further in time)
    reach = VISUAL_REACH * settings.time_window_s
    timed = np.array([i for i, p in enumerate(photos) if p.id in times], dtype=np.intp)
    t = np.array([times[photos[i].id] for i in timed], dtype=float)
    by_time = np.argsort(t, kind="stable")
    found.append(_sorted_neighbours(t[by_time], timed[by_time], lambda a, b: b - a <= reach, MAX_NEIGHBOURS))
    # 2. same-shot copies anywhere in time (a messenger copy carries the time it was received)
    hashed = np.array([i for i, p in enumerate(photos) if p.phash is not None], dtype=np.intp)
    hashes = [photos[i].phash for i in hashed]
    copies = hashed[HammingIndex(hashes, settings.phash_same_shot).pairs(MAX_NEIGHBOURS)]
    found.append(copies)
    # 3. photos without a capture time: visually similar photos (unless a same-shot copy already ties them to
    #    their original, which is the best link they can have), GPS neighbours
    extra: list[tuple[int, int]] = []
    timeless = [i for i, p in enumerate(photos) if p.id not in times]
    tied = set(copies.ravel().tolist())
    lonely = [i for i in timeless if photos[i].phash is not None and i not in tied]
    if lonely:
        similar = HammingIndex(hashes, settings.phash_similar)
        for i in lonely:
            extra += [(i, int(hashed[k])) for k, _ in similar.near(photos[i].phash)[:MAX_NEIGHBOURS + 1]]
    if any(photos[i].meta.has_gps for i in timeless):
        grid: dict[tuple[int, int, int], list[int]] = defaultdict(list)
        for i, p in enumerate(photos):
            if p.meta.has_gps:
                grid[gps_cell(p.meta.gps_latitude, p.meta.gps_longitude, settings.gps_radius_m)].append(i)
        for i in timeless:
            m = photos[i].meta
            if not m.has_gps:
                continue
            near = [j for c in _adjacent(gps_cell(m.gps_latitude, m.gps_longitude, settings.gps_radius_m))
                    for j in grid.get(c, ())]
            near.sort(key=lambda j: distance_m(m.gps_latitude, m.gps_longitude,
                                               photos[j].meta.gps_latitude, photos[j].meta.gps_longitude))
            extra += [(i, j) for j in near[:MAX_NEIGHBOURS + 1]]
    found.append(np.array(extra, dtype=np.intp).reshape(-1, 2))
    rows = np.concatenate(found)
    lo, hi = np.minimum(rows[:, 0], rows[:, 1]), np.maximum(rows[:, 0], rows[:, 1])
    n = max(len(photos), 1)
    keys = distinct((lo * n + hi)[lo != hi])
    return np.stack([keys // n, keys % n], axis=1)


class _Clusters:
    """Union-find that keeps, per cluster, its photos' GPS cells and fixes, and whether GPS had to be overruled.

    Two clusters whose GPS positions are far apart (non-adjacent cells of the conflict distance) stay apart: they
    are two places. Only a visual link may join them, and only when no pair of their fixes could be travelled
    between in the time between them (faster than max_speed_mps): then one GPS is wrong, and the group says so.
    """

    def __init__(self, photos: list[Photo], times: dict[int, float], settings: Settings) -> None:
        self.parent = list(range(len(photos)))
        self.max_speed = settings.max_speed_mps
        self.cells: dict[int, set[tuple[int, int, int]]] = {}
        self.fixes: dict[int, list[tuple[float | None, float, float]]] = {}
        for i, p in enumerate(photos):
            if p.meta.has_gps:
                lat, lon = p.meta.gps_latitude, p.meta.gps_longitude
                self.cells[i] = {gps_cell(lat, lon, settings.conflict_gps_m)}
                self.fixes[i] = [(times.get(p.id), lat, lon)]
        self.conflicted: set[int] = set()

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def _apart(self, a: int, b: int) -> bool:
        ca, cb = self.cells.get(a), self.cells.get(b)
        if not ca or not cb:
            return False
        if not ca.isdisjoint(cb):
            return False
        small, big = (ca, cb) if len(ca) <= len(cb) else (cb, ca)
        return not any(n in big for c in small for n in _adjacent(c))

    def _travel_possible(self, a: int, b: int) -> bool:
        for ta, lat1, lon1 in self.fixes[a]:
            for tb, lat2, lon2 in self.fixes[b]:
                if ta is None or tb is None:
                    return True
                if distance_m(lat1, lon1, lat2, lon2) <= self.max_speed * abs(ta - tb):
                    return True
        return False

    def link_all(self, links: Iterable[tuple[int, int, bool]]) -> None:
        """Join the clusters of i and j for every (i, j, visual), strongest first; most links join photos already
        together, so find() is inlined here."""
        parent = self.parent
        for i, j, visual in links:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            while parent[j] != j:
                parent[j] = parent[parent[j]]
                j = parent[j]
            if i != j:
                self._join(i, j, visual)

    def _join(self, a: int, b: int, visual: bool) -> None:
        """Merge the clusters of roots a and b, unless their GPS says they are two places (see the class)."""
        clash = self._apart(a, b)
        if clash and (not visual or self._travel_possible(a, b)):
            return
        if len(self.cells.get(a, ())) < len(self.cells.get(b, ())):
            a, b = b, a
        self.parent[b] = a
        if b in self.cells:
            self.cells.setdefault(a, set()).update(self.cells.pop(b))
            self.fixes.setdefault(a, []).extend(self.fixes.pop(b))
        if clash or b in self.conflicted:
            self.conflicted.add(a)
        self.conflicted.discard(b)


def detect_groups(photos: Iterable[Photo], settings: Settings) -> list[Group]:
    """Auto-detected event groups (id None) with confidence, reasons, and sources/targets by source priority.

    Photo ids must be unique (they are index row ids). Groups in which nobody can give anything are dropped.
    """
    with collector_paused():
        return _detect(photos, settings)


def _detect(photos: Iterable[Photo], settings: Settings) -> list[Group]:
    photos = [p for p in photos if p.error is None]
    times = capture_times(photos)
    pairs = candidate_pairs(photos, times, settings)
    scores = PairScores(photos, [times.get(p.id) for p in photos], pairs[:, 0], pairs[:, 1], settings)
    order = np.lexsort((scores.j, scores.i, -scores.confidence))  # strongest first, ties by position
    order = order[scores.confidence[order] > 0]
    clusters = _Clusters(photos, times, settings)
    clusters.link_all(zip(scores.i[order].tolist(), scores.j[order].tolist(), scores.similar[order].tolist()))
    root = np.array([clusters.find(i) for i in range(len(photos))], dtype=np.intp)
    inside = order[root[scores.i[order]] == root[scores.j[order]]]
    # each photo's best link inside its group is the first one it appears in (links are strongest first)
    ends = np.stack([scores.i[inside], scores.j[inside]], axis=1).ravel()
    linked, first = np.unique(ends, return_index=True)
    best = {int(p): (int(inside[f // 2]), bool(f % 2)) for p, f in zip(linked, first)}  # photo -> (link, flip)
    members: dict[int, list[int]] = defaultdict(list)
    for i in best:
        members[int(root[i])].append(i)
    made = [(idx, _make_group(photos, idx, best, scores, r in clusters.conflicted))
            for r, idx in ((r, sorted(idx)) for r, idx in members.items())]
    made = [(idx, g) for idx, g in made if g is not None]
    # each group explains its surest targets' links; the links are read from the columns in one batch
    shown = [_shown(photos, idx, g, best, scores) for idx, g in made]
    links = [best[i] for targets in shown for i in targets]
    words = iter(s.reasons() for s in scores.explain([k for k, _ in links], [flip for _, flip in links]))
    groups = [replace(g, reasons=(*g.reasons, *(f"{photos[i].name}: {next(words)}" for i in targets),
                                  *([f"... and {more} more"] if (more := len(g.targets) - len(targets)) > 0 else [])))
              for (_, g), targets in zip(made, shown)]
    groups.sort(key=lambda g: g.members[0].path)
    log.info("detected %d groups among %d photos (%d links)", len(groups), len(photos), len(order))
    return groups


def assign_roles(photos: list[Photo]) -> tuple[GroupMember, ...]:
    """Sources are the photos of the group's best source priority; the others are targets (they lack something
    a source can give). Sources first, then by path."""
    prio = {p.id: source_priority(p) for p in photos}
    top = max(prio.values(), default=0)
    members = [GroupMember(p.id, p.path, is_source=top > 0 and prio[p.id] == top, priority=prio[p.id])
               for p in photos]
    return tuple(sorted(members, key=lambda m: (not m.is_source, m.path)))


def _make_group(photos: list[Photo], idx: list[int], best: dict[int, tuple[int, bool]], scores: PairScores,
                conflicted: bool) -> Group | None:
    """The group of photos idx (None when nobody in it can give anything); its reasons so far name a GPS
    conflict only: the explained links are added in one batch for all groups."""
    members = assign_roles([photos[i] for i in idx])
    if not any(m.is_source for m in members) or all(m.is_source for m in members):
        return None
    confidence = fmean(float(scores.confidence[best[i][0]]) for i in idx) * (CONFLICT_FACTOR if conflicted else 1.0)
    return Group(id=None, members=members, confidence=round(min(1.0, max(0.0, confidence)), 4),
                 evidence=EventEvidence(gps_conflict=True) if conflicted else None,
                 reasons=(_gps_spread([photos[i] for i in idx]),) if conflicted else ())


def _shown(photos: list[Photo], idx: list[int], group: Group, best: dict[int, tuple[int, bool]],
           scores: PairScores) -> list[int]:
    """The targets whose links a group's reasons explain: the surest MAX_REASONS."""
    by_id = {photos[i].id: i for i in idx}
    targets = [by_id[m.photo_id] for m in group.members if not m.is_source]
    targets.sort(key=lambda i: -scores.confidence[best[i][0]])
    return targets[:MAX_REASONS]


def _gps_spread(photos: list[Photo]) -> str:
    """Reason text for a GPS conflict: the two photos farthest apart (two sweeps approximate the diameter)."""
    gps = [p for p in photos if p.meta.has_gps]

    def far(a: Photo) -> tuple[float, Photo]:
        return max(((distance_m(a.meta.gps_latitude, a.meta.gps_longitude, b.meta.gps_latitude,
                                b.meta.gps_longitude), b) for b in gps), key=lambda db: db[0])

    _, a = far(gps[0])
    d, b = far(a)
    where = f"{d / 1000:.0f} km" if d >= 10_000 else f"{d / 1000:.1f} km"
    return f"GPS disagrees: {a.name} and {b.name} are {where} apart; joined only by similar images"
