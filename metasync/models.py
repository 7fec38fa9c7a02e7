"""Plain dataclasses shared by every stage: what a photo is, what a group is, what a plan proposes."""
from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import fields as dc_fields
from typing import Any


@dataclass(frozen=True)
class Metadata:
    """Canonical metadata of one photo; None means "absent".

    datetime_original is ISO 8601 local time as the camera wrote it ("2024-05-12T14:03:07.120+02:00",
    or without offset when the photo has none); offset_time is "+02:00"-style or None.
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
        """Camera EXIF present (what the seed calls "EXIF" in source priority)."""
        return bool(self.make or self.model) and self.datetime_original is not None


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


@dataclass(frozen=True)
class Group:
    """A sync group: photos of one event (or one camera's time shift) and who gives to whom."""

    id: int | None
    members: tuple[GroupMember, ...]
    confidence: float = 1.0
    status: str = "pending"  # pending | applied | reverted
    user_created: bool = False
    kind: str = "event"  # event | time_shift
    options: dict[str, Any] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def sources(self) -> tuple[GroupMember, ...]:
        return tuple(m for m in self.members if m.is_source)

    @property
    def targets(self) -> tuple[GroupMember, ...]:
        return tuple(m for m in self.members if not m.is_source)


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
    """The seed's confidence bands."""
    if confidence >= 0.9:
        return "high"
    if confidence >= 0.7:
        return "medium"
    return "low"
