"""One clock correction per leg of each camera whose clock is measurably off against the references: the
pipeline of pairs, levels, legs and drift, and the estimate each leg gives."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Iterable, Mapping

from ...config import Settings
from ...models import CameraKey, Photo, camera_key, camera_label
from ...timeutil import format_duration, has_known_offset, wall_epoch
from ...track import FixGrid
from .correct import corrected_values
from .drift import fit_drift
from .explain import leg_reasons
from .legs import SESSION_GAP_S, beat_the_right_clock, camera_sessions, split_legs
from .levels import MIN_PAIRS, doubted_level, pairs_near, robust
from .pairs import ClockPair, candidate_pairs, comparison_clock, place_pairs
from .references import Devices, reference_devices, reference_tracks

# Offsets below this are not worth rewriting the capture times for.
MIN_SHIFT_S = 60.0


@dataclass(frozen=True)
class ClockEstimate:
    """`shift_s` (whole seconds, as camera clocks count) added to the camera's clock gives the right time, for the
    photos in `photo_ids`."""

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
    with_cameras: tuple[tuple[str, int], ...] = ()  # (camera, pairs): the pairs with corrected cameras

    @property
    def confidence(self) -> float:
        """More agreeing pairs and a tighter spread: 2 pairs ~0.7, 7 pairs with 14 s spread ~0.9."""
        by_pairs = 1.0 - 0.5 * 0.6 ** (len(self.pairs) - 1)
        return by_pairs / (1.0 + self.spread_s / 300.0)

    @property
    def text(self) -> str:
        n = len(self.pairs)
        placed = sum(p.metres is not None for p in self.pairs)
        which = ([f"{placed} placed together by the GPS track"] if placed else []) + [
            f"{k} with {camera}" for camera, k in self.with_cameras]
        by = f" ({'; '.join(which)})" if which else ""
        why = f"; {self.explanation}" if self.explanation else ""
        return (f"{self.camera}: {format_duration(self.shift_s, signed=True)}, {n} matching pair{'s' * (n != 1)}"
                f"{by}, spread {format_duration(self.spread_s)}{why}")


@dataclass(frozen=True)
class ClockDoubt:
    """A camera whose clock is in doubt (levels.doubted_level): not proven off, nor shown right."""

    camera: str
    shift_s: float
    pairs: int
    chance: float
    photo_ids: tuple[int, ...]

    @property
    def text(self) -> str:
        return (f"the clock of {self.camera} may be {format_duration(self.shift_s, signed=True)} off: {self.pairs} "
                f"pairs agree, as chance alone would line them up {100 * self.chance:.0f} % of the time")


def estimate_clock_offsets(photos: Iterable[Photo], settings: Settings) -> list[ClockEstimate]:
    """One estimate per leg of a camera whose clock is measurably off against the reference clocks."""
    return estimate_clocks(photos, settings)[0]


def estimate_clocks(photos: Iterable[Photo], settings: Settings) -> tuple[list[ClockEstimate], list[ClockDoubt]]:
    """One estimate per leg of a camera whose clock is measurably off against the reference clocks, and the
    cameras whose clock is in doubt (none of its legs proven, but its pairs agree on a difference all the same).

    The cameras are solved together, in two passes: first against the reference devices (phones) alone; then a
    camera the phones did not prove is solved again against the phones and the cameras whose corrections they
    proved, at their corrected times, with the offsets their legs carry (a second camera's few twins of a phone
    shot, and its shots beside the first camera's). Only cameras proven in the first pass are references in the
    second, so no camera is ever compared with itself, nor corrected from a camera that it corrected."""
    by_camera: dict[CameraKey, list[Photo]] = defaultdict(list)
    for p in photos:
        key = camera_key(p.meta)
        if key is not None and wall_epoch(p.meta) is not None:
            by_camera[key].append(p)
    phones = reference_devices(by_camera)
    against = _References(by_camera, phones)
    solved = {key: _solve(key, by_camera[key], against, settings) for key in sorted(set(by_camera) - phones)}
    proven = {key: _corrected(by_camera[key], estimates) for key, (estimates, _) in solved.items() if estimates}
    if proven and len(proven) < len(solved):
        against = _References({**by_camera, **proven}, phones | set(proven), against.located, set(proven))
        for key in solved:
            if key not in proven:
                solved[key] = _solve(key, by_camera[key], against, settings)
    return ([e for estimates, _ in solved.values() for e in estimates],
            [doubt for _, doubt in solved.values() if doubt is not None])


class _References:
    """The photos one camera is compared with: the reference devices' photos (by pHash), their GPS track
    (`located`, built when a camera geotags its photos) and their clocks (Devices); `cameras`: the references
    that are corrected cameras."""

    def __init__(self, by_camera: Mapping[CameraKey, list[Photo]], references: set[CameraKey],
                 located: list[Photo] | None = None, cameras: set[CameraKey] | None = None) -> None:
        self.cameras = cameras or set()
        self.located = located if located is not None else [p for k in references for p in by_camera[k]]
        self.photos = sorted((p for k in references for p in by_camera[k] if p.phash is not None),
                             key=lambda p: wall_epoch(p.meta))
        self.walls = [wall_epoch(p.meta) for p in self.photos]
        self.devices = Devices(by_camera, references)
        self.by_path = {p.path: p for p in self.located}

    @cached_property
    def grids(self) -> dict[bool, FixGrid]:
        return reference_tracks(self.located)


def _solve(key: CameraKey, photos: list[Photo], against: _References, settings: Settings
           ) -> tuple[list[ClockEstimate], ClockDoubt | None]:
    """The estimates of one camera's legs against these references (none: its clock is not proven off), and,
    without any, whether its clock is in doubt."""
    sessions = camera_sessions(photos, SESSION_GAP_S)
    geotagged = any(p.meta.has_gps for p in photos)
    candidates: dict[str, list[ClockPair]] = {}
    for session in sessions:
        candidates.update(candidate_pairs(session, against.photos, against.walls, settings))
        if geotagged:
            for path, pairs in place_pairs(session, against.grids, against.by_path, settings).items():
                candidates.setdefault(path, []).extend(pairs)
    estimates = []
    legs = split_legs(sessions, candidates, against.devices, settings)
    proven = beat_the_right_clock(legs)
    for level, leg, leg_candidates in legs:
        estimate = _estimate(key, level, leg, leg_candidates, against) if level in proven else None
        if estimate is not None:
            estimates.append(estimate)
    if estimates:
        return _explained(estimates, sessions), None
    doubt = doubted_level(candidates, settings)
    if doubt is None or abs(doubt.at) < MIN_SHIFT_S:
        return [], None
    agreeing = pairs_near(candidates, doubt.at, doubt.tolerance)
    return [], ClockDoubt(camera_label(key), float(round(doubt.at)), len(agreeing), doubt.chance,
                          tuple(p.id for p in photos))


def _corrected(photos: list[Photo], estimates: list[ClockEstimate]) -> list[Photo]:
    """A proven camera's photos as a reference: those its legs correct, at their corrected times and offsets."""
    by_path = {p.path: p for p in photos}
    out = []
    for e in estimates:
        for path, offset in zip(e.paths, e.offsets):
            p = by_path[path]
            values = corrected_values(p.meta, e.shift_s, e.drift_s_per_day, e.drift_from, offset)
            if values:
                out.append(replace(p, meta=p.meta.with_values(**values)))
    return out


def _estimate(key: CameraKey, level: tuple[float, float], leg: list[Photo], candidates: dict[str, list[ClockPair]],
              against: _References) -> ClockEstimate | None:
    """The clock correction of one leg of a camera (its pairs within the level's tolerance), or None when they do
    not prove one (the level itself is more than chance, find_levels, and than a right clock, beat_the_right_clock)."""
    agreeing = pairs_near(candidates, *level)
    if len(agreeing) < MIN_PAIRS:
        return None
    shift, spread, kept = robust(agreeing)
    if len(kept) < MIN_PAIRS or abs(shift) < max(MIN_SHIFT_S, 3 * spread):
        return None
    times = {p.path: wall_epoch(p.meta) for p in leg}
    start = min(times.values())
    days = {path: (t - start) / 86400.0 for path, t in times.items()}
    slope = 0.0
    line = fit_drift(candidates, kept, days)
    if line is not None:
        slope, shift, spread, kept = line
    devices = against.devices
    device = devices.main(kept)
    with_cameras = Counter(camera_label(k) for p in kept if (k := devices.of.get(p.reference_id)) in against.cameras)
    offsets = []
    for p in leg:
        both = has_known_offset(p.meta)
        offsets.append(devices.offset_at(device, both, comparison_clock(p.meta, both) + shift + slope * days[p.path]))
    first = min(leg, key=lambda p: times[p.path])
    return ClockEstimate(
        camera_label(key), float(round(shift)), float(spread),
        tuple(sorted(kept, key=lambda p: p.camera_path)), len(candidates) - len(kept),
        tuple(p.id for p in leg), tuple(p.path for p in leg), tuple(p.meta.datetime_original for p in leg),
        drift_s_per_day=round(slope, 2), drift_from=first.meta.datetime_original if slope else None,
        offsets=tuple(offsets),
        with_cameras=tuple(sorted(with_cameras.items(), key=lambda kn: (-kn[1], kn[0]))))


def _explained(estimates: list[ClockEstimate], sessions: list[list[Photo]]) -> list[ClockEstimate]:
    """The estimates, with an explanation where one shift does not say it all (explain.leg_reasons); a session's
    legs are explained together."""
    session_of = {p.path: k for k, session in enumerate(sessions) for p in session}
    by_session: dict[int, list[int]] = defaultdict(list)
    for n, e in enumerate(estimates):
        by_session[session_of[e.paths[0]]].append(n)
    out = list(estimates)
    for members in by_session.values():
        legs = [(estimates[n].shift_s, estimates[n].offsets, estimates[n].drift_s_per_day) for n in members]
        for n, reason in zip(members, leg_reasons(legs)):
            if reason:
                out[n] = replace(out[n], explanation=reason)
    return out
