"""The "time shift" group of a leg's estimate, and the corrected capture times it gives (applied, or pending:
what grouping and planning see before it is applied)."""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Sequence

from ...config import Settings
from ...models import ClockEvidence, Group, GroupKind, GroupMember, Photo
from .correct import corrected_values
from .estimate import ClockEstimate, estimate_clocks

# A clock correction stands until it is applied or deleted: one taken back (reverted) may be applied again, and
# the groups applied meanwhile must not write the camera's wrong times.
STANDING = ("pending", "reverted")


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


def suggest_time_shifts(photos: Sequence[Photo], settings: Settings
                        ) -> tuple[list[Group], list[Photo], dict[int, str]]:
    """Time-shift groups for the cameras whose clock is off, the photos as they will be once those shifts are
    applied (grouping and planning the events should see corrected times), and the photos whose camera's clock is
    in doubt, with the reason (planning places them on no track by their time alone)."""
    estimates, doubts = estimate_clocks(photos, settings)
    groups = [time_shift_group(e) for e in estimates]
    return groups, with_pending_shifts(photos, groups), {pid: d.text for d in doubts for pid in d.photo_ids}


def shift_values(group: Group, photo: Photo) -> dict[str, str]:
    """The corrected capture time (and, where the references tell it, the offset of its zone) for one of the
    group's photos; empty when its time is no longer the camera's (the shift, or another edit, already reached
    it), so a shift can never be applied twice (correct.corrected_values says how)."""
    evidence = group.evidence
    written = evidence.camera_times.get(photo.path) if isinstance(evidence, ClockEvidence) else None
    if written is None or photo.meta.datetime_original != written:
        return {}
    return corrected_values(photo.meta, evidence.shift_s, evidence.drift_s_per_day, evidence.drift_from,
                            evidence.offsets.get(photo.path))


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
