"""Sync groups in the index: the steps of a suggestion run that are no stage of their own (which photos were asked
about, whether the library changed since the last detection, keeping group ids, capping scene confidences), and
groups by hand: create, plan, list, preview, override.

The Engine composes these; deciding stays in detect/ and plan/, storing in index.py.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

from .config import Settings
from .detect.clock import with_pending_shifts
from .detect.events import assign_roles
from .detect.score import source_priority
from .errors import InvalidRequestError, NotIndexedError
from .fields import FIELDS
from .index import Index
from .lookups import Lookups
from .models import CANONICAL_FIELDS, EventEvidence, Group, GroupKind, GroupMember, GroupOptions, Photo, Plan, band
from .plan import plan_group
from .plan.time_shift import with_clock_corrections


def resolve(path: Path | str) -> str:
    """Paths are stored absolute and resolved (as the scanner stores them)."""
    return str(Path(path).expanduser().resolve())


def photos_under(index: Index, paths: list[str]) -> set[int]:
    """Ids of the indexed photos that are, or are inside, the given paths."""
    folders = [p for p in paths if Path(p).is_dir()]
    ids = {p.id for p in index.photos(under=folders)} if folders else set()
    for p in paths:
        if p not in folders:
            try:
                ids.add(index.photo_by_path(p).id)
            except NotIndexedError:
                pass  # not a photo: the scan has said so
    return ids


DETECTED = "detected_on"  # index state: the library and settings the stored suggestions were detected on
CLOCK_DOUBTS = "clock_doubts"  # index state: the photos whose camera clock the last detection doubted


def detected_on(index: Index, settings: Settings) -> str:
    return json.dumps([index.fingerprint(), repr(settings)])


def keep_ids(groups: list[Group], previous: list[Group]) -> list[Group]:
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


def stored(index: Index, settings: Settings, lookups: Lookups, wanted: set[int]) -> list[dict[str, Any]]:
    """The stored automatic suggestions touching `wanted`, planned as they stand (overrides included)."""
    groups = [g for g in index.groups(status="pending", files=wanted) if not g.user_created] if wanted else []
    shifts = index.groups(kind=GroupKind.TIME_SHIFT) if groups else []
    doubts = clock_doubts(index, {m.photo_id for g in groups for m in g.members})
    out = []
    for group in groups:
        plan = planned(index, settings, lookups, group, shifts, doubts)[0]
        if plan.changes:
            out.append(summary(group, group.id, plan))
    return out


def capped(detected: list[Group], refined: list[Group]) -> list[Group]:
    """Scene analysis may raise or lower confidences, but never raise a group whose GPS disagree: similar images
    are what joined it, and they must not count twice."""
    caps = {frozenset(m.photo_id for m in g.members): g.confidence for g in detected
            if isinstance(g.evidence, EventEvidence) and g.evidence.gps_conflict}
    out = []
    for g in refined:
        cap = caps.get(frozenset(m.photo_id for m in g.members))
        out.append(replace(g, confidence=cap) if cap is not None and g.confidence > cap else g)
    return out


def summary(group: Group, gid: int, plan: Plan) -> dict[str, Any]:
    return {"id": gid, "confidence": round(group.confidence, 3), "band": band(group.confidence),
            "files": [{"path": m.path, "role": "source" if m.is_source else "target"} for m in group.members],
            "changes": len(plan.changes), "conflicts": len(plan.conflicts), "reasons": list(group.reasons)}


def create_group(index: Index, files: list[str], sources: list[str] | None = None,
                 options: dict[str, Any] | None = None) -> int:
    """A user's group: every file must be indexed; sources as given, or decided by source priority."""
    paths = list(dict.fromkeys(resolve(f) for f in [*files, *(sources or ())]))
    if len(paths) < 2:
        raise InvalidRequestError("a group needs at least two files")
    photos = [index.photo_by_path(p) for p in paths]  # NotIndexedError names the first unknown file
    checked = GroupOptions.from_dict(options or {})
    if sources:
        chosen = {resolve(s) for s in sources}
        if len(chosen) == len(paths):
            raise InvalidRequestError("every file is a source: leave at least one target")
        members = tuple(GroupMember(p.id, p.path, p.path in chosen, source_priority(p)) for p in photos)
    else:
        members = assign_roles(photos)
    reasons = ("created by hand" + (", sources chosen by hand" if sources else ", sources by priority"),)
    return index.save_group(Group(id=None, members=members, confidence=1.0, user_created=True,
                                  options=checked, reasons=reasons))


def store_clock_doubts(index: Index, doubts: dict[int, str]) -> None:
    """The photos whose camera's clock the last detection doubted (id -> reason), for planning a stored group
    as `suggest` planned it."""
    index.set_state(CLOCK_DOUBTS, json.dumps({str(k): v for k, v in sorted(doubts.items())}))


def clock_doubts(index: Index, photo_ids: Iterable[int]) -> dict[int, str]:
    """The stored clock doubts of these photos (store_clock_doubts)."""
    stored = json.loads(index.state(CLOCK_DOUBTS) or "{}")
    return {pid: stored[str(pid)] for pid in photo_ids if str(pid) in stored}


def planned(index: Index, settings: Settings, lookups: Lookups, group: Group, shifts: list[Group] | None = None,
            doubts: dict[int, str] | None = None) -> tuple[Plan, dict[int, Photo]]:
    """The group's plan and the photos it was made on. Groups other than clock corrections are planned on the
    times the photos will have once the standing clock corrections are applied, and write those times themselves.
    `shifts` (the index's time-shift groups) and `doubts` (clock_doubts of at least the group's photos) may be
    passed when many groups are planned."""
    photos = index.photos_by_id([m.photo_id for m in group.members])
    overrides = index.overrides(group.id) if group.id is not None else {}
    if group.kind == GroupKind.TIME_SHIFT:
        return plan_group(group, photos, settings, lookups, overrides), photos
    if shifts is None:  # only clock corrections of these photos matter (loading every group slowed previews)
        shifts = index.groups(kind=GroupKind.TIME_SHIFT, files=photos)
    shifted = {p.id: p for p in with_pending_shifts(list(photos.values()), shifts)}
    if doubts is None:
        doubts = clock_doubts(index, shifted)
    p = plan_group(group, shifted, settings, lookups, overrides, doubts=doubts)
    return with_clock_corrections(p, group, photos, shifted, shifts), shifted


def plan(index: Index, settings: Settings, lookups: Lookups, group_id: int) -> Plan:
    return planned(index, settings, lookups, index.group(group_id))[0]


def list_groups(index: Index, settings: Settings, lookups: Lookups) -> list[dict[str, Any]]:
    out = []
    groups = index.groups()
    shifts = [g for g in groups if g.kind == GroupKind.TIME_SHIFT]
    for group in groups:
        p = planned(index, settings, lookups, group, shifts)[0]
        out.append({"id": group.id, "status": group.status, "confidence": round(group.confidence, 3),
                    "band": band(group.confidence), "kind": group.kind, "user_created": group.user_created,
                    "sources": [m.path for m in group.sources], "targets": [m.path for m in group.targets],
                    "changes": len(p.changes), "conflicts": len(p.conflicts), "updated_at": group.updated_at})
    return out


def preview(index: Index, settings: Settings, lookups: Lookups, group_id: int) -> dict[str, Any]:
    """The plan as data: {"group", "status", "changes", "conflicts"} plus confidence, band, kind, reasons, options,
    and "files" (path -> role and current metadata) for side-by-side views."""
    group = index.group(group_id)
    p, photos = planned(index, settings, lookups, group)
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


def set_override(index: Index, group_id: int, path: Path | str, field: str, value: Any) -> None:
    """The user's value for one field of one member: it wins over the plan (None: keep the file's own value)."""
    group = index.group(group_id)
    photo = index.photo_by_path(resolve(path))
    if photo.id not in {m.photo_id for m in group.members}:
        raise InvalidRequestError(f"{photo.path} is not in group {group_id}")
    index.set_override(group_id, photo.id, field, coerce(field, value))
