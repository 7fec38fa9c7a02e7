"""What each target of a group should receive, by the seed's transfer rules. A plan is data; nothing is written here.

Rules (per target and field; a target never loses or changes a value except where a rule says so):
- GPS when the target has none, from the best source (see choose_gps).
- Date/time when the target has none; a differing time is corrected only from a same-shot source (near-duplicate)
  and only when the times differ by more than time_fix_min_s.
- Camera and exposure fields only from a same-shot source; group option copy_camera=true forces make/model.
- Place names from the source when it has them; tags merged, never removed.
- Sources that disagree (GPS beyond conflict_gps_m, same-shot times beyond time_fix_min_s): the most likely value
  (majority of sources, then nearest in time) is proposed with conflict=True and the alternatives.
- Per-field user overrides win over everything.
Time and place (issue 6): a target whose time falls between two GPS fixes of the group (any device, close in time,
at a plausible speed) gets a position interpolated along the track, even where sources further away disagree (a copy
has its original's time: it is never interpolated, it takes the original's GPS). Targets with GPS (own or planned)
and a local time without offset get the zone's offset; targets that name no place get names from an offline
gazetteer. Time-shift groups (camera clocks) and place groups have planners of their own.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from .config import Settings
from .geocode import plan_locations
from .models import CANONICAL_FIELDS, FieldChange, Group, Photo, Plan
from .score import VISUAL_REACH, PairScores, Score, capture_times, source_priority
from .track import Fix, distance_m, gps_changes, merge_fixes, photo_fixes

GPS_FIELDS = ("gps_latitude", "gps_longitude", "gps_altitude")
CAMERA_FIELDS = ("make", "model", "serial_number", "lens_model", "iso", "f_number", "exposure_time", "focal_length")
FORCED_CAMERA_FIELDS = ("make", "model")
PLACE_FIELDS = ("city", "state", "country", "country_code")
# A change in conflict is proposed at this fraction of its confidence.
CONFLICT_FACTOR = 0.5
_FIELD_ORDER = {f: k for k, f in enumerate(CANONICAL_FIELDS)}


@dataclass(frozen=True)
class Candidate:
    """A source as seen from one target: the evidence between them and the source's priority."""

    photo: Photo
    score: Score
    priority: int

    @property
    def rank(self) -> tuple:
        """Best first: the same shot, then nearest in time, then highest priority, then most alike."""
        s = self.score
        return (not s.same_shot, abs(s.dt_s) if s.dt_s is not None else float("inf"), -self.priority,
                s.phash_distance if s.phash_distance is not None else 65, self.photo.path)


@dataclass(frozen=True)
class Choice:
    """The chosen source for a value, whether sources disagreed, and the best source of each other opinion."""

    source: Candidate
    conflict: bool = False
    alternatives: tuple[Candidate, ...] = ()


def most_likely(ranked: list[Candidate], agree: Callable[[Photo, Photo], bool]) -> Choice:
    """Cluster candidates (best ranked first) into opinions; the largest opinion wins, ties go to the best ranked."""
    opinions: list[list[Candidate]] = []
    for c in ranked:
        for op in opinions:
            if agree(op[0].photo, c.photo):
                op.append(c)
                break
        else:
            opinions.append([c])
    winner = max(opinions, key=len)  # max keeps the first (best ranked) among equals
    return Choice(winner[0], len(opinions) > 1, tuple(op[0] for op in opinions if op is not winner))


def same_shots(cands: list[Candidate]) -> list[Candidate]:
    """The target's original(s): same-shot sources at the smallest pHash distance (a copy has one original;
    only equally near candidates leave a real doubt)."""
    same = [c for c in cands if c.score.same_shot]
    nearest = min((c.score.phash_distance for c in same), default=None)
    return [c for c in same if c.score.phash_distance == nearest]


def _relevant(cands: list[Candidate], settings: Settings) -> list[Candidate]:
    """Same-shot sources speak for the target; otherwise those within reach in time (as far as a link can reach,
    so every source that could have linked has a say); otherwise all."""
    same = same_shots(cands)
    if same:
        return same
    reach = VISUAL_REACH * settings.time_window_s
    near = [c for c in cands if c.score.dt_s is not None and abs(c.score.dt_s) <= reach]
    return near or cands


def choose_gps(target: Photo, candidates: list[Candidate], settings: Settings) -> Choice | None:
    """The source whose GPS a target without GPS receives (None: keep as is).

    The one place that picks a GPS source (issue 6 plugs track interpolation in here).
    """
    if target.meta.gps_latitude is not None or target.meta.gps_longitude is not None:
        return None
    cands = _relevant([c for c in candidates if c.photo.meta.has_gps], settings)
    if not cands:
        return None

    def agree(a: Photo, b: Photo) -> bool:
        return distance_m(a.meta.gps_latitude, a.meta.gps_longitude,
                          b.meta.gps_latitude, b.meta.gps_longitude) <= settings.conflict_gps_m

    return most_likely(cands, agree)


def choose_time(target: Photo, candidates: list[Candidate], times: dict[int, float],
                settings: Settings) -> Choice | None:
    """The source whose capture time the target receives: when it has none, or a same-shot correction."""
    timed = [c for c in candidates if c.photo.id in times]
    same = same_shots(timed)

    def agree(a: Photo, b: Photo) -> bool:
        return abs(times[a.id] - times[b.id]) <= settings.time_fix_min_s

    if target.meta.datetime_original is None:
        if same:
            return most_likely(same, agree)
        return Choice(timed[0]) if timed else None  # another photo's time: the best approximation, no dispute
    if not same or target.id not in times:
        return None
    choice = most_likely(same, agree)
    if abs(times[target.id] - times[choice.source.photo.id]) <= settings.time_fix_min_s:
        return None
    return choice


def plan_group(group: Group, photos: dict[int, Photo], settings: Settings,
               overrides: dict[tuple[int, str], Any] | None = None, logs: Sequence[Fix] = ()) -> Plan:
    """The changes the group's targets should receive, with reasons, confidences and conflicts.

    `logs`: points of GPS track logs (track.load_logs), fixes beside the photos' own."""
    if group.kind == "time_shift":  # camera clock corrections (issue 6) have their own planner
        from .clock import plan_time_shift

        return plan_time_shift(group, list(photos.values()), settings, overrides)
    if group.kind == "place":  # GPS from logs, offsets and place names (issue 6)
        from .geocode import plan_place_group

        return plan_place_group(group, photos, settings, overrides, logs)
    members = [m for m in group.members if m.photo_id in photos]
    times = capture_times(photos[m.photo_id] for m in members)
    track = merge_fixes(photo_fixes((photos[m.photo_id] for m in members), times), logs)
    pool = [photos[m.photo_id] for m in members]
    src = [k for k, m in enumerate(members) if m.is_source]
    tgt = [k for k, m in enumerate(members) if not m.is_source]
    scores = PairScores(pool, [times.get(p.id) for p in pool], (t for t in tgt for _ in src),
                        (s for _ in tgt for s in src), settings)  # every target against every source, at once
    priority = {k: source_priority(pool[k]) for k in src}
    every = scores.scores()
    changes: list[FieldChange] = []
    for n, t in enumerate(tgt):
        row = range(n * len(src), (n + 1) * len(src))
        ranked = sorted((Candidate(pool[s], every[k], priority[s]) for k, s in zip(row, src)),
                        key=lambda c: c.rank)
        changes.extend(_target_changes(pool[t], ranked, times, group, settings, track))
    overrides = overrides or {}
    changes = _apply_overrides(changes, group, photos, overrides)
    # zone offsets and place names follow the GPS as the plan (and the user) leave it; from a disputed GPS they
    # are disputed too, and a field the user set stays theirs
    hand = {(photos[pid].path, f) for pid, f in overrides if pid in photos}
    disputed = {c.path for c in changes if c.field in ("gps_latitude", "gps_longitude") and c.conflict}
    for c in plan_locations([photos[m.photo_id] for m in members if not m.is_source], changes):
        if (c.path, c.field) not in hand:
            changes.append(replace(c, conflict=True, reason=f"{c.reason} (from a disputed GPS)")
                           if c.path in disputed else c)
    changes.sort(key=lambda c: (c.path, _FIELD_ORDER.get(c.field, 99)))
    return Plan(group.id, tuple(changes))


def _confidence(c: Candidate, group: Group, conflict: bool = False) -> float:
    """The link's own confidence; a source linked only through others borrows half the group's."""
    conf = c.score.confidence if c.score.confidence > 0 else 0.5 * group.confidence
    return round(conf * (CONFLICT_FACTOR if conflict else 1.0), 4)


def _change(target: Photo, field: str, choice: Choice, rule: str, group: Group,
            value: Callable[[Photo], Any] | None = None) -> FieldChange:
    get = value or (lambda p: getattr(p.meta, field))
    src = choice.source
    reason = f"{rule}: {src.score.reasons()}"
    if choice.conflict:
        others = "; ".join(f"{a.photo.name} says {get(a.photo)!r}" for a in choice.alternatives)
        reason += f" (sources disagree: {others})"
    return FieldChange(target.path, field, getattr(target.meta, field), get(src.photo), src.photo.path, reason,
                       _confidence(src, group, choice.conflict), choice.conflict,
                       tuple(get(a.photo) for a in choice.alternatives))


def _target_changes(target: Photo, ranked: list[Candidate], times: dict[int, float], group: Group,
                    settings: Settings, track: Sequence[Fix] = ()) -> list[FieldChange]:
    meta = target.meta
    out: list[FieldChange] = []
    gps = choose_gps(target, ranked, settings)
    located = gps_changes(target, times.get(target.id), track, settings)
    if located:  # between two fixes of the track, close and consistent: interpolated (issue 6)
        out.extend(located)
        gps = None
    elif gps is not None:
        for f in GPS_FIELDS:
            if getattr(gps.source.photo.meta, f) is not None and getattr(meta, f) is None:
                out.append(_change(target, f, gps, "no GPS", group))
    when = choose_time(target, ranked, times, settings)
    if when is not None:
        src = when.source.photo.meta
        rule = "no capture time" if meta.datetime_original is None else "clock differs from the same shot"
        out.append(_change(target, "datetime_original", when, rule, group))
        if src.offset_time is not None and src.offset_time != meta.offset_time:
            out.append(_change(target, "offset_time", when, rule, group))
    same = same_shots(ranked)
    if same and meta.offset_time is None and when is None and meta.datetime_original is not None:
        with_offset = [c for c in same if c.photo.meta.offset_time is not None]
        if with_offset:
            out.append(_change(target, "offset_time", Choice(with_offset[0]), "offset of the same shot", group))
    for f in CAMERA_FIELDS:
        if getattr(meta, f) is not None:
            continue
        givers = [c for c in same if getattr(c.photo.meta, f) is not None]
        rule = "camera of the same shot"
        if not givers and f in FORCED_CAMERA_FIELDS and group.options.get("copy_camera"):
            givers, rule = [c for c in ranked if getattr(c.photo.meta, f) is not None], "group option copy_camera"
        if givers:
            out.append(_change(target, f, Choice(givers[0]), rule, group))
    out.extend(_place_changes(target, ranked, gps, group))
    tags = _merged_tags(target, ranked, group)
    if tags is not None:
        out.append(tags)
    return out


def _place_changes(target: Photo, ranked: list[Candidate], gps: Choice | None, group: Group) -> list[FieldChange]:
    """Place names from the GPS source when it has them, else from the best source that has them."""
    missing = [f for f in PLACE_FIELDS if getattr(target.meta, f) is None]
    if not missing:
        return []

    def named(c: Candidate) -> bool:
        return any(getattr(c.photo.meta, f) is not None for f in PLACE_FIELDS)

    if gps is not None and named(gps.source):
        choice = gps
    else:
        givers = [c for c in ranked if named(c)]
        if not givers:
            return []
        if target.meta.has_gps:  # the nearest named place to where the target says it is
            givers.sort(key=lambda c: c.score.distance_m if c.score.distance_m is not None else float("inf"))
        choice = Choice(givers[0])
    return [_change(target, f, choice, "place of the source", group) for f in missing
            if getattr(choice.source.photo.meta, f) is not None]


def _merged_tags(target: Photo, ranked: list[Candidate], group: Group) -> FieldChange | None:
    have = list(target.meta.tags)
    givers = []
    for c in ranked:
        new = [t for t in c.photo.meta.tags if t not in have]
        if new:
            have.extend(new)
            givers.append(c)
    if not givers:
        return None
    names = ", ".join(c.photo.name for c in givers)
    return FieldChange(target.path, "tags", target.meta.tags, tuple(have), givers[0].photo.path,
                       f"tags merged from {names}", max(_confidence(c, group) for c in givers))


def _apply_overrides(changes: list[FieldChange], group: Group, photos: dict[int, Photo],
                     overrides: dict[tuple[int, str], Any]) -> list[FieldChange]:
    """A user's value for (photo, field) replaces any planned change; a hand-set location also drops what came
    with a disputed GPS source (altitude, place names)."""
    if not overrides:
        return changes
    paths = {m.photo_id: photos[m.photo_id].path for m in group.members if m.photo_id in photos}
    set_by_hand = {(paths[pid], f) for pid, f in overrides if pid in paths}
    located = {p for p, f in set_by_hand if f in ("gps_latitude", "gps_longitude")}
    kept = [c for c in changes if (c.path, c.field) not in set_by_hand
            and not (c.path in located and c.field in (*GPS_FIELDS, *PLACE_FIELDS) and c.conflict)]
    for (pid, f), value in sorted(overrides.items()):
        if pid not in paths:
            continue
        old = getattr(photos[pid].meta, f)
        new = tuple(value) if f == "tags" else value
        if new != old:
            kept.append(FieldChange(paths[pid], f, old, new, None, "set by hand", 1.0))
    return kept
