"""Place planning: GPS from track logs, zone offsets and offline place names for a plan's photos.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Mapping, Sequence

from ..config import Settings
from ..detect.place import log_capture_times
from ..fields import PLACE_FIELDS
from ..lookups import Lookups
from ..lookups.gazetteer import PLACE_CONFIDENCE, Gazetteer
from ..lookups.zones import offset_changes
from ..models import FieldChange, Group, Metadata, Photo, Plan
from ..track import gps_changes

log = logging.getLogger(__name__)


def place_changes(items: Sequence[tuple[str, Metadata, float, str | None]], gazetteer: Gazetteer
                  ) -> list[FieldChange]:
    """Place names for photos with GPS (own or planned) and no place name at all, looked up in one batch.

    Each item is (path, metadata as the plan leaves it, confidence of its GPS, source of its GPS). A photo that
    names its place even in part keeps it as it is: names are a set, and a looked-up region beside a city someone
    typed could contradict it.
    """
    return [c for _, c in _placed(items, gazetteer)]


def _placed(items: Sequence[tuple[str, Metadata, float, str | None]], gazetteer: Gazetteer
            ) -> list[tuple[int, FieldChange]]:
    """place_changes, each with the position of its item."""
    wanted = [k for k, it in enumerate(items)
              if it[1].has_gps and all(getattr(it[1], f) is None for f in PLACE_FIELDS)]
    places = gazetteer.reverse_geocode([(items[k][1].gps_latitude, items[k][1].gps_longitude) for k in wanted])
    changes = []
    for k, place in zip(wanted, places):
        if place is None:
            continue
        path, _, conf, source = items[k]
        where = ", ".join(v for v in (place.city, place.state, place.country) if v)
        reason = f"offline place name for its GPS position: {where}"
        if place.city:
            reason += f" ({place.distance_m / 1000:.1f} km from the town's centre)"
        changes += [(k, FieldChange(path, name, None, value, source, reason, conf * PLACE_CONFIDENCE))
                    for name, value in place.to_fields().items()]
    return changes


def named_beyond_position(photos: Sequence[Photo], gazetteer: Gazetteer) -> frozenset[int]:
    """Ids of the photos whose place names say more than their position does: names someone gave, not exactly
    the gazetteer's at the photo's own GPS (what place planning writes). Names a neighbour got from the gazetteer
    are no evidence for a target, which has its own position to look up; taking them would make a target's names
    depend on whether that neighbour's group was applied first."""
    named = [p for p in photos if any(getattr(p.meta, f) is not None for f in PLACE_FIELDS)]
    located = [p for p in named if p.meta.has_gps]
    places = gazetteer.reverse_geocode([(p.meta.gps_latitude, p.meta.gps_longitude) for p in located])
    derived = {p.id for p, place in zip(located, places)
               if place is not None and all(getattr(p.meta, f) == place.to_fields().get(f) for f in PLACE_FIELDS)}
    return frozenset(p.id for p in named if p.id not in derived)


def plan_place_group(group: Group, photos: dict[int, Photo], settings: Settings, lookups: Lookups,
                     overrides: dict[tuple[int, str], Any] | None = None, doubts: Mapping[int, str] | None = None
                     ) -> Plan:
    """GPS from the logs for members without any, then offsets and place names (a user override replaces the
    planned value). A member whose camera's clock is in doubt (`doubts`) gets no GPS from the logs: its time would
    place it."""
    members = [photos[m.photo_id] for m in group.members if m.photo_id in photos]
    times = log_capture_times(members, lookups)
    changes = [c for p in members
               for c in gps_changes(p, times.get(p.id), lookups.logs, settings, doubt=(doubts or {}).get(p.id))]
    changes += plan_locations(members, changes, lookups)
    ids = {p.path: p.id for p in members}
    out = []
    for c in changes:
        value = (overrides or {}).get((ids[c.path], c.field), c.new)
        out.append(c if value == c.new else replace(c, new=value, reason="set by hand", confidence=1.0))
    return Plan(group.id, tuple(out))


def plan_locations(photos: Sequence[Photo], changes: Sequence[FieldChange], lookups: Lookups) -> list[FieldChange]:
    """The zone offsets and place names a plan's photos get from their GPS as the plan leaves it (own or planned).

    Fields the plan already changes are left to it; a planned GPS lends its confidence and source.
    """
    return plan_locations_batch([(photos, changes)], lookups)[0]


def plan_locations_batch(plans: Sequence[tuple[Sequence[Photo], Sequence[FieldChange]]], lookups: Lookups
                         ) -> list[list[FieldChange]]:
    """plan_locations for many plans (photos, changes) at once: one lookup batch for all their places."""
    items = []
    owner = []  # per item: (its plan, the fields its plan changes)
    for n, (photos, changes) in enumerate(plans):
        planned: dict[str, dict[str, FieldChange]] = {}
        for c in changes:
            planned.setdefault(c.path, {})[c.field] = c
        for p in photos:
            mine = planned.get(p.path, {})
            meta = p.meta.with_values(**{f: c.new for f, c in mine.items()}) if mine else p.meta
            gps = mine.get("gps_latitude")
            items.append((p.path, meta, gps.confidence if gps else 1.0, gps.source if gps else None))
            owner.append((n, mine))
    offsets = [(k, c) for k, c in enumerate(offset_changes(lookups.zones, items)) if c is not None]
    out: list[list[FieldChange]] = [[] for _ in plans]
    for k, c in offsets + _placed(items, lookups.gazetteer):
        n, mine = owner[k]
        if c.field not in mine:
            out[n].append(c)
    return out
