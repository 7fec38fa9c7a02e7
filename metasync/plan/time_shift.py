"""Planning with camera clock corrections: each target's corrected time (and its zone's offset) in a time-shift group,
and the photos as other groups see them once the standing corrections are applied (they write those times too).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Iterable, Mapping, Sequence

from ..config import Settings
from ..detect.clock import STANDING, shift_values
from ..fields import TIME_FIELDS
from ..models import FieldChange, Group, GroupKind, Photo, Plan

log = logging.getLogger(__name__)

# What a clock correction writes, and why each.
_WHY = {"datetime_original": "camera clock corrected",
        "offset_time": "offset of the reference photos' zone at the corrected moment"}


def with_clock_corrections(plan: Plan, group: Group, as_shot: Mapping[int, Photo], shifted: Mapping[int, Photo],
                           shifts: Iterable[Group]) -> Plan:
    """The plan with the pending clock corrections of its targets as changes of their own: a group planned on
    corrected times also writes those times, so the order in which groups are applied cannot lose a correction
    (the time-shift group then finds the time already corrected and leaves it)."""
    timed = {c.path for c in plan.changes if c.field == "datetime_original"}
    planned = {(c.path, c.field) for c in plan.changes}
    by_path = {g_path: g for g in shifts if g.kind == GroupKind.TIME_SHIFT and g.status in STANDING
               for g_path in (m.path for m in g.targets)}
    extra = []
    for m in group.targets:
        before, after = as_shot.get(m.photo_id), shifted.get(m.photo_id)
        shift = by_path.get(m.path)
        if before is None or after is None or shift is None or m.path in timed:
            continue
        reason = shift.reasons[0] if shift.reasons else ""
        for name in TIME_FIELDS:
            old, new = getattr(before.meta, name), getattr(after.meta, name)
            if new and new != old and (m.path, name) not in planned:
                extra.append(FieldChange(m.path, name, old, new, None,
                                         f"{_WHY[name]} (clock group {shift.id}): {reason}", shift.confidence))
    return replace(plan, changes=(*plan.changes, *extra)) if extra else plan


def plan_time_shift(group: Group, photos: Sequence[Photo], settings: Settings,
                    overrides: Mapping[tuple[int, str], Any] | None = None) -> Plan:
    """A corrected datetime_original for each target of a time-shift group, and the offset of the zone the
    references were in then (a user override wins)."""
    by_path = {p.path: p for p in photos}
    reason = group.reasons[0] if group.reasons else ""
    changes = []
    for m in group.targets:
        photo = by_path.get(m.path)
        if photo is None:
            continue
        values = shift_values(group, photo)
        for name in TIME_FIELDS:
            old = getattr(photo.meta, name)
            new = (overrides or {}).get((m.photo_id, name), values.get(name))
            if new is None or new == old:
                continue
            changes.append(FieldChange(m.path, name, old, new, None, f"{_WHY[name]}: {reason}", group.confidence))
    return Plan(group.id, tuple(changes))
