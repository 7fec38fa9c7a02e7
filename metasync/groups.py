"""Sync groups through the index: suggest (detect + store), create by hand, list, plan, preview, override, delete.

The Engine's group methods delegate here; deciding stays in detect.py and plan.py, storing in index.py.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from .detect.clock import suggest_time_shifts, with_pending_shifts
from .detect.events import assign_roles, detect_groups
from .detect.place import place_groups
from .detect.score import source_priority
from .errors import InvalidRequestError, NotIndexedError
from .fields import FIELDS
from .models import CANONICAL_FIELDS, EventEvidence, Group, GroupKind, GroupMember, GroupOptions, Photo, Plan, band
from .plan import plan_group, plan_groups
from .plan.time_shift import with_clock_corrections

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
_PLAN_BATCH = 500  # groups planned together between two progress reports


def resolve(path: Path | str) -> str:
    """Paths are stored absolute and resolved (as the scanner stores them)."""
    return str(Path(path).expanduser().resolve())


def _photos_under(engine: Any, paths: list[str]) -> set[int]:
    """Ids of the indexed photos that are, or are inside, the given paths."""
    folders = [p for p in paths if Path(p).is_dir()]
    ids = {p.id for p in engine.index.photos(under=folders)} if folders else set()
    for p in paths:
        if p not in folders:
            try:
                ids.add(engine.index.photo_by_path(p).id)
            except NotIndexedError:
                pass  # not a photo: the scan has said so
    return ids


def suggest(engine: Any, paths: list[Path | str], progress: Progress | None = None,
            roots: list[Path | str] | None = None) -> list[dict[str, Any]]:
    """Scan the library (incrementally: `roots`, default the paths themselves), re-detect the whole library's events
    (an event spans folders: phone and camera photos usually live apart), update the automatic suggestions, and
    return the groups that touch the given paths. Groups with nothing to change are not suggested.

    A suggestion keeps its id while it stays the same event (a plugin may hold it across rescans), and an unchanged
    library answers from the stored groups without detecting again."""
    wanted_paths = [resolve(p) for p in paths]
    engine.scan([Path(resolve(p)) for p in (roots or wanted_paths)], progress=progress)
    wanted = _photos_under(engine, wanted_paths)
    if engine.index.state(_DETECTED) == _detected_on(engine):
        return _stored(engine, wanted)
    photos = engine.index.photos()
    originals = {p.id: p for p in photos}
    # cameras whose clock is off become time-shift groups; events are found with corrected times
    shifts, photos = suggest_time_shifts(photos, engine.settings)
    if progress:
        progress("detect", 0, 1)
    groups = _refined(engine, detect_groups(photos, engine.settings), photos)
    if progress:
        progress("detect", 1, 1)
    grouped = {m.photo_id for g in groups for m in g.members}
    # clocks; GPS from logs, names, offsets of ungrouped photos
    groups = [*groups, *shifts, *place_groups(photos, grouped, engine.settings, engine.track_logs)]
    by_id = {p.id: p for p in photos}
    previous = [g for g in engine.index.groups(status="pending") if not g.user_created]
    groups = _keep_ids(groups, previous)
    kept: set[int] = set()
    out = []
    for k in range(0, len(groups), _PLAN_BATCH):
        if progress:
            progress("plan", k, len(groups))
        batch = groups[k:k + _PLAN_BATCH]
        plans = plan_groups(batch, by_id, engine.settings, logs=engine.track_logs, as_shot=originals)
        for group, plan in zip(batch, plans):
            plan = with_clock_corrections(plan, group, originals, by_id, shifts)
            if not plan.changes:
                continue
            gid = engine.index.save_group(group)
            kept.add(gid)
            if any(m.photo_id in wanted for m in group.members):
                out.append(_summary(group, gid, plan))
    engine.index.delete_groups(g.id for g in previous if g.id not in kept)
    if progress:
        progress("plan", len(groups), len(groups))
    engine.index.set_state(_DETECTED, _detected_on(engine))
    log.info("suggested %d groups (%d detected)", len(out), len(groups))
    return sorted(out, key=lambda g: g["id"])


_DETECTED = "detected_on"  # index state: the library and settings the stored suggestions were detected on


def _detected_on(engine: Any) -> str:
    return json.dumps([engine.index.fingerprint(), repr(engine.settings)])


def _keep_ids(groups: list[Group], previous: list[Group]) -> list[Group]:
    """New groups take the id of the pending suggestion of the same kind that shares most of their photos, so a
    rescan does not renumber what a plugin or the user holds (each old id goes to one new group at most)."""
    owner = {(g.kind, m.photo_id): g.id for g in previous for m in g.members}
    taken: set[int] = set()
    out = []
    for group in groups:
        votes = Counter(owner.get((group.kind, m.photo_id)) for m in group.members)
        votes.pop(None, None)
        gid = next((i for i, _n in votes.most_common() if i not in taken), None)
        if gid is not None:
            taken.add(gid)
        out.append(replace(group, id=gid))
    return out


def _stored(engine: Any, wanted: set[int]) -> list[dict[str, Any]]:
    """The stored automatic suggestions touching `wanted`, planned as they stand (overrides included)."""
    groups = [g for g in engine.index.groups(status="pending", files=wanted) if not g.user_created] if wanted else []
    shifts = engine.index.groups(kind=GroupKind.TIME_SHIFT) if groups else []
    out = []
    for group in groups:
        plan = _planned(engine, group, shifts)[0]
        if plan.changes:
            out.append(_summary(group, group.id, plan))
    return out


def _refined(engine: Any, groups: list[Group], photos: list[Photo]) -> list[Group]:
    """Scene analysis may raise or lower confidences, but never raise a group whose GPS disagree: similar images
    are what joined it, and they must not count twice."""
    detected = {frozenset(m.photo_id for m in g.members): g.confidence for g in groups
                if isinstance(g.evidence, EventEvidence) and g.evidence.gps_conflict}
    out = []
    for g in engine.refine(groups, {p.id: p for p in photos}):
        cap = detected.get(frozenset(m.photo_id for m in g.members))
        out.append(replace(g, confidence=cap) if cap is not None and g.confidence > cap else g)
    return out


def _summary(group: Group, gid: int, plan: Plan) -> dict[str, Any]:
    return {"id": gid, "confidence": round(group.confidence, 3), "band": band(group.confidence),
            "files": [{"path": m.path, "role": "source" if m.is_source else "target"} for m in group.members],
            "changes": len(plan.changes), "conflicts": len(plan.conflicts), "reasons": list(group.reasons)}


def create_group(engine: Any, files: list[str], sources: list[str] | None = None,
                 options: dict[str, Any] | None = None) -> int:
    """A user's group: every file must be indexed; sources as given, or decided by source priority."""
    paths = list(dict.fromkeys(resolve(f) for f in [*files, *(sources or ())]))
    if len(paths) < 2:
        raise InvalidRequestError("a group needs at least two files")
    photos = [engine.index.photo_by_path(p) for p in paths]  # NotIndexedError names the first unknown file
    checked = GroupOptions.from_dict(options or {})
    if sources:
        chosen = {resolve(s) for s in sources}
        if len(chosen) == len(paths):
            raise InvalidRequestError("every file is a source: leave at least one target")
        members = tuple(GroupMember(p.id, p.path, p.path in chosen, source_priority(p)) for p in photos)
    else:
        members = assign_roles(photos)
    reasons = ("created by hand" + (", sources chosen by hand" if sources else ", sources by priority"),)
    return engine.index.save_group(Group(id=None, members=members, confidence=1.0, user_created=True,
                                         options=checked, reasons=reasons))


def _planned(engine: Any, group: Group, shifts: list[Group] | None = None) -> tuple[Plan, dict[int, Photo]]:
    """The group's plan and the photos it was made on. Groups other than clock corrections are planned on the
    times the photos will have once the standing clock corrections are applied, and write those times themselves.
    `shifts` (the index's time-shift groups) may be passed when many groups are planned."""
    photos = engine.index.photos_by_id([m.photo_id for m in group.members])
    overrides = engine.index.overrides(group.id) if group.id is not None else {}
    if group.kind == GroupKind.TIME_SHIFT:
        return plan_group(group, photos, engine.settings, overrides, engine.track_logs), photos
    if shifts is None:  # only clock corrections of these photos matter (loading every group slowed previews)
        shifts = engine.index.groups(kind=GroupKind.TIME_SHIFT, files=photos)
    shifted = {p.id: p for p in with_pending_shifts(list(photos.values()), shifts)}
    p = plan_group(group, shifted, engine.settings, overrides, engine.track_logs)
    return with_clock_corrections(p, group, photos, shifted, shifts), shifted


def plan(engine: Any, group_id: int) -> Plan:
    return _planned(engine, engine.index.group(group_id))[0]


def list_groups(engine: Any) -> list[dict[str, Any]]:
    out = []
    groups = engine.index.groups()
    shifts = [g for g in groups if g.kind == GroupKind.TIME_SHIFT]
    for group in groups:
        p = _planned(engine, group, shifts)[0]
        out.append({"id": group.id, "status": group.status, "confidence": round(group.confidence, 3),
                    "band": band(group.confidence), "kind": group.kind, "user_created": group.user_created,
                    "sources": [m.path for m in group.sources], "targets": [m.path for m in group.targets],
                    "changes": len(p.changes), "conflicts": len(p.conflicts), "updated_at": group.updated_at})
    return out


def preview(engine: Any, group_id: int) -> dict[str, Any]:
    """The plan as data: {"group", "status", "changes", "conflicts"} plus confidence, band, kind, reasons, options,
    and "files" (path -> role and current metadata) for side-by-side views."""
    group = engine.index.group(group_id)
    p, photos = _planned(engine, group)
    files = {m.path: {"role": "source" if m.is_source else "target",
                      "metadata": photos[m.photo_id].meta.to_dict() if m.photo_id in photos else {}}
             for m in group.members}
    return {"group": group_id, "status": group.status, "changes": [c.to_dict() for c in p.changes],
            "conflicts": [c.to_dict() for c in p.conflicts], "confidence": round(group.confidence, 3),
            "band": band(group.confidence), "kind": group.kind, "user_created": group.user_created,
            "options": group.options_dict(), "reasons": list(group.reasons), "files": files}


def coerce(field: str, value: Any) -> Any:
    """A user's value for a canonical field, checked and typed (the CLI passes text). None means "leave as is"."""
    if field not in CANONICAL_FIELDS:
        raise InvalidRequestError(f"unknown field {field!r}; fields: {', '.join(CANONICAL_FIELDS)}")
    return None if value is None else FIELDS[field].from_user(value)


def set_override(engine: Any, group_id: int, path: Path | str, field: str, value: Any) -> None:
    """The user's value for one field of one member: it wins over the plan (None: keep the file's own value)."""
    group = engine.index.group(group_id)
    photo = engine.index.photo_by_path(resolve(path))
    if photo.id not in {m.photo_id for m in group.members}:
        raise InvalidRequestError(f"{photo.path} is not in group {group_id}")
    engine.index.set_override(group_id, photo.id, field, coerce(field, value))
