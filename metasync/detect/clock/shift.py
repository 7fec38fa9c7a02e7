"""The "time shift" group of a leg's estimate, and the corrected capture times it gives (applied, or pending:
what grouping and planning see before it is applied)."""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Sequence

from ...config import Settings
from ...models import ClockEvidence, Group, GroupKind, GroupMember, Metadata, Photo
from ...timeutil import has_known_offset, iso_local, parse_offset, shift_datetime, split_offset, utc_epoch, wall_epoch
from .estimate import ClockEstimate, estimate_clock_offsets

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


def suggest_time_shifts(photos: Sequence[Photo], settings: Settings) -> tuple[list[Group], list[Photo]]:
    """Time-shift groups for the cameras whose clock is off, and the photos as they will be once those shifts are
    applied (grouping and planning the events should see corrected times)."""
    groups = [time_shift_group(e) for e in estimate_clock_offsets(photos, settings)]
    return groups, with_pending_shifts(photos, groups)


def shift_values(group: Group, photo: Photo) -> dict[str, str]:
    """The corrected capture time (and, where the references tell it, the offset of its zone) for one of the
    group's photos; empty when its time is no longer the camera's (the shift, or another edit, already reached
    it), so a shift can never be applied twice.

    A camera that writes no offset is corrected on its wall clock (its pairs compared wall clocks): the result is
    the reference's local wall time, and takes the reference's offset. One that writes an offset is corrected in
    UTC and shown at the reference's offset: local wall time with the right offset either way."""
    evidence = group.evidence
    written = evidence.camera_times.get(photo.path) if isinstance(evidence, ClockEvidence) else None
    if written is None or photo.meta.datetime_original != written:
        return {}
    seconds = evidence.shift_s
    if evidence.drift_s_per_day and evidence.drift_from:
        seconds = round(seconds + evidence.drift_s_per_day * (wall_epoch(photo.meta) - wall_epoch(
            Metadata(datetime_original=evidence.drift_from))) / 86400.0)
    new = shift_datetime(written, seconds)
    offset = evidence.offsets.get(photo.path)
    if new is None or offset is None:
        return {"datetime_original": new} if new is not None else {}
    if has_known_offset(photo.meta):
        new = iso_local(utc_epoch(photo.meta.with_values(datetime_original=new)), parse_offset(offset))
        if split_offset(written)[1] is None:
            new = split_offset(new)[0]
    return {"datetime_original": new, "offset_time": offset}


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
