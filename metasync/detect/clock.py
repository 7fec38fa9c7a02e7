"""Camera clock offsets learnt from the user's own photos, and the "time shift" group that corrects them.

A phone sets its clock from the network; a camera keeps whatever it was set to (a forgotten DST change, a zone not
set, drift). When a camera and a phone shoot the same moment, the difference of their clocks is the camera's error.
Two kinds of pairs say "the same moment": near-identical pictures (pHash), and, for a camera that geotags its
photos, the moment the phones' GPS track (their photos' fixes, interpolated) passed where the camera was.

One match can be a coincidence (every photo of an event looks alike), so: candidates within a wide search window;
the centre where most camera photos agree to seconds; outliers beyond 3 scaled MADs of the median dropped; at
least MIN_PAIRS kept, and more of them, agreeing more tightly, than chance would line up (FALSE_ALARM). The
estimate is the median of the kept pairs, the spread their median absolute deviation. A camera's sessions are
judged together while they agree (one clock setting), apart where they do not (the clock was reset).
"""
from __future__ import annotations

import bisect
import logging
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Sequence

from ..config import Settings
from ..models import CameraKey, ClockEvidence, Group, GroupKind, GroupMember, Metadata, Photo, camera_key, camera_label
from ..timeutil import format_duration, has_known_offset, shift_datetime, utc_epoch, wall_epoch
from ..track import FixGrid, passages, photo_fixes

log = logging.getLogger(__name__)


MIN_PAIRS = 2
# Same-moment pairs of one camera are sought in a cluster this wide on either side of its median...
AGREE_S = 120.0
# ...and within it agree to 3 scaled MADs of their differences, never tighter than this.
TOLERANCE_S = 15.0
# Camera clocks count whole seconds: two differences this close are indistinguishable.
RESOLUTION_S = 2.0
# Offsets below this are not worth rewriting the capture times for.
MIN_SHIFT_S = 60.0
# Agreement that chance alone would show this often (or more) is no evidence of a wrong clock.
FALSE_ALARM = 0.05
# A camera unused for longer than this may have had its clock reset: each such session is estimated on its own
# unless its pairs centre on the same offset as the session before.
SESSION_GAP_S = 2 * 86400.0
# A geotagged camera photo and the references' track are "together" when the track passed this close...
PLACE_MATCH_M = 30.0
# ...looking at the track's stretches that start or end this close (fixes of a walk are a few hundred metres apart).
TRACK_REACH_M = 600.0


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

    @property
    def unlikeness(self) -> int:
        """Tie-breaker between pairs: pHash distance (a track pair counts as alike)."""
        return self.hamming or 0


@dataclass(frozen=True)
class ClockEstimate:
    """`shift_s` (whole seconds, as camera clocks count) added to the camera's clock gives the right time, for the
    photos in `photo_ids`."""

    camera_key: CameraKey
    camera: str  # "Canon EOS R6 #0123"
    shift_s: float
    spread_s: float  # median absolute deviation of the agreeing pairs
    pairs: tuple[ClockPair, ...]
    outliers: int  # camera photos whose matches disagreed with the cluster
    photo_ids: tuple[int, ...]
    paths: tuple[str, ...]
    times: tuple[str, ...]  # each photo's datetime_original as the camera wrote it

    @property
    def confidence(self) -> float:
        """More agreeing pairs and a tighter spread: 2 pairs ~0.7, 7 pairs with 14 s spread ~0.9."""
        by_pairs = 1.0 - 0.5 * 0.6 ** (len(self.pairs) - 1)
        return by_pairs / (1.0 + self.spread_s / 300.0)

    @property
    def text(self) -> str:
        n = len(self.pairs)
        placed = sum(p.metres is not None for p in self.pairs)
        by_track = f" ({placed} placed together by the GPS track)" if placed else ""
        return (f"{self.camera}: {format_duration(self.shift_s, signed=True)}, {n} matching pair{'s' * (n != 1)}"
                f"{by_track}, spread {format_duration(self.spread_s)}")


def _clock(meta: Metadata, both_offsets: bool) -> float | None:
    return utc_epoch(meta) if both_offsets else wall_epoch(meta)


def _sessions(photos: list[Photo], gap_s: float) -> list[list[Photo]]:
    """A camera's photos split where it was not used for longer than `gap_s` (a clock may be reset between trips)."""
    out: list[list[Photo]] = []
    last = None
    for p in sorted(photos, key=lambda p: wall_epoch(p.meta)):
        t = wall_epoch(p.meta)
        if last is None or t - last > gap_s:
            out.append([])
        out[-1].append(p)
        last = t
    return out


def _candidate_pairs(session: list[Photo], refs: list[Photo], ref_walls: list[float],
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
        pairs = []
        for r in refs[lo:hi]:
            h = (cam.phash ^ r.phash).bit_count()
            if h > settings.phash_similar:
                continue
            both = has_known_offset(cam.meta) and has_known_offset(r.meta)
            t_ref, t_cam = _clock(r.meta, both), _clock(cam.meta, both)
            pairs.append(ClockPair(cam.path, r.path, r.id, t_ref - t_cam, h))
        if pairs:
            out[cam.path] = pairs
    return out


def _place_pairs(session: list[Photo], grids: Mapping[bool, FixGrid], ids: Mapping[str, int],
                 settings: Settings) -> dict[str, list[ClockPair]]:
    """Per geotagged camera photo, every moment within the search window that the references' track passed
    within PLACE_MATCH_M of where it was taken. A track that lingered (a party, a slow stroll) places a moment
    too loosely to tell a clock's error: such passages are left out."""
    out: dict[str, list[ClockPair]] = {}
    for cam in session:
        if not cam.meta.has_gps:
            continue
        both = has_known_offset(cam.meta)
        t_cam = _clock(cam.meta, both)
        window = (t_cam - settings.clock_search_s, t_cam + settings.clock_search_s)
        pairs = [ClockPair(cam.path, p.fix.source, ids[p.fix.source], p.utc - t_cam, None, round(p.metres, 1))
                 for p in passages(grids[both], cam.meta.gps_latitude, cam.meta.gps_longitude, PLACE_MATCH_M,
                                   settings, window)
                 if p.blur_s <= AGREE_S]
        if pairs:
            out[cam.path] = pairs
    return out


def _centre(candidates: dict[str, list[ClockPair]]) -> float | None:
    """The clock difference most camera photos agree on, to seconds (None: no pairs).

    The density of distinct camera photos (a Gaussian kernel of TOLERANCE_S: same-moment pairs agree to
    seconds), then the most alike pairs (least total pHash distance). Regular shooting makes a decoy: the same
    photos paired with the phone's previous or next shot, one shooting interval off; those differences scatter by
    the variation of the interval, the true moments do not.
    """
    flat = sorted((p for ps in candidates.values() for p in ps), key=lambda p: p.diff_s)
    if not flat:
        return None
    diffs = [p.diff_s for p in flat]
    reach = 3 * TOLERANCE_S
    best_key, centre = (0.0, 0), flat[0].diff_s
    for c in diffs:
        weight: dict[str, tuple[float, int]] = {}
        for p in flat[bisect.bisect_left(diffs, c - reach):bisect.bisect_right(diffs, c + reach)]:
            w = (math.exp(-0.5 * ((p.diff_s - c) / TOLERANCE_S) ** 2), -p.unlikeness)
            weight[p.camera_path] = max(w, weight.get(p.camera_path, w))
        key = (round(sum(w for w, _ in weight.values()), 9), sum(h for _, h in weight.values()))
        if key > best_key:
            best_key, centre = key, c
    return centre


def _agreeing(candidates: dict[str, list[ClockPair]], centre: float) -> list[ClockPair]:
    """Each camera photo's pair nearest the centre, within AGREE_S."""
    chosen = []
    for ps in candidates.values():
        p = min(ps, key=lambda p: (abs(p.diff_s - centre), p.unlikeness))
        if abs(p.diff_s - centre) <= AGREE_S:
            chosen.append(p)
    return chosen


def _false_alarm(candidates: dict[str, list[ClockPair]], agreeing: int, width: float,
                 settings: Settings) -> float:
    """How likely chance alone lines up `agreeing` camera photos within `width` seconds (as closely as the kept
    pairs agree) anywhere the search looked.

    Photos of one scene all look alike, so each camera photo matches the reference shots of its whole event:
    its n differences spread over the event's duration (at least time_window_s), where one window catches one
    of them with probability n * width / spread. Where those stretches overlap, the sum of the probabilities is
    the expected count in a window, and a Poisson tail the chance of `agreeing` or more; summed over every
    window position (a union bound: the search picked the best one).
    """
    edges: list[tuple[float, float]] = []
    for pairs in candidates.values():
        diffs = [p.diff_s for p in pairs]
        spread = max(max(diffs) - min(diffs), settings.time_window_s) + width
        middle, p = (max(diffs) + min(diffs)) / 2, min(1.0, len(diffs) * width / spread)
        edges += [(middle - spread / 2, p), (middle + spread / 2, -p)]
    edges.sort()
    total, expected = 0.0, 0.0
    for (at, step), (nxt, _) in zip(edges, edges[1:]):
        expected = max(0.0, expected + step)
        if nxt > at and expected > 0:
            total += (nxt - at) / width * _poisson_tail(expected, agreeing)
    return min(1.0, total)


def _poisson_tail(mean: float, k: int) -> float:
    """P(X >= k) for X ~ Poisson(mean), mean > 0."""
    term = math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1))
    tail, j = 0.0, k
    while term > 1e-12 * (tail or 1.0) and j < k + 500:
        tail += term
        j += 1
        term *= mean / j
    return tail


def _robust(pairs: list[ClockPair]) -> tuple[float, float, list[ClockPair]]:
    """(median, spread, kept pairs) of one cluster of clock differences.

    Pairs further from the median than 3 scaled MADs (never tighter than TOLERANCE_S) are outliers: a camera shot
    taken on its own a minute or more from any phone shot, paired with the nearest lookalike. Dropping them moves
    the median, so this repeats until the kept set is stable. The spread is the MAD of what is kept.
    """
    keep = pairs
    for _ in range(5):
        med = statistics.median(p.diff_s for p in keep)
        mad = statistics.median(abs(p.diff_s - med) for p in keep)
        tol = max(3 * 1.4826 * mad, TOLERANCE_S)
        kept = [p for p in pairs if abs(p.diff_s - med) <= tol]
        if not kept or kept == keep:
            break
        keep = kept
    med = statistics.median(p.diff_s for p in keep)
    return med, statistics.median(abs(p.diff_s - med) for p in keep), keep


def _references(by_camera: Mapping[CameraKey, list[Photo]]) -> set[CameraKey]:
    """The devices whose clocks the others are compared with.

    A device that geotags most of its photos knows where it is and, if it is a phone, the time from the network.
    Phones also write the zone offset they got from it; a camera with its own GPS unit (or one that a phone app
    geotags) usually writes its own clock's local time without one. So: the geotagging devices that write an
    offset, or every geotagging device when none does. (An offset tag alone proves nothing: cameras write one from
    their own, possibly wrong, settings.)
    """
    def most(photos: list[Photo], test: Any) -> bool:
        return 2 * sum(1 for p in photos if test(p.meta)) > len(photos)

    located = {k for k, ps in by_camera.items() if most(ps, lambda m: m.has_gps)}
    return {k for k in located if most(by_camera[k], has_known_offset)} or located


def _reference_tracks(located: list[Photo]) -> dict[bool, FixGrid]:
    """The references' fixes as a track on their wall clocks (for cameras without an offset) and in UTC (for
    cameras with one, against references that have one), like the two ways _clock compares."""
    walls = {p.id: wall_epoch(p.meta) for p in located}
    utcs = {p.id: utc_epoch(p.meta) for p in located if has_known_offset(p.meta)}
    return {both: FixGrid(photo_fixes(located, times), TRACK_REACH_M) for both, times in ((False, walls), (True, utcs))}


def estimate_clock_offsets(photos: Iterable[Photo], settings: Settings) -> list[ClockEstimate]:
    """One estimate per camera session whose clock is measurably off against the reference (phone) clocks."""
    by_camera: dict[CameraKey, list[Photo]] = defaultdict(list)
    for p in photos:
        key = camera_key(p.meta)
        if key is not None and wall_epoch(p.meta) is not None:
            by_camera[key].append(p)
    reference_cams = _references(by_camera)
    located = [p for k in reference_cams for p in by_camera[k]]
    refs = sorted((p for p in located if p.phash is not None), key=lambda p: wall_epoch(p.meta))
    ref_walls = [wall_epoch(p.meta) for p in refs]
    ids = {p.path: p.id for p in located}
    grids: dict[bool, FixGrid] = {}
    out = []
    for key in sorted(set(by_camera) - reference_cams):
        if not grids and any(p.meta.has_gps for p in by_camera[key]):
            grids = _reference_tracks(located)
        sessions = []
        for session in _sessions(by_camera[key], SESSION_GAP_S):
            candidates = _candidate_pairs(session, refs, ref_walls, settings)
            if grids:
                for path, pairs in _place_pairs(session, grids, ids, settings).items():
                    candidates.setdefault(path, []).extend(pairs)
            sessions.append((session, candidates))
        for session, candidates in _runs(sessions):
            estimate = _estimate(key, session, candidates, settings)
            if estimate is not None:
                out.append(estimate)
    return out


def _runs(sessions: list[tuple[list[Photo], dict[str, list[ClockPair]]]]
          ) -> list[tuple[list[Photo], dict[str, list[ClockPair]]]]:
    """Consecutive sessions whose pairs centre on the same clock difference (within TOLERANCE_S) as one run: the
    clock was not reset in between, and their pairs are stronger evidence together than apart."""
    out: list[tuple[list[Photo], dict[str, list[ClockPair]]]] = []
    last = None
    for session, candidates in sessions:
        centre = _centre(candidates)
        if out and centre is not None and last is not None and abs(centre - last) <= TOLERANCE_S:
            out[-1] = (out[-1][0] + session, {**out[-1][1], **candidates})
        else:
            out.append((session, candidates))
        last = centre
    return out


def _estimate(key: CameraKey, session: list[Photo], candidates: dict[str, list[ClockPair]],
              settings: Settings) -> ClockEstimate | None:
    """The clock offset of one camera run, or None when the pairs do not prove one."""
    centre = _centre(candidates)
    if centre is None:
        return None
    agreeing = _agreeing(candidates, centre)
    if len(agreeing) < MIN_PAIRS:
        return None
    right_clock = sum(any(abs(p.diff_s) <= AGREE_S for p in ps) for ps in candidates.values())
    if right_clock >= len(agreeing):  # a clock is right until shown otherwise: ties (decoys) go to it
        return None
    shift, spread, kept = _robust(agreeing)
    if len(kept) < MIN_PAIRS or abs(shift) < max(MIN_SHIFT_S, 3 * spread):
        return None
    width = max(p.diff_s for p in kept) - min(p.diff_s for p in kept) + RESOLUTION_S
    chance = _false_alarm(candidates, len(kept), width, settings)
    if chance > FALSE_ALARM:
        log.debug("%s: %d pairs agree at %+.0f s, as chance would %.0f %% of the time", camera_label(key),
                  len(kept), shift, 100 * chance)
        return None
    return ClockEstimate(
        key, camera_label(key), float(round(shift)), float(spread),
        tuple(sorted(kept, key=lambda p: p.camera_path)), len(candidates) - len(kept),
        tuple(p.id for p in session), tuple(p.path for p in session),
        tuple(p.meta.datetime_original for p in session))


def time_shift_group(estimate: ClockEstimate) -> Group:
    """The estimate as a reviewable group: the camera's photos are targets, the matched phone shots sources."""
    refs = dict.fromkeys((p.reference_id, p.reference_path) for p in estimate.pairs)
    members = tuple(GroupMember(pid, path, is_source=False) for pid, path in zip(estimate.photo_ids, estimate.paths))
    members += tuple(GroupMember(pid, path, is_source=True) for pid, path in refs)
    return Group(
        id=None, members=members, confidence=estimate.confidence, kind=GroupKind.TIME_SHIFT,
        evidence=ClockEvidence(shift_s=estimate.shift_s, camera=estimate.camera, spread_s=estimate.spread_s,
                               matches=tuple((p.camera_path, p.reference_path, p.diff_s) for p in estimate.pairs),
                               camera_times=dict(zip(estimate.paths, estimate.times))),
        reasons=(estimate.text,))


def suggest_time_shifts(photos: Sequence[Photo], settings: Settings) -> tuple[list[Group], list[Photo]]:
    """Time-shift groups for the cameras whose clock is off, and the photos as they will be once those shifts are
    applied (grouping and planning the events should see corrected times)."""
    groups = [time_shift_group(e) for e in estimate_clock_offsets(photos, settings)]
    return groups, with_pending_shifts(photos, groups)


def shift_target(group: Group, photo: Photo) -> str | None:
    """The corrected time for one of the group's photos; None when its time is no longer the camera's (the shift,
    or another edit, already reached it), so a shift can never be applied twice."""
    evidence = group.evidence
    written = evidence.camera_times.get(photo.path) if isinstance(evidence, ClockEvidence) else None
    if written is None or photo.meta.datetime_original != written:
        return None
    return shift_datetime(written, evidence.shift_s)


# A clock correction stands until it is applied or deleted: one taken back (reverted) may be applied again, and
# the groups applied meanwhile must not write the camera's wrong times.
STANDING = ("pending", "reverted")


def with_pending_shifts(photos: Sequence[Photo], groups: Iterable[Group]) -> list[Photo]:
    """The photos as they will be once the standing time shifts are applied (in memory), so that grouping, GPS
    interpolation and time zones use corrected times."""
    shifts = [g for g in groups if g.kind == GroupKind.TIME_SHIFT and g.status in STANDING]
    if not shifts:
        return list(photos)
    by_path = {p.path: p for p in photos}
    for group in shifts:
        for m in group.targets:
            photo = by_path.get(m.path)
            new = shift_target(group, photo) if photo is not None else None
            if new is not None:
                by_path[m.path] = replace(photo, meta=photo.meta.with_values(datetime_original=new))
    return [by_path[p.path] for p in photos]
