"""What each target of a group should receive, by the transfer rules below. A plan is data; nothing is written here.

Rules (per target and field; a target never loses or changes a value except where a rule says so):
- GPS when the target has none, from the best source (see choose_gps).
- Date/time when the target has none; a differing time is corrected only from a same-shot source (near-duplicate)
  and only when the times differ by more than time_fix_min_s.
- Camera and exposure fields only from a same-shot source (equally near originals that disagree: a conflict);
  group option copy_camera=true forces make/model.
- Place names from the source when it has names of its own (not just the gazetteer's at its position: the
  target looks up its own); tags merged, never removed.
- Sources that disagree (GPS beyond conflict_gps_m, same-shot times beyond time_fix_min_s): the most likely value
  (majority of sources, then nearest in time) is proposed with conflict=True and the alternatives.
- A copy (a photo naming no camera, the same shot as one that does) takes time, place and camera from its
  original, which may be another target (copies.py); a messenger copy without an original gets no time.
- Per-field user overrides win over everything.
Time and place: a target whose time falls between two GPS fixes of the group (any device, close in time,
at a plausible speed) gets a position interpolated along the track, even where sources further away disagree (a copy
has its original's time: it is never interpolated, it takes the original's GPS). Targets with GPS (own or planned)
and a local time without offset get the zone's offset; targets that name no place get names from an offline
gazetteer. Time-shift groups (camera clocks) and place groups have planners of their own.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from itertools import takewhile
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from ..config import Settings
from ..detect.score import CONFLICT_FACTOR, VISUAL_REACH, PairScores, capture_times, describe, source_priority
from ..fields import CAMERA_FIELDS, FIELDS, GPS_FIELDS, PLACE_FIELDS, POSITION_FIELDS
from ..lookups import Lookups
from ..models import CANONICAL_FIELDS, FieldChange, Group, Photo, Plan, camera_key, camera_label
from ..timeutil import format_duration
from ..track import Fix, as_guess, gps_changes, merge_fixes, photo_fixes
from .agree import gps_agreement, opinions, times_agree
from .copies import with_originals
from .place import named_beyond_position, plan_locations_batch

FORCED_CAMERA_FIELDS = ("make", "model")
# Event groups are planned together in batches of about this many (target, source) pairs.
PAIRS_PER_BATCH = 20_000
_FIELD_ORDER = {f: k for k, f in enumerate(CANONICAL_FIELDS)}


@dataclass(frozen=True)
class _Batch:
    """The pairs (target, source) of a batch of groups and what planning reads of them, as Python lists."""

    pool: list[Photo]
    priority: list[int]  # per photo of the pool
    source: list[int]  # per pair: the source's position in the pool
    same_shot: list[bool]
    dt: list[float]  # target - source; nan: unknown
    hd: list[int]  # 99: unknown
    dist: list[float]  # nan: unknown
    confidence: list[float]
    similar: list[bool]
    related: list[bool]  # same folder, or one inside the other

    def candidate(self, k: int) -> "Candidate":
        j = self.source[k]
        return Candidate(self.pool[j], self.priority[j], self, k)


@dataclass(slots=True)
class Candidate:
    """A source as seen from one target: the evidence between them (pair k of the batch) and the source's
    priority."""

    photo: Photo
    priority: int
    batch: _Batch
    k: int
    why: str | None = None

    @property
    def same_shot(self) -> bool:
        return self.batch.same_shot[self.k]

    @property
    def dt_s(self) -> float | None:
        v = self.batch.dt[self.k]
        return None if v != v else v  # nan != nan

    @property
    def phash_distance(self) -> int | None:
        v = self.batch.hd[self.k]
        return None if v == 99 else v

    @property
    def distance_m(self) -> float | None:
        v = self.batch.dist[self.k]
        return None if v != v else v

    @property
    def confidence(self) -> float:
        return self.batch.confidence[self.k]

    @property
    def reasons(self) -> str:
        """The evidence in words (one source often gives several fields: worded once)."""
        if self.why is None:
            b, k = self.batch, self.k
            self.why = describe(self.photo.path, self.dt_s, self.distance_m, self.phash_distance, b.similar[k],
                                b.same_shot[k], b.related[k])
        return self.why


class Ranked:
    """A target's sources, best first: the same shot, then nearest in time, then highest priority, then most
    alike, then by path. Made into Candidates only as far as they are read: most rules stop at the same shot or at
    the edge of the time reach, and a library has tens of thousands of (target, source) pairs."""

    __slots__ = ("_batch", "_order", "_made")

    def __init__(self, batch: _Batch, order: list[int]) -> None:
        self._batch, self._order, self._made = batch, order, []

    def __iter__(self) -> Iterator[Candidate]:
        made, order = self._made, self._order
        for n, k in enumerate(order):
            if n == len(made):
                made.append(self._batch.candidate(k))
            yield made[n]

    @property
    def same_shot_first(self) -> bool:
        """Whether any source is the same shot (they rank first), asked without making a Candidate."""
        return bool(self._order) and self._batch.same_shot[self._order[0]]

    def linked_devices(self) -> list[str]:
        """The devices of the sources that look like the target (the same shot or similar), most such sources
        first: the evidence that the target's camera went where their tracks went."""
        pool, source, b = self._batch.pool, self._batch.source, self._batch
        votes: Counter[str] = Counter()
        for k in self._order:
            if b.same_shot[k] or b.similar[k]:
                key = camera_key(pool[source[k]].meta)
                if key is not None:
                    votes[camera_label(key)] += 2 if b.same_shot[k] else 1
        return [d for d, _ in votes.most_common()]

    def among(self, ids: frozenset[int]) -> Iterator[Candidate]:
        """The sources whose photo id is in `ids`, best first (the others are never made)."""
        pool, source = self._batch.pool, self._batch.source
        for n, k in enumerate(self._order):
            if pool[source[k]].id in ids:
                yield self._made[n] if n < len(self._made) else self._batch.candidate(k)


@dataclass(frozen=True)
class Choice:
    """The chosen source for a value, whether it needs the user's decision (sources disagree, or the value is a
    guess the rules do not vouch for: `note` says why), and the best source of each other opinion."""

    source: Candidate
    conflict: bool = False
    alternatives: tuple[Candidate, ...] = ()
    note: str = ""


def most_likely(ranked: list[Candidate], agree: Callable[[Photo, Photo], bool]) -> Choice:
    """Cluster candidates (best ranked first) into opinions; the largest opinion wins, ties go to the best ranked."""
    best, others = opinions(ranked, lambda a, b: agree(a.photo, b.photo))
    return Choice(best, bool(others), tuple(others))


def same_shots(cands: Iterable[Candidate]) -> list[Candidate]:
    """The target's original(s): same-shot sources at the smallest pHash distance (a copy has one original;
    only equally near candidates leave a real doubt). `cands` in rank order (or a part of it, in order): the
    same-shot sources come first."""
    same = list(takewhile(_is_same_shot, cands))
    nearest = min((c.phash_distance for c in same), default=None)
    return [c for c in same if c.phash_distance == nearest]


def _is_same_shot(c: Candidate) -> bool:
    return c.same_shot


def _relevant(cands: Iterable[Candidate], settings: Settings) -> list[Candidate]:
    """Same-shot sources speak for the target; otherwise those within reach in time (as far as a link can reach,
    so every source that could have linked has a say); otherwise all. `cands` in rank order (or a part of it, in
    order): the same-shot sources, then the others nearest in time first, unknown gaps last; read only as far as
    needed."""
    reach = VISUAL_REACH * settings.time_window_s
    same: list[Candidate] = []
    near: list[Candidate] = []
    rest = iter(cands)
    for c in rest:
        if c.same_shot:
            same.append(c)
        elif same:
            break
        elif c.dt_s is not None and abs(c.dt_s) <= reach:
            near.append(c)
        else:
            return near or [c, *rest]
    return same_shots(same) or near


def choose_gps(target: Photo, candidates: Iterable[Candidate], settings: Settings,
               agree: Callable[[Photo, Photo], bool] | None = None, doubt: str | None = None) -> Choice | None:
    """The source whose GPS a target without GPS receives (None: keep as is).

    The one place that picks a GPS source from the group (track interpolation comes first, see _target_changes).
    A fix farther in time than max_extrap_s (or a target without a time to compare) is no position the rules
    vouch for: it is proposed for the user's decision only, like a dispute; so is any source but the same shot when
    the target's clock is in `doubt` (why). A copy takes its original's, always.
    `agree`: whether two sources' positions agree (gps_agreement; a group passes one that remembers).
    """
    if target.meta.gps_latitude is not None or target.meta.gps_longitude is not None:
        return None
    cands = _relevant((c for c in candidates if c.photo.meta.has_gps), settings)
    if not cands:
        return None
    choice = most_likely(cands, agree or gps_agreement(settings))
    best = choice.source
    if best.same_shot or (doubt is None and best.dt_s is not None and abs(best.dt_s) <= settings.max_extrap_s):
        return choice
    if doubt is None and best.dt_s is None:
        return Choice(best, True, choice.alternatives, "the target has no capture time to place it on the track")
    why = doubt or (f"the nearest fix is {format_duration(abs(best.dt_s))} away, beyond max_extrap_s "
                    f"({format_duration(settings.max_extrap_s)})")
    return Choice(best, True, choice.alternatives, as_guess(why))


def choose_time(target: Photo, candidates: Iterable[Candidate], times: dict[int, float],
                settings: Settings) -> Choice | None:
    """The source whose capture time the target receives: when it has none, or a same-shot correction."""
    timed = (c for c in candidates if c.photo.id in times)
    same = same_shots(timed)

    def agree(a: Photo, b: Photo) -> bool:
        return times_agree(times[a.id], times[b.id], settings)

    if target.meta.datetime_original is None:
        if same:
            return most_likely(same, agree)
        first = next((c for c in candidates if c.photo.id in times), None)
        return Choice(first) if first else None  # another photo's time: the best approximation, no dispute
    if not same or target.id not in times:
        return None
    choice = most_likely(same, agree)
    if times_agree(times[target.id], times[choice.source.photo.id], settings):
        return None
    return choice


def batches(keys: list[int], groups: list[Group]) -> Iterator[list[int]]:
    """`keys` cut into runs whose groups hold about PAIRS_PER_BATCH (target, source) pairs: big enough that numpy
    pays, small enough that a batch's columns (Python lists, one object per pair and column) stay small."""
    chunk: list[int] = []
    pairs = 0
    for key, g in zip(keys, groups):
        sources = sum(m.is_source for m in g.members)
        chunk.append(key)
        pairs += sources * (len(g.members) - sources)
        if pairs >= PAIRS_PER_BATCH:
            yield chunk
            chunk, pairs = [], 0
    if chunk:
        yield chunk


def plan_events(groups: Sequence[Group], photos: dict[int, Photo], settings: Settings, lookups: Lookups,
                overrides: Sequence[dict[tuple[int, str], Any]], doubts: Mapping[int, str] | None = None) -> list[Plan]:
    """The plans of event groups, planned together. `doubts`: photo id -> why its camera's clock is in doubt; such
    a photo is placed by its time (the track, or a source near in time) only as a guess for the user."""
    pool: list[Photo] = []
    when: list[float | None] = []
    parts = []  # per group: its targets' positions in the pool, its sources', its capture times
    for group in groups:
        members = [m for m in group.members if m.photo_id in photos]
        mine = [photos[m.photo_id] for m in members]
        times = capture_times(mine)
        base = len(pool)
        pool += mine
        when += [times.get(p.id) for p in mine]
        parts.append(([base + k for k, m in enumerate(members) if not m.is_source],
                      [base + k for k, m in enumerate(members) if m.is_source], times))
    ranked = iter(_ranked(pool, when, [(tgt, src) for tgt, src, _ in parts], settings))
    named = named_beyond_position([pool[k] for _, src, _ in parts for k in src], lookups.gazetteer)
    drafts = []
    for group, (tgt, src, times), hand in zip(groups, parts, overrides):
        fixes = photo_fixes((pool[k] for k in (*src, *tgt)), times)
        track = merge_fixes(fixes, lookups.logs) if lookups.logs else fixes
        ctx = _Context(group, settings, times, track, len({f.device for f in track}),
                       frozenset(pool[k].id for k in src if pool[k].id in named),
                       frozenset(pool[k].id for k in src if pool[k].meta.tags),
                       gps_agreement(settings, [pool[k] for k in src]), doubts or {})
        changes = [c for t in tgt for c in _target_changes(pool[t], next(ranked), ctx)]
        changes = with_originals(changes, [pool[k] for k in tgt], [pool[k] for k in src], settings)
        drafts.append(_apply_overrides(changes, group, photos, hand))
    located = plan_locations_batch([([pool[k] for k in tgt], changes) for (tgt, _, _), changes in zip(parts, drafts)],
                                   lookups)
    return [_finish(group, photos, changes, more, hand)
            for group, changes, more, hand in zip(groups, drafts, located, overrides)]


def _finish(group: Group, photos: dict[int, Photo], changes: list[FieldChange], located: list[FieldChange],
            overrides: dict[tuple[int, str], Any]) -> Plan:
    """Zone offsets and place names follow the GPS as the plan (and the user) leave it; from a disputed GPS they
    are disputed too, and a field the user set stays theirs."""
    hand = {(photos[pid].path, f) for pid, f in overrides if pid in photos}
    disputed = {c.path for c in changes if c.field in POSITION_FIELDS and c.conflict}
    changes = [replace(c, conflict=True, confidence=round(c.confidence * CONFLICT_FACTOR, 4))
               if c.path in disputed and c.field in PLACE_FIELDS and not c.conflict else c for c in changes]
    for c in located:
        if (c.path, c.field) not in hand:
            changes.append(FieldChange(c.path, c.field, c.old, c.new, c.source, f"{c.reason} (from a disputed GPS)",
                                       c.confidence, True, c.alternatives) if c.path in disputed else c)
    changes.sort(key=_in_order)
    return Plan(group.id, tuple(changes))


def _in_order(c: FieldChange) -> tuple[str, int]:
    """A plan lists its changes by photo, then in canonical field order."""
    return c.path, _FIELD_ORDER.get(c.field, 99)


def _confidence(c: Candidate, group: Group, conflict: bool = False) -> float:
    """The link's own confidence; a source linked only through others borrows half the group's."""
    conf = c.confidence
    if conf <= 0:
        conf = 0.5 * group.confidence
    return round(conf * CONFLICT_FACTOR if conflict else conf, 4)


def _change(target: Photo, field: str, choice: Choice, rule: str, group: Group) -> FieldChange:
    src = choice.source
    reason = f"{rule}: {src.reasons}"
    alternatives = tuple(getattr(a.photo.meta, field) for a in choice.alternatives)
    if alternatives:
        others = "; ".join(f"{a.photo.name} says {v!r}" for a, v in zip(choice.alternatives, alternatives))
        reason += f" (sources disagree: {others})"
    if choice.note:
        reason += f" ({choice.note})"
    return FieldChange(target.path, field, getattr(target.meta, field), getattr(src.photo.meta, field),
                       src.photo.path, reason, _confidence(src, group, choice.conflict), choice.conflict, alternatives)


@dataclass(frozen=True)
class _Context:
    """What all targets of one group share."""

    group: Group
    settings: Settings
    times: dict[int, float]
    track: Sequence[Fix]
    devices: int  # how many devices' tracks: with more than one, a target's look-alikes choose its track
    named: frozenset[int]  # ids of the sources that name a place, beyond what their position says
    tagged: frozenset[int]  # ids of the sources that have tags
    gps_agree: Callable[[Photo, Photo], bool]
    doubts: Mapping[int, str]  # photo id -> why its camera's clock is in doubt


def _ranked(pool: list[Photo], when: list[float | None], parts: list[tuple[list[int], list[int]]],
            settings: Settings) -> list[Ranked]:
    """For each part's targets (pool positions) in order, the part's sources ranked (see Ranked). Every target
    of every part is weighed against its sources in one PairScores and sorted in one lexsort (per-group numpy
    calls cost more than the arithmetic)."""
    i: list[int] = []
    j: list[int] = []
    for tgt, src in parts:
        for t in tgt:
            i += [t] * len(src)
            j += src
    pairs = PairScores(pool, when, i, j, settings)
    priority = [source_priority(p) for p in pool]
    rank_of_path = {p: r for r, p in enumerate(sorted({p.path for p in pool}))}
    gap = np.abs(pairs.dt)
    gap[np.isnan(gap)] = np.inf
    order = np.lexsort((np.array([rank_of_path[p.path] for p in pool], dtype=np.int64)[pairs.j], pairs.hd,
                        -np.array(priority, dtype=np.int64)[pairs.j], gap, ~pairs.same_shot,
                        pairs.i)).tolist()  # targets ascend in the pool
    batch = _Batch(pool, priority, j, *pairs.lists("same_shot", "dt", "hd", "dist", "confidence", "similar",
                                                  "related").values())
    out, at = [], 0
    for tgt, src in parts:
        for _ in tgt:
            out.append(Ranked(batch, order[at:at + len(src)]))
            at += len(src)
    return out


def _target_changes(target: Photo, ranked: Ranked, ctx: _Context) -> list[FieldChange]:
    meta, group, settings = target.meta, ctx.group, ctx.settings
    doubt = ctx.doubts.get(target.id)
    out: list[FieldChange] = []
    # a target with even half a position keeps it: neither the track nor a source overwrites it
    located = [] if meta.gps_latitude is not None or meta.gps_longitude is not None else \
        gps_changes(target, ctx.times.get(target.id), ctx.track, settings,
                    ranked.linked_devices() if ctx.devices > 1 else (), guesses=True, doubt=doubt)
    gps = None if located else choose_gps(target, ranked, settings, ctx.gps_agree, doubt)
    if located:  # on the track: interpolated, continued past its end, or a fix of the same moment
        out.extend(located)
    elif gps is not None:
        for f in GPS_FIELDS:
            if getattr(gps.source.photo.meta, f) is not None and getattr(meta, f) is None:
                out.append(_change(target, f, gps, "no GPS", group))
    # without a same-shot source, only a target without a time gets one (the rules correct a time from the same
    # shot only)
    same_shot = ranked.same_shot_first
    when = choose_time(target, ranked, ctx.times, settings) if same_shot or meta.datetime_original is None else None
    if when is not None:
        src = when.source.photo.meta
        rule = "no capture time" if meta.datetime_original is None else "clock differs from the same shot"
        out.append(_change(target, "datetime_original", when, rule, group))
        if src.offset_time is not None and src.offset_time != meta.offset_time:
            out.append(_change(target, "offset_time", when, rule, group))
    same = same_shots(ranked) if same_shot else []
    if same and meta.offset_time is None and when is None and meta.datetime_original is not None:
        with_offset = [c for c in same if c.photo.meta.offset_time is not None]
        if with_offset:
            out.append(_change(target, "offset_time", Choice(with_offset[0]), "offset of the same shot", group))
    for f in CAMERA_FIELDS:
        if getattr(meta, f) is not None:
            continue
        givers = [c for c in same if getattr(c.photo.meta, f) is not None]
        rule = "camera of the same shot"
        if not givers and f in FORCED_CAMERA_FIELDS and group.options.copy_camera:
            givers, rule = [c for c in ranked if getattr(c.photo.meta, f) is not None], "group option copy_camera"
        if givers and rule == "camera of the same shot":  # equally near originals may disagree: say so
            out.append(_change(target, f, most_likely(givers, _agree_on(f)), rule, group))
        elif givers:
            out.append(_change(target, f, Choice(givers[0]), rule, group))
    out.extend(_place_changes(target, ranked, gps, ctx))
    tags = _merged_tags(target, ranked, ctx)
    if tags is not None:
        out.append(tags)
    return out


def _agree_on(field: str) -> Callable[[Photo, Photo], bool]:
    same = FIELDS[field].same
    return lambda a, b: same(getattr(a.meta, field), getattr(b.meta, field))


def _place_changes(target: Photo, ranked: Ranked, gps: Choice | None, ctx: _Context) -> list[FieldChange]:
    """Place names from the GPS source when it has them, else from the best source that has them."""
    missing = [f for f in PLACE_FIELDS if getattr(target.meta, f) is None]
    if not missing or not ctx.named:
        return []
    if gps is not None and gps.source.photo.id in ctx.named:
        choice = gps
    elif target.meta.has_gps:  # the nearest named place to where the target says it is
        choice = Choice(min(ranked.among(ctx.named),
                            key=lambda c: c.distance_m if c.distance_m is not None else float("inf")))
    else:
        first = next(ranked.among(ctx.named), None)
        if first is None:
            return []
        choice = Choice(first)
    return [_change(target, f, choice, "place of the source", ctx.group) for f in missing
            if getattr(choice.source.photo.meta, f) is not None]


def _merged_tags(target: Photo, ranked: Ranked, ctx: _Context) -> FieldChange | None:
    have = list(target.meta.tags)
    givers = []
    for c in ranked.among(ctx.tagged):
        new = [t for t in c.photo.meta.tags if t not in have]
        if new:
            have.extend(new)
            givers.append(c)
    if not givers:
        return None
    names = ", ".join(c.photo.name for c in givers)
    return FieldChange(target.path, "tags", target.meta.tags, tuple(have), givers[0].photo.path,
                       f"tags merged from {names}", max(_confidence(c, ctx.group) for c in givers))


def _apply_overrides(changes: list[FieldChange], group: Group, photos: dict[int, Photo],
                     overrides: dict[tuple[int, str], Any]) -> list[FieldChange]:
    """A user's value for (photo, field) replaces any planned change; a hand-set location also drops what came
    with a disputed GPS source (altitude, place names)."""
    if not overrides:
        return changes
    paths = {m.photo_id: photos[m.photo_id].path for m in group.members if m.photo_id in photos}
    set_by_hand = {(paths[pid], f) for pid, f in overrides if pid in paths}
    located = {p for p, f in set_by_hand if f in POSITION_FIELDS}
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
