"""Planning: what each target of a group should receive. A plan is data; nothing is written here.

Each kind of group has its planner: events (plan/events.py), camera clocks (plan/time_shift.py) and places
(plan/place.py).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..config import Settings
from ..gcpause import collector_paused
from ..lookups import Lookups
from ..models import Group, GroupKind, Photo, Plan
from .events import batches, plan_events
from .place import plan_place_group
from .time_shift import plan_time_shift


def plan_group(group: Group, photos: dict[int, Photo], settings: Settings, lookups: Lookups,
               overrides: dict[tuple[int, str], Any] | None = None, doubts: Mapping[int, str] | None = None) -> Plan:
    """The changes the group's targets should receive, with reasons, confidences and conflicts.

    `lookups`: the towns, zones and GPS track log points the plan may look up (built once by the Engine);
    `doubts`: the photos whose camera's clock is in doubt, with the reason (suggest_time_shifts)."""
    if group.kind == GroupKind.TIME_SHIFT:
        return plan_time_shift(group, list(photos.values()), settings, overrides)
    if group.kind == GroupKind.PLACE:
        return plan_place_group(group, photos, settings, lookups, overrides, doubts)
    return plan_events([group], photos, settings, lookups, [overrides or {}], doubts)[0]


def plan_groups(groups: Sequence[Group], photos: dict[int, Photo], settings: Settings, lookups: Lookups,
                as_shot: dict[int, Photo] | None = None, doubts: Mapping[int, str] | None = None) -> list[Plan]:
    """plan_group for many groups without overrides (fresh suggestions), in order. Event groups are planned
    together: one pass weighs every target against every source of every group, one batch names the places.

    `as_shot`: the photos with the clocks they came with, for time-shift groups (default `photos`), when `photos`
    already carries proposed clock corrections."""
    events = [k for k, g in enumerate(groups) if g.kind == GroupKind.EVENT]
    planned: dict[int, Plan] = {}
    with collector_paused():
        for chunk in batches(events, [groups[k] for k in events]):
            planned.update(zip(chunk, plan_events([groups[k] for k in chunk], photos, settings, lookups,
                                                   [{} for _ in chunk], doubts)))
    return [planned[k] if k in planned else
            plan_group(g, (as_shot or photos) if g.kind == GroupKind.TIME_SHIFT else photos, settings, lookups,
                       doubts=doubts)
            for k, g in enumerate(groups)]
