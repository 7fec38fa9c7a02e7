"""Plain dataclasses shared by every stage: what a photo is, what a group is, what a plan proposes."""
from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import fields as dc_fields
from enum import StrEnum
from typing import Any, Mapping

from .errors import InvalidRequestError


@dataclass(frozen=True)
class Metadata:
    """Canonical metadata of one photo; None means "absent".

    datetime_original is ISO 8601 local time as the camera wrote it ("2024-05-12T14:03:07.120+02:00",
    or without offset when the photo has none); offset_time is "+02:00"-style or None. received_day ("2024-05-14")
    is a date known only to the day, from a messenger copy's file name: the day it was received, so the photo was
    taken that day or before. It is never a capture time (see fields.ReceivedDay).
    """

    datetime_original: str | None = None
    offset_time: str | None = None
    gps_latitude: float | None = None
    gps_longitude: float | None = None
    gps_altitude: float | None = None
    make: str | None = None
    model: str | None = None
    serial_number: str | None = None
    lens_model: str | None = None
    iso: float | None = None
    f_number: float | None = None
    exposure_time: float | None = None
    focal_length: float | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    country_code: str | None = None
    tags: tuple[str, ...] = ()
    received_day: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dc_fields(self)}
        out["tags"] = list(self.tags)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Metadata":
        known = {k: v for k, v in data.items() if k in CANONICAL_FIELDS}
        known["tags"] = tuple(known.get("tags") or ())
        return cls(**known)

    def with_values(self, **values: Any) -> "Metadata":
        """A copy with some fields changed (a plan's view of a photo: made for thousands of photos at once, so
        without dataclasses.replace, which re-runs __init__ field by field)."""
        unknown = values.keys() - _METADATA_FIELDS
        if unknown:
            raise TypeError(f"unknown metadata field(s): {', '.join(sorted(unknown))}")
        if "tags" in values:
            values["tags"] = tuple(values["tags"] or ())
        new = object.__new__(Metadata)
        new.__dict__.update(self.__dict__, **values)
        return new

    @property
    def has_gps(self) -> bool:
        return self.gps_latitude is not None and self.gps_longitude is not None


    @property
    def has_exif(self) -> bool:
        """Camera EXIF present: a camera and a capture time (the "EXIF" of source priority)."""
        return bool(self.make or self.model) and self.datetime_original is not None


CameraKey = tuple[str, str, str]  # (make, model, serial)


def camera_key(meta: Metadata) -> CameraKey | None:
    if not (meta.make or meta.model):
        return None
    return (meta.make or "", meta.model or "", meta.serial_number or "")


def camera_label(key: CameraKey) -> str:
    make, model, serial = key
    name = model if make and model.lower().startswith(make.lower()) else f"{make} {model}".strip()
    return f"{name} #{serial}" if serial else name


# The canonical field names, in the order of the field table (fields.py): the index, the engine, the bridge and the
# plugins use them.
CANONICAL_FIELDS: tuple[str, ...] = tuple(f.name for f in dc_fields(Metadata))
_METADATA_FIELDS = frozenset(CANONICAL_FIELDS)


@dataclass(frozen=True)
class Photo:
    """One indexed file. `id` is the index row id (0 for photos not yet stored)."""

    id: int
    path: str
    meta: Metadata = field(default_factory=Metadata)
    phash: int | None = None
    size: int = 0
    mtime_ns: int = 0
    content_hash: str | None = None
    error: str | None = None
    detail_hash: int | None = None  # 256-bit pHash: which of several look-alike shots a copy was made of
    lightness: float | None = None  # mean CIELAB L* of the scan's thumbnail: the exposure, which hashes ignore

    @property
    def folder(self) -> str:
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class GroupMember:
    photo_id: int
    path: str
    is_source: bool
    priority: int = 0


class GroupKind(StrEnum):
    """What a group is about, as the index stores it and the JSON names it; each kind has its own planner."""

    EVENT = "event"  # photos of one event: sources give GPS, time, camera, place to targets
    TIME_SHIFT = "time_shift"  # one camera's photos whose clock is off, and the phone shots that tell by how much
    PLACE = "place"  # photos in no event that get GPS from a log, place names and time zones


@dataclass(frozen=True)
class GroupOptions:
    """What a user may set on a group (each field's metadata names the type a user must give). None: not set."""

    # copy make/model to targets even from sources that are not the same shot
    copy_camera: bool | None = field(default=None, metadata={"type": bool})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "GroupOptions":
        """The options a user (CLI, bridge) gave, checked: unknown names and wrong types are refused."""
        types = {f.name: f.metadata["type"] for f in dc_fields(cls)}
        unknown = sorted(set(data) - set(types))
        if unknown:
            raise InvalidRequestError(f"unknown group option(s): {', '.join(unknown)} (known: {', '.join(types)})")
        for name, kind in types.items():
            if name in data and not isinstance(data[name], kind):
                raise InvalidRequestError(f"group option {name} must be {kind.__name__}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dc_fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class Verdict:
    """Scene analysis: do these photos show one event? `clusters` (paths) is how the analyzer would split them
    when not."""

    same: bool
    confidence: float
    analyzer: str
    reasons: tuple[str, ...] = ()
    clusters: tuple[tuple[str, ...], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"same": self.same, "confidence": round(self.confidence, 3), "analyzer": self.analyzer,
                "reasons": list(self.reasons), "clusters": [list(c) for c in self.clusters]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Verdict":
        return cls(same=bool(data["same"]), confidence=float(data["confidence"]), analyzer=str(data["analyzer"]),
                   reasons=tuple(data.get("reasons", ())), clusters=tuple(tuple(c) for c in data.get("clusters", ())))


@dataclass(frozen=True)
class EventEvidence:
    """What detection and scene analysis found about an event group beyond its confidence and reasons."""

    gps_conflict: bool = False  # its photos' GPS disagree: similar images joined it, scene analysis may not raise it
    scene: Verdict | None = None  # the last scene analyzer's verdict

    def to_dict(self) -> dict[str, Any]:
        return {**({"gps_conflict": True} if self.gps_conflict else {}),
                **({"scene": self.scene.to_dict()} if self.scene is not None else {})}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EventEvidence":
        scene = data.get("scene")
        return cls(gps_conflict=bool(data.get("gps_conflict", False)),
                   scene=Verdict.from_dict(scene) if scene is not None else None)


@dataclass(frozen=True)
class ClockEvidence:
    """What a camera clock correction rests on: the shift, the pairs of shots that agree on it, and the times the
    camera wrote (a photo whose time is no longer one of those has been corrected already).

    A drifting clock's shift changes by `drift_s_per_day` from the camera time `drift_from` on; `offsets` gives
    each photo the offset of the reference's zone at its corrected moment (groups stored before either was known
    load without them: a constant shift, and the camera's offset, or lack of one, kept)."""

    shift_s: float  # add to the camera's times
    camera: str  # its label, e.g. "Canon EOS R6 #0123"
    spread_s: float  # how far the pairs' differences spread around the shift
    matches: tuple[tuple[str, str, float], ...] = ()  # (camera photo, reference photo, difference in s)
    camera_times: Mapping[str, str] = field(default_factory=dict)  # camera photo path -> datetime_original
    drift_s_per_day: float = 0.0
    drift_from: str | None = None  # the camera time (as written) at which shift_s holds exactly
    offsets: Mapping[str, str] = field(default_factory=dict)  # camera photo path -> offset of its corrected time

    @property
    def pairs(self) -> int:
        return len(self.matches)

    def to_dict(self) -> dict[str, Any]:
        drift = {"drift_s_per_day": self.drift_s_per_day, "drift_from": self.drift_from} if self.drift_s_per_day \
            else {}
        return {"shift_s": self.shift_s, "camera": self.camera, "pairs": self.pairs, "spread_s": self.spread_s,
                "matches": [list(m) for m in self.matches], "camera_times": dict(self.camera_times), **drift,
                **({"offsets": dict(self.offsets)} if self.offsets else {})}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ClockEvidence":
        return cls(shift_s=float(data["shift_s"]), camera=str(data["camera"]), spread_s=float(data["spread_s"]),
                   matches=tuple((str(c), str(r), float(d)) for c, r, d in data.get("matches", ())),
                   camera_times=dict(data.get("camera_times", {})),
                   drift_s_per_day=float(data.get("drift_s_per_day", 0.0)), drift_from=data.get("drift_from"),
                   offsets=dict(data.get("offsets", {})))


Evidence = EventEvidence | ClockEvidence | None  # place groups and a user's groups carry none


_EVIDENCE: dict[GroupKind, type[EventEvidence] | type[ClockEvidence]] = {
    GroupKind.EVENT: EventEvidence, GroupKind.TIME_SHIFT: ClockEvidence}


def evidence_from_dict(kind: GroupKind, data: Mapping[str, Any]) -> Evidence:
    """A group's evidence, of its kind's dataclass, from its stored JSON (None when there is none)."""
    evidence = _EVIDENCE.get(kind)
    return evidence.from_dict(data) if evidence is not None and data else None


@dataclass(frozen=True)
class Group:
    """A sync group: photos of one event, one camera's time shift or one folder's places, and who gives to whom.

    `options` are the user's; `evidence` is what detection found (its kind's dataclass)."""

    id: int | None
    members: tuple[GroupMember, ...]
    confidence: float = 1.0
    status: str = "pending"  # pending | applied | reverted
    user_created: bool = False
    kind: GroupKind = GroupKind.EVENT
    options: GroupOptions = field(default_factory=GroupOptions)
    evidence: Evidence = None
    reasons: tuple[str, ...] = ()
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def sources(self) -> tuple[GroupMember, ...]:
        return tuple(m for m in self.members if m.is_source)

    @property
    def targets(self) -> tuple[GroupMember, ...]:
        return tuple(m for m in self.members if not m.is_source)

    def options_dict(self) -> dict[str, Any]:
        """The "options" object of the JSON the bridge and the CLI give plugins: the user's options and the
        evidence side by side, as one flat object."""
        return {**self.options.to_dict(), **(self.evidence.to_dict() if self.evidence is not None else {})}


@dataclass(frozen=True)
class FieldChange:
    """One proposed change of one field of one photo, with its explanation."""

    path: str
    field: str
    old: Any
    new: Any
    source: str | None
    reason: str
    confidence: float
    conflict: bool = False
    alternatives: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "field": self.field,
            "old": list(self.old) if isinstance(self.old, tuple) else self.old,
            "new": list(self.new) if isinstance(self.new, tuple) else self.new,
            "source": self.source,
            "reason": self.reason,
            "confidence": round(self.confidence, 3),
            "conflict": self.conflict,
            "alternatives": [list(a) if isinstance(a, tuple) else a for a in self.alternatives],
        }


@dataclass(frozen=True)
class Plan:
    group_id: int | None
    changes: tuple[FieldChange, ...]

    @property
    def conflicts(self) -> tuple[FieldChange, ...]:
        return tuple(c for c in self.changes if c.conflict)


def band(confidence: float) -> str:
    """The confidence bands the plugins show: high from 0.9, medium from 0.7, low below."""
    if confidence >= 0.9:
        return "high"
    if confidence >= 0.7:
        return "medium"
    return "low"
