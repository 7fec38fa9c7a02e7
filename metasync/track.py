"""Where was the camera? GPS-bearing photos (any device) and GPX logs as one track, interpolated in time."""
from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import timezone
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .config import Settings
from .errors import TrackError
from .models import FieldChange, Photo, camera_key, camera_label
from .timeutil import format_duration, utc_epoch

EARTH_RADIUS_M = 6_371_008.8

# Accuracy of the fixes themselves: a phone's photo GPS is rougher than a logger's track point.
_FIX_ERROR_M = {"photo": 10.0, "gpx": 5.0}
# Between two fixes the traveller may wander off the straight line; this fraction of the distance they could cover
# (at the pace implied by the two fixes, never less than a stroll) bounds how far, per second to the nearer fix.
_WANDER_FRACTION = 0.25
_MIN_PACE_MPS = 0.5
# A single fix tells no pace: assume walking away from it.
_EXTRAP_PACE_MPS = 1.0
# Beyond a track's end the walk is continued at the pace and in the direction of its last stretch. A stroller's
# heading wanders like a random walk, about 12 degrees a minute; the sideways spread that leaves after `dt` seconds
# of a stretch of `span` seconds is pace * dt * wander * sqrt((span + dt) / 3), and the error radius stated is the
# one that holds nine times in ten. The wandering also shortens the way made good: `_reach` is the expected
# distance along the stretch's direction, in seconds of pace (without it, long continuations overshoot).
_HEADING_WANDER = math.radians(12.0) / math.sqrt(60.0)  # radians per square-root second
_RADIUS_90 = 1.645
_MIN_SPAN_S = 60.0  # the stretch continued spans at least this much of the track (a logger's points are seconds apart)
# Times this close count as the same moment.
_SAME_MOMENT_S = 1.0
# A single fix this close in time places a target by itself, even at a track's end (a camera shot seconds before
# the phone's first shot): nothing else could tell better.
NEAR_FIX_S = 30.0


@dataclass(frozen=True)
class Fix:
    """One known position at one UTC instant; `source` is the photo path or "track.gpx#index"."""

    utc: float
    lat: float
    lon: float
    alt: float | None = None
    source: str = ""
    kind: str = "photo"  # photo | gpx
    device: str = ""  # whose track it is: the camera that took the photo, or the GPX log's file name

    @property
    def label(self) -> str:
        name = self.source.rsplit("/", 1)[-1]
        return name.rsplit(".", 1)[0] if self.kind == "photo" else name


@dataclass(frozen=True)
class PositionEstimate:
    lat: float
    lon: float
    alt: float | None
    error_m: float
    sources: tuple[str, ...]  # the fixes used, earlier first
    method: str  # same_moment | interpolated | extrapolated | nearest
    reason: str
    nearest: str  # the source of the fix closest in time
    nearest_dt_s: float = 0.0  # how far in time that fix is

    @property
    def confidence(self) -> float:
        """1 for a perfect fix, 0.5 at a 200 m error radius, falling smoothly beyond."""
        return 1.0 / (1.0 + self.error_m / 200.0)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _to_vec(lat: float, lon: float) -> tuple[float, float, float]:
    p, l = math.radians(lat), math.radians(lon)
    return (math.cos(p) * math.cos(l), math.cos(p) * math.sin(l), math.sin(p))


def great_circle_point(lat1: float, lon1: float, lat2: float, lon2: float, f: float) -> tuple[float, float]:
    """The point a fraction `f` of the way from 1 to 2 along the great circle (spherical linear interpolation)."""
    a, b = _to_vec(lat1, lon1), _to_vec(lat2, lon2)
    dot = max(-1.0, min(1.0, sum(x * y for x, y in zip(a, b))))
    omega = math.acos(dot)
    if omega < 1e-12:
        return lat1, lon1
    s = math.sin(omega)
    wa, wb = math.sin((1 - f) * omega) / s, math.sin(f * omega) / s
    x, y, z = (wa * p + wb * q for p, q in zip(a, b))
    return math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x))


def photo_fixes(photos: Iterable[Photo], times: Mapping[int, float] | None = None) -> list[Fix]:
    """Fixes from every photo that has GPS and a capture time (UTC from `times` by photo id when given, so the
    track and its targets read naive times alike), sorted by UTC."""
    out = []
    for p in photos:
        if not p.meta.has_gps:
            continue
        t = utc_epoch(p.meta) if times is None else times.get(p.id)
        if t is None:
            continue
        key = camera_key(p.meta)
        out.append(Fix(t, p.meta.gps_latitude, p.meta.gps_longitude, p.meta.gps_altitude, p.path, "photo",
                       camera_label(key) if key else ""))
    out.sort(key=lambda f: f.utc)
    return out


def load_gpx(path: Path | str) -> list[Fix]:
    """Every timed point of a GPX file (tracks, routes and waypoints), sorted by UTC."""
    import gpxpy
    import gpxpy.gpx

    path = Path(path)
    try:
        with path.open("r", encoding="utf-8") as fh:
            gpx = gpxpy.parse(fh)
    except (OSError, UnicodeDecodeError, gpxpy.gpx.GPXException) as exc:
        raise TrackError(f"cannot read GPX log {path}: {exc}") from exc
    points = [pt for tr in gpx.tracks for seg in tr.segments for pt in seg.points]
    points += [pt for rt in gpx.routes for pt in rt.points] + list(gpx.waypoints)
    out = []
    for i, pt in enumerate(points):
        if pt.time is None:
            continue
        when = pt.time if pt.time.tzinfo is not None else pt.time.replace(tzinfo=timezone.utc)
        out.append(Fix(when.timestamp(), pt.latitude, pt.longitude, pt.elevation, f"{path}#{i}", "gpx", path.name))
    out.sort(key=lambda f: f.utc)
    return out


def load_logs(paths: Iterable[Path | str]) -> list[Fix]:
    """Every point of several GPX logs as one track."""
    return merge_fixes(*(load_gpx(p) for p in paths))


def merge_fixes(*sources: Iterable[Fix]) -> list[Fix]:
    """One track from several sources, sorted by UTC (at equal times a GPX point comes first)."""
    return sorted((f for src in sources for f in src), key=lambda f: (f.utc, f.kind != "gpx"))


def _when(dt: float, direction: str) -> str:
    return f"{format_duration(dt)} {direction}"


def _nearest(target: float, fix: Fix, settings: Settings) -> PositionEstimate | None:
    dt = abs(fix.utc - target)
    if dt > settings.max_extrap_s:
        return None
    err = _FIX_ERROR_M[fix.kind] + _EXTRAP_PACE_MPS * dt
    if dt <= _SAME_MOMENT_S:
        return PositionEstimate(fix.lat, fix.lon, fix.alt, err, (fix.source,), "same_moment",
                                f"taken at the same moment as {fix.label}, ±{err:.0f} m", fix.source, dt)
    direction = "before" if fix.utc < target else "after"
    return PositionEstimate(fix.lat, fix.lon, fix.alt, err, (fix.source,), "nearest",
                            f"nearest fix {fix.label} ({_when(dt, direction)}), ±{err:.0f} m", fix.source, dt)


def _stretch(before: Fix, after: Fix, settings: Settings) -> float | None:
    """The distance between two consecutive fixes when the track may be interpolated between them (at most
    max_interp_gap_s apart, no faster than max_speed_mps); None otherwise."""
    gap = after.utc - before.utc
    dist = distance_m(before.lat, before.lon, after.lat, after.lon)
    if gap <= 0 or gap > settings.max_interp_gap_s or dist / gap > settings.max_speed_mps:
        return None
    return dist


def estimate_position(target_utc: float, fixes: Sequence[Fix], settings: Settings,
                      linked: Sequence[str] = ()) -> PositionEstimate | None:
    """Where the camera was at `target_utc`, from fixes sorted by UTC; None when no fix is close enough.

    Each device's fixes are a track of their own: two people at one event walk apart, and a line between one's
    fix and the other's is nobody's path. A GPS log the user gave is the track of the cameras being placed (as in
    ExifTool's geotagging) and comes first; then `linked` (the devices whose photos look like the target's, most
    alike first); only when none of them places the moment, the track that places it most tightly. Its device is
    named in the reason.
    """
    tracks: dict[str, list[Fix]] = defaultdict(list)
    for f in fixes:
        tracks[f.device].append(f)
    if len(tracks) == 1:
        return _on_track(target_utc, fixes, settings)
    found = {d: e for d, track in tracks.items() if (e := _on_track(target_utc, track, settings)) is not None}
    logs = [d for d, track in tracks.items() if track[0].kind == "gpx"]
    device = next((d for d in (*logs, *linked) if d in found), None)
    if device is None and found:
        device = min(found, key=lambda d: (found[d].error_m, d))
    if device is None:
        return None
    est = found[device]
    by = ("a GPS log" if device in logs else "linked by look-alike photos" if device in linked else
          "the only track near that moment" if len(found) == 1 else "the closest of several tracks")
    return replace(est, reason=f"{est.reason}, on the track of {device or 'an unnamed device'} ({by})")


def _on_track(target_utc: float, fixes: Sequence[Fix], settings: Settings) -> PositionEstimate | None:
    """estimate_position on one device's track: between a fix before and a fix after that are at most
    max_interp_gap_s apart, at no more than max_speed_mps, linear in time along the great circle; beyond the
    track's end (or a gap it cannot be drawn across), the nearer end's stretch continued; with no stretch to
    continue, the nearer fix alone, within max_extrap_s."""
    i = bisect.bisect_left(fixes, target_utc, key=lambda f: f.utc)
    before = fixes[i - 1] if i > 0 else None
    after = fixes[i] if i < len(fixes) else None
    near = [f for f in (before, after) if f is not None]
    if not near:
        return None
    closest = min(near, key=lambda f: abs(f.utc - target_utc))
    if abs(closest.utc - target_utc) <= _SAME_MOMENT_S:
        return _nearest(target_utc, closest, settings)
    dist = _stretch(before, after, settings) if before is not None and after is not None else None
    if dist is None:
        end = i - 1 if closest is before else i
        continued = _continued(target_utc, fixes, end, -1 if closest is before else 1, settings)
        return continued or _nearest(target_utc, closest, settings)
    gap = after.utc - before.utc
    f = (target_utc - before.utc) / gap
    lat, lon = great_circle_point(before.lat, before.lon, after.lat, after.lon, f)
    alt = None
    if before.alt is not None and after.alt is not None:
        alt = before.alt + f * (after.alt - before.alt)
    pace = max(dist / gap, _MIN_PACE_MPS)
    t_near = min(target_utc - before.utc, after.utc - target_utc)
    err = max(_FIX_ERROR_M[before.kind], _FIX_ERROR_M[after.kind]) + _WANDER_FRACTION * pace * t_near
    reason = (f"interpolated between {before.label} ({_when(target_utc - before.utc, 'before')}) and "
              f"{after.label} ({_when(after.utc - target_utc, 'after')}), ±{err:.0f} m")
    return PositionEstimate(lat, lon, alt, err, (before.source, after.source), "interpolated", reason,
                            closest.source, t_near)


def _continued(target_utc: float, fixes: Sequence[Fix], end: int, step: int,
               settings: Settings) -> PositionEstimate | None:
    """The track's last stretch up to fixes[end] (walking `step` away from the target, to the first fix at least
    _MIN_SPAN_S from it, so that fix noise does not set the heading) continued to `target_utc` (dead reckoning),
    when that stretch may be drawn and the target lies at most max_interp_gap_s beyond its end; the altitude stays
    the end's."""
    last, k = fixes[end], end + step
    while 0 <= k < len(fixes) and abs(fixes[k].utc - last.utc) < _MIN_SPAN_S:
        k += step
    dt = abs(target_utc - last.utc)
    if not 0 <= k < len(fixes) or dt > settings.max_interp_gap_s:
        return None
    far = fixes[k]
    first, final = (far, last) if far.utc < last.utc else (last, far)
    dist = _stretch(first, final, settings)
    if dist is None:
        return None
    span = final.utc - first.utc
    pace = max(dist / span, _MIN_PACE_MPS)
    ahead = 1.0 + _reach(span, dt) / span
    lat, lon = great_circle_point(far.lat, far.lon, last.lat, last.lon, ahead) if dist else (last.lat, last.lon)
    fix_err = max(_FIX_ERROR_M[far.kind], _FIX_ERROR_M[last.kind])
    wander = pace * dt * _HEADING_WANDER * math.sqrt((span + dt) / 3.0)
    noise = fix_err * math.sqrt(2.0) * dt / span  # the two fixes' own errors, carried on by the same ratio
    err = fix_err + _RADIUS_90 * math.hypot(wander, noise)
    reason = (f"continued from {first.label} and {final.label} at {dist / span:.1f} m/s, "
              f"{_when(dt, 'after' if target_utc > last.utc else 'before')} {last.label}, ±{err:.0f} m")
    return PositionEstimate(lat, lon, last.alt, err, (first.source, final.source), "extrapolated", reason,
                            last.source, dt)


def _reach(span: float, dt: float) -> float:
    """The expected way made good along a stretch's direction `dt` seconds beyond its end, in seconds at its pace:
    the integral of E[cos heading error] = exp(-var / 2), where the stretch's direction is the mean heading over
    its `span` (off the end's heading by a variance of wander^2 * span / 3) and the heading wanders on."""
    half = _HEADING_WANDER ** 2 / 2.0
    return math.exp(-half * span / 3.0) * -math.expm1(-half * dt) / half


@dataclass(frozen=True)
class Passage:
    """When the interpolated track went past a point: `utc` at its closest, `metres` away, give or take `blur_s`
    (half the time it stayed within the search radius: a slow track places a moment loosely); `fix` is the nearer
    end of that stretch."""

    utc: float
    metres: float
    blur_s: float
    fix: Fix


class FixGrid:
    """Fixes sorted by time, bucketed in cubes of `cell_m` (unit-sphere vectors scaled to the Earth), to find the
    fixes near a point without comparing it with every fix."""

    def __init__(self, fixes: Sequence[Fix], cell_m: float) -> None:
        self.fixes, self.cell_m = fixes, cell_m
        self._cells: dict[tuple[int, int, int], list[int]] = defaultdict(list)
        for i, f in enumerate(fixes):
            self._cells[self._cell(f.lat, f.lon)].append(i)

    def _cell(self, lat: float, lon: float) -> tuple[int, int, int]:
        x, y, z = (math.floor(c * EARTH_RADIUS_M / self.cell_m) for c in _to_vec(lat, lon))
        return x, y, z

    def near(self, lat: float, lon: float) -> list[int]:
        """Indices of every fix within cell_m of the point (and some a little further), ascending."""
        cx, cy, cz = self._cell(lat, lon)
        return sorted(i for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1)
                      for i in self._cells.get((cx + dx, cy + dy, cz + dz), ()))


def passages(grid: FixGrid, lat: float, lon: float, radius_m: float, settings: Settings,
             window: tuple[float, float] = (-math.inf, math.inf)) -> list[Passage]:
    """Every time within `window` (UTC) that the track, interpolated as estimate_position does, came within
    `radius_m` of a point: the inverse of interpolation. Only stretches with an end within grid.cell_m of the
    point are looked at."""
    fixes, out, seen = grid.fixes, [], set()
    for j in grid.near(lat, lon):
        for a in (j - 1, j):
            if a < 0 or a + 1 >= len(fixes) or a in seen or not window[0] <= fixes[j].utc <= window[1]:
                continue
            seen.add(a)
            start, end = fixes[a], fixes[a + 1]
            dist = _stretch(start, end, settings)
            if dist is None:
                continue
            # a flat frame in metres around the stretch's start: fine over the few km a stretch covers
            bx, by = _local_m(start, end.lat, end.lon)
            px, py = _local_m(start, lat, lon)
            f = min(1.0, max(0.0, (px * bx + py * by) / (bx * bx + by * by))) if bx or by else 0.0
            metres = math.hypot(px - f * bx, py - f * by)
            if metres > radius_m:
                continue
            gap = end.utc - start.utc
            blur = math.sqrt(radius_m ** 2 - metres ** 2) * gap / dist if dist else math.inf
            out.append(Passage(start.utc + f * gap, metres, blur, start if f < 0.5 else end))
    out.sort(key=lambda p: (p.utc, p.metres))
    # a passage at a fix shared by two stretches counts once
    return [p for k, p in enumerate(out) if k == 0 or p.utc - out[k - 1].utc > _SAME_MOMENT_S]


def _local_m(origin: Fix, lat: float, lon: float) -> tuple[float, float]:
    """(east, north) metres of a point from `origin` (equirectangular)."""
    dlon = (lon - origin.lon + 540.0) % 360.0 - 180.0
    k = math.radians(1.0) * EARTH_RADIUS_M
    return dlon * k * math.cos(math.radians(origin.lat)), (lat - origin.lat) * k


def as_guess(why: str) -> str:
    """A value the rules do not vouch for, in the words every such proposal uses."""
    return f"{why}: a guess, yours to confirm"


def gps_changes(target: Photo, target_utc: float | None, fixes: Sequence[Fix], settings: Settings,
                linked: Sequence[str] = (), guesses: bool = False, doubt: str | None = None) -> list[FieldChange]:
    """GPS for a target without any, from the track at its capture time: interpolated, continued beyond the
    track's end with an error radius of at most max_gps_error_m, or from a fix within NEAR_FIX_S; [] otherwise
    (a single fix further away is the group's own rules' business: they also weigh disagreeing sources). With
    `guesses`, a continuation with a wider radius is proposed as a conflict, for the user to confirm, and so is
    any position when the target's clock is in `doubt` (why; without `guesses`, none).

    The change's source is the fix nearest in time; the reason names the fixes and the error radius.
    """
    if target.meta.has_gps or target_utc is None:
        return []
    est = estimate_position(target_utc, fixes, settings, linked)
    if est is None or (est.method in ("nearest", "same_moment") and est.nearest_dt_s > NEAR_FIX_S):
        return []
    wide = est.method == "extrapolated" and est.error_m > settings.max_gps_error_m
    guess = wide or doubt is not None
    if guess and not guesses:
        return []
    why = f"more than max_gps_error_m, {settings.max_gps_error_m:.0f} m" if wide else doubt
    reason = est.reason + (f" ({as_guess(why)})" if why else "")
    conf = round(est.confidence, 4)
    values = {"gps_latitude": round(est.lat, 7), "gps_longitude": round(est.lon, 7)}
    if est.alt is not None and target.meta.gps_altitude is None:
        values["gps_altitude"] = round(est.alt, 1)
    return [FieldChange(target.path, f, getattr(target.meta, f), v, est.nearest, reason, conf, guess)
            for f, v in values.items()]
