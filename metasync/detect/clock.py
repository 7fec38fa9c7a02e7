"""Camera clock offsets learnt from the user's own photos, and the "time shift" group that corrects them.

A phone sets its clock from the network; a camera keeps whatever it was set to (a forgotten DST change, a zone not
set, drift). When a camera and a phone shoot the same moment, the difference of their clocks is the camera's error.
Two kinds of pairs say "the same moment": near-identical pictures (pHash), and, for a camera that geotags its
photos, the moment the phones' GPS track (their photos' fixes, interpolated) passed where the camera was.

One match can be a coincidence (every photo of an event looks alike), so: candidates within a wide search window;
the centre where most camera photos agree to seconds; outliers beyond 3 scaled MADs of the median dropped; at
least MIN_PAIRS kept, and more of them, agreeing more tightly, than chance would line up (FALSE_ALARM). The
estimate is the median of the kept pairs, the spread their median absolute deviation.

A camera's error need not be one number. Left on home time through other zones, its apparent error changes by the
zone difference when the traveller moves on; a reset clock changes too. So the clock differences several photos
agree on are found as levels, each paired photo labelled with its level, and the photos in time order split into
legs where the level changes (a leg needs more pairs than a few strays can make); each leg is then estimated from
its own pairs as above. Within a leg a clock that drifts (seconds a day) gets a Theil-Sen line when a rank test
shows the trend. Each corrected time takes the offset the reference device (a phone) had at that moment, so the
camera photo ends in local wall time with that zone's offset, and a leg's reason splits its shift into the zone
difference and the clock's own error ("camera on home time +02:00, 3 min 40 s fast; here -04:00").
"""
from __future__ import annotations

import bisect
import logging
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Iterable, Mapping, Sequence

from ..config import Settings
from ..models import CameraKey, ClockEvidence, Group, GroupKind, GroupMember, Metadata, Photo, camera_key, camera_label
from ..timeutil import (
    format_duration,
    format_offset,
    has_known_offset,
    iso_local,
    offset_of,
    offset_seconds,
    parse_offset,
    shift_datetime,
    split_offset,
    utc_epoch,
    wall_epoch,
)
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
# A camera unused for longer than this may have had its clock reset: a leg takes no photos from such a session
# unless it has pairs there.
SESSION_GAP_S = 2 * 86400.0
# Changing leg costs this many disagreeing photos: a leg inside another needs 3 agreeing pairs, one at either end 2.
SWITCH_COST = 1.25
# At most this many clock differences (zones, settings) are sought per camera.
MAX_LEVELS = 8
# A drift is fitted from this many pairs on, when its rank test's |z| reaches DRIFT_Z (0.3 %, two-sided: every
# leg is tested, and a steady clock's jitter must not pass for drift).
MIN_DRIFT_PAIRS = 5
DRIFT_Z = 3.0
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
    reference_offset: str | None = None  # the offset the reference photo was taken in
    alike: float | None = None  # rank among the camera photo's candidates: 0 the most alike, 1 the least
    peers: int = 0  # how many other candidates that rank was among (0: no rank)

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
    drift_s_per_day: float = 0.0  # a drifting clock: the shift grows by this much a day...
    drift_from: str | None = None  # ...from this camera time (its first photo) on
    offsets: tuple[str | None, ...] = ()  # each photo's offset at its corrected moment (the reference's zone)
    explanation: str = ""  # the shift in words, where one number does not say it all

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
        why = f"; {self.explanation}" if self.explanation else ""
        return (f"{self.camera}: {format_duration(self.shift_s, signed=True)}, {n} matching pair{'s' * (n != 1)}"
                f"{by_track}, spread {format_duration(self.spread_s)}{why}")


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
            pairs.append(ClockPair(cam.path, r.path, r.id, t_ref - t_cam, h, reference_offset=offset_of(r.meta)))
        if pairs:
            out[cam.path] = _ranked(cam, pairs, {r.path: r for r in refs[lo:hi]})
    return out


def _ranked(cam: Photo, pairs: list[ClockPair], refs: Mapping[str, Photo]) -> list[ClockPair]:
    """The pairs, each with its rank in likeness among the photo's candidates (mid-ranks for ties).

    Every shot of one scene looks alike, and how alike depends on the scene: a distance alone does not tell the
    same moment. Within one photo's candidates the scene is the same, and the shot of the same moment is the
    most alike more often than chance would make it. The 256-bit detail hash ranks finer than the pHash."""
    if len(pairs) < 2:
        return pairs
    detailed = cam.detail_hash is not None and all(refs[p.reference_path].detail_hash is not None for p in pairs)
    dist = [(cam.detail_hash ^ refs[p.reference_path].detail_hash).bit_count() if detailed else p.hamming
            for p in pairs]
    n = len(pairs) - 1
    return [replace(p, alike=(sum(e < d for e in dist) + 0.5 * (sum(e == d for e in dist) - 1)) / n, peers=n)
            for p, d in zip(pairs, dist)]


def _visual_chance(pairs: Sequence[ClockPair]) -> float:
    """How likely chance alone makes the pairs rank as alike as they do among their photos' candidates (1: no
    ranks). A pair picked by time from lookalikes ranks anywhere (uniform, mean 1/2); a same-moment pair tends to
    rank first. One-sided, the rank sum's normal approximation."""
    ranked = [p for p in pairs if p.alike is not None]
    if not ranked:
        return 1.0
    var = sum((p.peers + 2) / (12.0 * p.peers) for p in ranked)
    z = sum(0.5 - p.alike for p in ranked) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _proven(time_chance: float, pairs: Sequence[ClockPair]) -> bool:
    """Whether pairs that agree in time as chance would `time_chance` of the time show a clock difference: the
    agreement in time must beat FALSE_ALARM on its own, and still with their likeness (lookalikes that happen to
    line up rank like any other of their photos' candidates, and that makes the agreement less credible)."""
    return time_chance <= FALSE_ALARM and _together(time_chance, _visual_chance(pairs)) <= FALSE_ALARM


def _together(time_chance: float, visual_chance: float) -> float:
    """Fisher's combination of two independent chances (the pairs' agreement in time, their likeness): the chance
    that both are as small as they are, or smaller. A visual chance of 1 (no ranks) leaves the time's."""
    if visual_chance >= 1.0 or time_chance <= 0.0:
        return time_chance
    product = time_chance * visual_chance
    return min(1.0, product * (1.0 - math.log(product)))


def _place_pairs(session: list[Photo], grids: Mapping[bool, FixGrid], located: Mapping[str, Photo],
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
        pairs = [ClockPair(cam.path, p.fix.source, located[p.fix.source].id, p.utc - t_cam, None, round(p.metres, 1),
                           offset_of(located[p.fix.source].meta))
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


def _agreeing(candidates: dict[str, list[ClockPair]], centre: float, within: float = AGREE_S) -> list[ClockPair]:
    """Each camera photo's pair nearest the centre, within `within` seconds."""
    chosen = []
    for ps in candidates.values():
        p = min(ps, key=lambda p: (abs(p.diff_s - centre), p.unlikeness))
        if abs(p.diff_s - centre) <= within:
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
    edges = sorted(e for lo, hi, p in _stretches(candidates, width, settings) for e in ((lo, p), (hi, -p)))
    total, expected = 0.0, 0.0
    for (at, step), (nxt, _) in zip(edges, edges[1:]):
        expected = max(0.0, expected + step)
        if nxt > at and expected > 0:
            total += (nxt - at) / width * _poisson_tail(expected, agreeing)
    return min(1.0, total)


def _stretches(candidates: dict[str, list[ClockPair]], width: float, settings: Settings
               ) -> list[tuple[float, float, float]]:
    """Per camera photo, the stretch of differences its lookalikes spread over and the chance that one window
    `width` wide there catches one of them: (from, to, chance)."""
    out = []
    for pairs in candidates.values():
        diffs = [p.diff_s for p in pairs]
        spread = max(max(diffs) - min(diffs), settings.time_window_s) + width
        middle = (max(diffs) + min(diffs)) / 2
        out.append((middle - spread / 2, middle + spread / 2, min(1.0, len(diffs) * width / spread)))
    return out


def _chance_at(candidates: dict[str, list[ClockPair]], agreeing: int, width: float, at: float,
               settings: Settings) -> float:
    """_false_alarm for a difference known beforehand (give or take TOLERANCE_S): no search, so the windows
    around `at` only."""
    expected = sum(p for lo, hi, p in _stretches(candidates, width, settings) if lo <= at <= hi)
    return min(1.0, (1 + 2 * TOLERANCE_S / width) * _poisson_tail(expected, agreeing)) if expected > 0 else 0.0


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
    """One estimate per leg of a camera whose clock is measurably off against the reference (phone) clocks."""
    by_camera: dict[CameraKey, list[Photo]] = defaultdict(list)
    for p in photos:
        key = camera_key(p.meta)
        if key is not None and wall_epoch(p.meta) is not None:
            by_camera[key].append(p)
    reference_cams = _references(by_camera)
    located = [p for k in reference_cams for p in by_camera[k]]
    refs = sorted((p for p in located if p.phash is not None), key=lambda p: wall_epoch(p.meta))
    ref_walls = [wall_epoch(p.meta) for p in refs]
    by_path = {p.path: p for p in located}
    devices = _Devices(by_camera, reference_cams)
    grids: dict[bool, FixGrid] = {}
    out = []
    for key in sorted(set(by_camera) - reference_cams):
        if not grids and any(p.meta.has_gps for p in by_camera[key]):
            grids = _reference_tracks(located)
        sessions = _sessions(by_camera[key], SESSION_GAP_S)
        candidates: dict[str, list[ClockPair]] = {}
        for session in sessions:
            candidates.update(_candidate_pairs(session, refs, ref_walls, settings))
            if grids:
                for path, pairs in _place_pairs(session, grids, by_path, settings).items():
                    candidates.setdefault(path, []).extend(pairs)
        estimates = []
        legs = _legs(sessions, candidates, devices, settings)
        proven = _beat_the_right_clock(legs)
        for level, leg, leg_candidates in legs:
            estimate = _estimate(key, level, leg, leg_candidates, devices) if level in proven else None
            if estimate is not None:
                estimates.append(estimate)
        out += _explained(estimates, sessions)
    return out


class _Devices:
    """The reference devices' clocks: which device took a reference photo, and the offsets its photos carry along
    its clock (a phone's offset is the zone it was in)."""

    def __init__(self, by_camera: Mapping[CameraKey, list[Photo]], references: set[CameraKey]) -> None:
        self.of: dict[int, CameraKey] = {}
        self.clocks: dict[tuple[CameraKey, bool], tuple[list[float], list[str | None]]] = {}
        for key in references:
            for p in by_camera[key]:
                self.of[p.id] = key
            for both in (False, True):
                timed = sorted((_clock(p.meta, both), offset_of(p.meta)) for p in by_camera[key]
                               if both is False or has_known_offset(p.meta))
                self.clocks[(key, both)] = ([t for t, _ in timed], [o for _, o in timed])

    def main(self, pairs: Iterable[ClockPair]) -> CameraKey | None:
        """The device most of the pairs are with."""
        votes = Counter(self.of.get(p.reference_id) for p in pairs)
        votes.pop(None, None)
        return min(votes, key=lambda k: (-votes[k], k)) if votes else None

    def offset_at(self, device: CameraKey | None, both: bool, clock: float) -> str | None:
        """The offset of the device's photo nearest to this moment of its clock (None: it writes none)."""
        times, offsets = self.clocks.get((device, both), ([], []))
        if not times:
            return None
        k = bisect.bisect_left(times, clock)
        near = min((j for j in (k - 1, k) if 0 <= j < len(times)), key=lambda j: abs(times[j] - clock))
        return offsets[near]


def _levels(candidates: dict[str, list[ClockPair]], settings: Settings) -> list[tuple[float, float]]:
    """The clock differences that several camera photos agree on, strongest first, as (level, tolerance).

    The strongest centre's agreeing pairs make a level; every pair near it is its own or a decoy of it, and the
    rest is searched again (a photo keeps its other pairs: a decoy level may have taken it, its true one is still
    to come). A camera carried across zones on one zone's time shows one level per zone; a clock reset, one per
    setting. Each level must agree more than chance would anywhere in all the camera's pairs (a few photos each
    paired with the phone's shot before lining up is to be expected somewhere over a trip: the search looked
    everywhere); a centre that does not is passed over.
    """
    rest = dict(candidates)
    out: list[tuple[float, float]] = []
    for _ in range(2 * MAX_LEVELS):
        if not rest or len(out) == MAX_LEVELS:
            break
        centre = _centre(rest)
        if len(_agreeing(rest, centre)) < MIN_PAIRS:
            break
        chance, level, spread, kept = _cluster(rest, centre, candidates, settings)
        if len(kept) >= MIN_PAIRS and _proven(chance, kept):
            out.append((level, max(3 * 1.4826 * spread, TOLERANCE_S)))
        else:
            log.debug("%d pairs agree at %+.0f s, as chance would %.0f %% of the time", len(kept), level,
                      100 * chance)
        rest = {path: left for path, ps in rest.items() if (left := [p for p in ps if abs(p.diff_s - level) > AGREE_S])}
    return out


def _zone_levels(candidates: dict[str, list[ClockPair]], levels: list[tuple[float, float]], settings: Settings
                 ) -> list[tuple[float, float]]:
    """The levels a camera left on one zone's time would show where the references were in another zone: a
    level found with references at offset o, moved by each other offset the references had, and tested against
    the pairs with references at that offset alone, without a search (so a short stay at home, a few pairs, is
    found: its difference was known before looking). A camera that compares in UTC, or that follows the local
    zone, shows no such level (it is the level found, or there are no pairs there)."""
    offsets = sorted({p.reference_offset for ps in candidates.values() for p in ps if p.reference_offset})
    out: list[tuple[float, float]] = []
    for level, tol in levels:
        here = _main_offset([path for path, ps in candidates.items()
                             if any(abs(p.diff_s - level) <= tol for p in ps)], candidates, level)
        if here is None:
            continue
        for offset in offsets:
            at = level + offset_seconds(offset) - offset_seconds(here)
            if any(abs(at - known) <= AGREE_S for known, _ in (*levels, *out)):
                continue
            there = {path: mine for path, ps in candidates.items()
                     if (mine := [p for p in ps if p.reference_offset == offset])}
            agreeing = _agreeing(there, at, TOLERANCE_S)
            if len(agreeing) < MIN_PAIRS:
                continue
            found, spread, kept = _robust(agreeing)
            width = max(p.diff_s for p in kept) - min(p.diff_s for p in kept) + RESOLUTION_S
            if len(kept) >= MIN_PAIRS and _proven(_chance_at(there, len(kept), width, at, settings), kept):
                out.append((found, max(3 * 1.4826 * spread, TOLERANCE_S)))
    return out


def _cluster(rest: dict[str, list[ClockPair]], centre: float, candidates: dict[str, list[ClockPair]],
             settings: Settings) -> tuple[float, float, float, list[ClockPair]]:
    """(chance, median, spread, kept pairs) of the pairs around a centre, at the reach that makes them least
    likely by chance: a tight core among scattered lookalikes shows within TOLERANCE_S, pairs shot a minute
    apart only within AGREE_S (where lookalikes would drown the core's MAD)."""
    best = None
    for reach in (TOLERANCE_S, 2 * TOLERANCE_S, 4 * TOLERANCE_S, AGREE_S):
        agreeing = _agreeing(rest, centre, reach)
        if len(agreeing) < MIN_PAIRS:
            continue
        level, spread, kept = _robust(agreeing)
        width = max(p.diff_s for p in kept) - min(p.diff_s for p in kept) + RESOLUTION_S
        found = (_false_alarm(candidates, len(kept), width, settings), level, spread, kept)
        if best is None or found[0] < best[0]:
            best = found
    return best if best is not None else (1.0, centre, 0.0, [])


def _beat_the_right_clock(legs: list[tuple[tuple[float, float], list[Photo], dict[str, list[ClockPair]]]]
                          ) -> set[tuple[float, float]]:
    """The levels whose pairs, over all their legs, outnumber what a right clock explains as tightly (a clock
    is right until shown otherwise: ties go to it). Judged per level, not per leg: a short leg at a level the
    camera shows elsewhere too needs no more proof than that its pairs agree with it."""
    by_level: dict[tuple[float, float], dict[str, list[ClockPair]]] = defaultdict(dict)
    for level, _, candidates in legs:
        by_level[level].update(candidates)
    out = set()
    for level, candidates in by_level.items():
        agreeing = _agreeing(candidates, *level)
        if len(agreeing) < MIN_PAIRS:
            continue
        kept = _robust(agreeing)[2]
        width = max(p.diff_s for p in kept) - min(p.diff_s for p in kept) + RESOLUTION_S
        if _right_clock(candidates, width) < len(kept):
            out.add(level)
    return out


def switch_points(labels: Sequence[int | None], n_levels: int) -> list[int]:
    """The level each labelled photo's leg has (time order), legs piecewise constant.

    The cheapest labelling where a photo whose label is not its leg's costs 1 and a change of leg SWITCH_COST
    (a Viterbi pass): a leg inside another needs more than 2 * SWITCH_COST agreeing photos, so one or two stray
    pairs are outliers of their leg, never a leg of their own. `labels`: each photo's nearest level (None: none).
    """
    cost = [0.0] * n_levels
    back: list[list[int]] = []
    for label in labels:
        best = min(range(n_levels), key=lambda k: (cost[k], k))
        back.append([k if cost[k] <= cost[best] + SWITCH_COST else best for k in range(n_levels)])
        cost = [min(cost[k], cost[best] + SWITCH_COST) + (label is not None and label != k)
                for k in range(n_levels)]
    state = min(range(n_levels), key=lambda k: (cost[k], k))
    out = []
    for prev in reversed(back):
        out.append(state)
        state = prev[state]
    return out[::-1]


def _legs(sessions: list[list[Photo]], candidates: dict[str, list[ClockPair]], devices: _Devices,
          settings: Settings) -> list[tuple[tuple[float, float], list[Photo], dict[str, list[ClockPair]]]]:
    """A camera's photos split where its clock difference changes: each leg's level (and tolerance), photos and
    their candidate pairs.

    Levels are found over all the camera's pairs, each paired photo labelled with the level it agrees with, and
    the time order split into legs (switch_points). A photo takes the leg whose paired photos span its time;
    between or beyond them, the nearest leg in time whose reference device, at the time that leg's correction
    gives the photo, was in a zone it was in during the leg (a camera on home time back home takes the first
    home leg's correction, not New York's); none such: no correction. Legs only take photos from sessions where
    they have pairs (a camera unused for days may have been reset).
    """
    levels = _levels(candidates, settings)
    levels += _zone_levels(candidates, levels, settings)
    if not levels:
        return []
    photos = [p for session in sessions for p in session]
    session_of = {p.path: k for k, session in enumerate(sessions) for p in session}
    times = {p.path: wall_epoch(p.meta) for p in photos}
    labelled = sorted((times[path], path, _label(ps, levels)) for path, ps in candidates.items())
    states = switch_points([label for _, _, label in labelled], len(levels))
    runs: list[tuple[int, list[str]]] = []  # (level, agreeing photos)
    for (_, path, label), state in zip(labelled, states):
        if not runs or runs[-1][0] != state:
            runs.append((state, []))
        if label == state:
            runs[-1][1].append(path)
    runs = [(level, paths) for level, paths in runs if paths]
    spans = [(times[paths[0]], times[paths[-1]]) for _, paths in runs]
    used = [{session_of[path] for path in paths} for _, paths in runs]
    offsets = [{_nearest(candidates[path], levels[k][0]).reference_offset for path in paths} - {None}
               for k, paths in runs]
    device = [devices.main(p for path in paths for p in candidates[path]) for _, paths in runs]
    members: list[list[Photo]] = [[] for _ in runs]
    for p in photos:
        t, mine = times[p.path], [k for k in range(len(runs)) if session_of[p.path] in used[k]]
        inside = [k for k in mine if spans[k][0] <= t <= spans[k][1]]
        near = inside or sorted(mine, key=lambda k: (min(abs(t - spans[k][0]), abs(t - spans[k][1])), k))
        both = has_known_offset(p.meta)
        fits = [k for k in near if inside or not offsets[k] or devices.offset_at(
            device[k], both, _clock(p.meta, both) + levels[runs[k][0]][0]) in offsets[k]]
        if fits:
            members[fits[0]].append(p)
    return [(levels[level], leg, {p.path: candidates[p.path] for p in leg if p.path in candidates})
            for (level, _), leg in zip(runs, members) if leg]


def _label(pairs: list[ClockPair], levels: list[tuple[float, float]]) -> int | None:
    """The level one camera photo's pairs agree with best (in tolerances; None: none within its tolerance)."""
    fits = [(min(abs(p.diff_s - level) for p in pairs) / tol, k) for k, (level, tol) in enumerate(levels)]
    best = min(fits)
    return best[1] if best[0] <= 1.0 else None


def _nearest(pairs: list[ClockPair], level: float) -> ClockPair:
    return min(pairs, key=lambda p: (abs(p.diff_s - level), p.unlikeness))


def _main_offset(paths: list[str], candidates: dict[str, list[ClockPair]], level: float) -> str | None:
    """The offset most of a leg's agreeing reference photos were taken in (None when they carry none)."""
    votes = Counter(_nearest(candidates[path], level).reference_offset for path in paths)
    return min(votes, key=lambda o: (-votes[o], o or "")) if votes else None


def _estimate(key: CameraKey, level: tuple[float, float], leg: list[Photo], candidates: dict[str, list[ClockPair]],
              devices: _Devices) -> ClockEstimate | None:
    """The clock correction of one leg of a camera (its pairs within the level's tolerance), or None when they do
    not prove one (the level itself is more than chance, _levels, and than a right clock, _beat_the_right_clock)."""
    agreeing = _agreeing(candidates, *level)
    if len(agreeing) < MIN_PAIRS:
        return None
    shift, spread, kept = _robust(agreeing)
    if len(kept) < MIN_PAIRS or abs(shift) < max(MIN_SHIFT_S, 3 * spread):
        return None
    times = {p.path: wall_epoch(p.meta) for p in leg}
    start = min(times.values())
    days = {path: (t - start) / 86400.0 for path, t in times.items()}
    slope = 0.0
    line = _drift(candidates, kept, days)
    if line is not None:
        slope, shift, spread, kept = line
    device = devices.main(kept)
    offsets = []
    for p in leg:
        both = has_known_offset(p.meta)
        offsets.append(devices.offset_at(device, both, _clock(p.meta, both) + shift + slope * days[p.path]))
    first = min(leg, key=lambda p: times[p.path])
    return ClockEstimate(
        key, camera_label(key), float(round(shift)), float(spread),
        tuple(sorted(kept, key=lambda p: p.camera_path)), len(candidates) - len(kept),
        tuple(p.id for p in leg), tuple(p.path for p in leg), tuple(p.meta.datetime_original for p in leg),
        drift_s_per_day=round(slope, 2), drift_from=first.meta.datetime_original if slope else None,
        offsets=tuple(offsets))


def _right_clock(candidates: dict[str, list[ClockPair]], width: float) -> int:
    """How many camera photos a right clock explains as tightly as the kept pairs agree: the most photos with a
    pair in any window `width` wide within AGREE_S of no difference (decoys of a right clock, the photos paired
    with the phone's shot before or after, count for it; scattered lookalikes near it do not)."""
    near = sorted((p.diff_s, path) for path, ps in candidates.items() for p in ps if abs(p.diff_s) <= AGREE_S)
    diffs = [d for d, _ in near]
    return max((len({path for _, path in near[k:bisect.bisect_right(diffs, d + width)]})
                for k, d in enumerate(diffs)), default=0)


def theil_sen(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """(slope, intercept) of the median line: the median of the slopes between every two points, and the median
    of what is left at x = 0. Robust: up to ~29 % of the points may be anywhere."""
    slopes = [(ys[j] - ys[i]) / (xs[j] - xs[i]) for i in range(len(xs)) for j in range(i + 1, len(xs))
              if xs[j] != xs[i]]
    slope = statistics.median(slopes) if slopes else 0.0
    return slope, statistics.median(y - slope * x for x, y in zip(xs, ys))


def trend_z(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Mann-Kendall's z of a monotonic trend of ys along xs (beyond +-3: a trend at the 0.3 % level), the rank
    test that goes with the Theil-Sen slope: how many pairs of points rise, less how many fall."""
    n = len(xs)
    s = sum((1 if (xs[j] - xs[i]) * (ys[j] - ys[i]) > 0 else -1)
            for i in range(n) for j in range(i + 1, n) if xs[j] != xs[i] and ys[j] != ys[i])
    var = n * (n - 1) * (2 * n + 5) / 18.0
    if s == 0 or var <= 0:
        return 0.0
    return (s - math.copysign(1, s)) / math.sqrt(var)


def _drift(candidates: dict[str, list[ClockPair]], kept: list[ClockPair], days: Mapping[str, float]
           ) -> tuple[float, float, float, list[ClockPair]] | None:
    """(slope in s a day, difference at day 0, spread, kept pairs) of a drifting clock, or None when the pairs do
    not show a drift: fewer than MIN_DRIFT_PAIRS, no significant trend (trend_z), or less than the clock's
    resolution over the leg. A drifting clock's pairs leave a constant's tolerance: once the line is known, each
    photo's pair nearest it is chosen again, and kept within 3 scaled MADs of it (never tighter than TOLERANCE_S)."""
    line = _trend(kept, days)
    if line is None:
        return None
    slope, at0 = line

    def off(p: ClockPair) -> float:
        return p.diff_s - at0 - slope * days[p.camera_path]

    chosen = [min(ps, key=lambda p: (abs(off(p)), p.unlikeness)) for ps in candidates.values()]
    chosen = [p for p in chosen if abs(off(p)) <= AGREE_S]
    mad = statistics.median(abs(off(p)) for p in chosen) if chosen else 0.0
    kept = [p for p in chosen if abs(off(p)) <= max(3 * 1.4826 * mad, TOLERANCE_S)]
    line = _trend(kept, days)
    if line is None:
        return None
    slope, at0 = line
    return slope, at0, statistics.median(abs(off(p)) for p in kept), kept


def _trend(pairs: list[ClockPair], days: Mapping[str, float]) -> tuple[float, float] | None:
    """The Theil-Sen line of the pairs' differences over days, when the pairs support it: a significant rank
    trend, and a drift over the leg beyond 3 MADs of the pairs about the line (a line through jitter alone
    would explain nothing)."""
    if len(pairs) < MIN_DRIFT_PAIRS:
        return None
    xs, ys = [days[p.camera_path] for p in pairs], [p.diff_s for p in pairs]
    slope, at0 = theil_sen(xs, ys)
    jitter = statistics.median(abs(y - at0 - slope * x) for x, y in zip(xs, ys))
    if abs(trend_z(xs, ys)) < DRIFT_Z or abs(slope) * (max(xs) - min(xs)) < max(RESOLUTION_S, 3 * jitter):
        return None
    return slope, at0


def zone_and_error(legs: Sequence[tuple[float, float | None]]) -> list[tuple[float, float]]:
    """Each leg's correction (shift, the reference's offset there, in s; None: unknown) as (zone difference, clock
    correction): zone differences in whole quarter hours, the clock's own error about the same in every leg.

    The error is the one that explains the legs best: small, with the camera's zone (the reference's offset less
    the zone difference) the local one, else a whole-hour zone, rarely a half-hour one, hardly ever a quarter-hour
    one. A camera 17 min slow on local time is that, not 2 min slow on a :45 zone.
    """
    def penalty(zone_diff: float, here: float | None) -> float:
        if zone_diff == 0:
            return 0.0
        zone = zone_diff if here is None else here - zone_diff
        return 0.5 if zone % 3600 == 0 else 1.5 if zone % 1800 == 0 else 2.5

    def split(error: float) -> list[tuple[float, float]]:
        return [(900.0 * round((s - error) / 900.0), s - 900.0 * round((s - error) / 900.0)) for s, _ in legs]

    def cost(error: float) -> tuple[float, float]:
        return abs(error) / 900.0 + sum(penalty(z, here) for (z, _), (_, here) in zip(split(error), legs)), abs(error)

    options = {s - 900.0 * round(s / 900.0) + 900.0 * j for s, _ in legs for j in range(-3, 4)}
    return split(min(sorted(options), key=cost))


def _explained(estimates: list[ClockEstimate], sessions: list[list[Photo]]) -> list[ClockEstimate]:
    """The estimates, with an explanation where one shift does not say it all: a session of several legs (zone
    differences and the clock's own error, the same in each) or a drifting clock. A session's legs are explained
    together: the zone its first leg was set to is the camera's home."""
    session_of = {p.path: k for k, session in enumerate(sessions) for p in session}
    by_session: dict[int, list[int]] = defaultdict(list)
    for n, e in enumerate(estimates):
        by_session[session_of[e.paths[0]]].append(n)
    out = list(estimates)
    for members in by_session.values():
        legs = [estimates[n] for n in members]
        heres = [_most(e.offsets) for e in legs]
        parts = zone_and_error([(e.shift_s, offset_seconds(h)) for e, h in zip(legs, heres)])
        zones = [format_offset(timedelta(seconds=offset_seconds(h) - z)) if h else None
                 for (z, _), h in zip(parts, heres)]
        abroad = any(z for z, _ in parts)
        for n, e, (zone_diff, error), zone, here in zip(members, legs, parts, zones, heres):
            if len(legs) > 1 or e.drift_s_per_day:
                out[n] = replace(e, explanation=explanation(zone_diff, error, zone, here,
                                                            abroad and zone is not None and zone == zones[0],
                                                            e.drift_s_per_day))
    return out


def _most(values: Iterable[str | None]) -> str | None:
    votes = Counter(v for v in values if v is not None)
    return min(votes, key=lambda v: (-votes[v], v)) if votes else None


def explanation(zone_diff: float, error: float, zone: str | None, here: str | None, home: bool,
                drift_s_per_day: float = 0.0) -> str:
    """A leg's shift in words: "camera on home time +02:00, 3 min 40 s fast; here -04:00", "camera on local time,
    17 min 10 s slow, drifting 2 s a day slower". `error` is the clock's own correction (+: it is slow), `zone`
    the zone it is set to, `here` the reference's offset, `home` whether `zone` is the one it was first set to."""
    if zone_diff == 0 and not home:
        setting = "camera on local time"
    elif zone is not None:
        setting = f"camera on {'home ' if home else ''}time {zone}"
    else:
        setting = f"camera {format_duration(-zone_diff, signed=True)} off the local zone"
    clock = (f"{format_duration(error)} {'slow' if error > 0 else 'fast'}" if abs(error) >= RESOLUTION_S
             else "clock otherwise right")
    if drift_s_per_day:
        rate = f"{round(abs(drift_s_per_day)) if abs(drift_s_per_day) >= 1 else round(abs(drift_s_per_day), 1):g} s"
        clock += f", drifting {rate} a day {'slower' if drift_s_per_day > 0 else 'faster'}"
    return f"{setting}, {clock}" + (f"; here {here}" if zone_diff and here else "")


def time_shift_group(estimate: ClockEstimate) -> Group:
    """The estimate as a reviewable group: the camera's photos are targets, the matched phone shots sources.

    One group per leg, not one per camera with per-photo shifts: a leg is what a photographer can check at a
    glance (one story, "on home time in New York", one set of pairs to look at) and accept or reject on its own;
    a wrong leg then costs its own photos only. Within a leg a drifting clock's shift still varies per photo."""
    refs = dict.fromkeys((p.reference_id, p.reference_path) for p in estimate.pairs)
    members = tuple(GroupMember(pid, path, is_source=False) for pid, path in zip(estimate.photo_ids, estimate.paths))
    members += tuple(GroupMember(pid, path, is_source=True) for pid, path in refs)
    return Group(
        id=None, members=members, confidence=estimate.confidence, kind=GroupKind.TIME_SHIFT,
        evidence=ClockEvidence(shift_s=estimate.shift_s, camera=estimate.camera, spread_s=estimate.spread_s,
                               matches=tuple((p.camera_path, p.reference_path, p.diff_s) for p in estimate.pairs),
                               camera_times=dict(zip(estimate.paths, estimate.times)),
                               drift_s_per_day=estimate.drift_s_per_day, drift_from=estimate.drift_from,
                               offsets={path: o for path, o in zip(estimate.paths, estimate.offsets) if o}),
        reasons=(estimate.text,))


def suggest_time_shifts(photos: Sequence[Photo], settings: Settings) -> tuple[list[Group], list[Photo]]:
    """Time-shift groups for the cameras whose clock is off, and the photos as they will be once those shifts are
    applied (grouping and planning the events should see corrected times)."""
    groups = [time_shift_group(e) for e in estimate_clock_offsets(photos, settings)]
    return groups, with_pending_shifts(photos, groups)


def shift_values(group: Group, photo: Photo) -> dict[str, str]:
    """The corrected capture time (and, where the references tell it, the offset of its zone) for one of the
    group's photos; empty when its time is no longer the camera's (the shift, or another edit, already reached
    it), so a shift can never be applied twice.

    A camera that writes no offset is corrected on its wall clock (its pairs compared wall clocks): the result is
    the reference's local wall time, and takes the reference's offset. One that writes an offset is corrected in
    UTC and shown at the reference's offset: local wall time with the right offset either way."""
    evidence = group.evidence
    written = evidence.camera_times.get(photo.path) if isinstance(evidence, ClockEvidence) else None
    if written is None or photo.meta.datetime_original != written:
        return {}
    seconds = evidence.shift_s
    if evidence.drift_s_per_day and evidence.drift_from:
        seconds = round(seconds + evidence.drift_s_per_day * (wall_epoch(photo.meta) - wall_epoch(
            Metadata(datetime_original=evidence.drift_from))) / 86400.0)
    new = shift_datetime(written, seconds)
    offset = evidence.offsets.get(photo.path)
    if new is None or offset is None:
        return {"datetime_original": new} if new is not None else {}
    if has_known_offset(photo.meta):
        new = iso_local(utc_epoch(photo.meta.with_values(datetime_original=new)), parse_offset(offset))
        if split_offset(written)[1] is None:
            new = split_offset(new)[0]
    return {"datetime_original": new, "offset_time": offset}


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
            values = shift_values(group, photo) if photo is not None else {}
            if values:
                by_path[m.path] = replace(photo, meta=photo.meta.with_values(**values))
    return [by_path[p.path] for p in photos]
