"""The one table of canonical fields: each field's codec in one place.

A field knows the ExifTool tags it is read from, the XMP properties it is written to (and how it reads them back),
the ExifTool tags that put it into an image (`--write-original`), how a user's text becomes its value, and when two
of its values are the same, with the slack its encodings need. The scanner, the sidecar writer, apply, the preview
diff, planning and the group commands all use this table, so a field is described once.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Callable, Mapping

from .errors import InvalidRequestError, SidecarError
from .naming import received_day
from .timeutil import canonical_offset, exif_to_iso, format_offset, parse_local, parse_offset, split_offset

log = logging.getLogger(__name__)

Raw = Mapping[str, Any]  # one file's `-G -n` ExifTool tags
XmpValue = str | list[str] | None
XmpGet = Callable[[str], XmpValue]  # a sidecar's value of a prefixed XMP property ("exif:GPSLatitude")

# ExifTool's group for each XMP prefix, and its names for the properties it calls otherwise (--write-original).
_XMP_GROUPS = {"exif": "XMP-exif", "tiff": "XMP-tiff", "exifEX": "XMP-exifEX", "aux": "XMP-aux",
               "photoshop": "XMP-photoshop", "Iptc4xmpCore": "XMP-iptcCore", "dc": "XMP-dc"}
_XMP_TAG_NAMES = {"ISOSpeedRatings": "ISO", "BodySerialNumber": "SerialNumber"}
NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Field:
    """A text field (camera, lens and place names): the codec the other kinds of field refine."""

    name: str
    read_tags: tuple[str, ...]  # ExifTool group:tag names (-G), highest priority first
    xmp_props: tuple[str, ...]  # XMP properties written by the sidecar writer ("prefix:Name")

    @property
    def writable(self) -> bool:
        """Whether a sidecar can hold the field: it has an XMP property (or lives inside another's)."""
        return bool(self.xmp_props)

    @property
    def companion_tags(self) -> tuple[str, ...]:
        """ExifTool tags read besides read_tags because they complete a value (GPS refs, sub-seconds)."""
        return ()

    @property
    def also_owned(self) -> tuple[str, ...]:
        """XMP properties that carry part of the value in other writers' layouts; writing the field drops them."""
        return ()

    # -- from ExifTool
    def from_exiftool(self, raw: Raw, tag: str) -> Any:
        """One of its tags as a canonical value (None: absent or not valid)."""
        return _text(raw.get(tag))

    def read(self, raw: Raw) -> Any:
        """The value of the first of its tags that has a valid one."""
        for tag in self.read_tags:
            if tag in raw:
                value = self.from_exiftool(raw, tag)
                if value is not None:
                    return value
        return None

    # -- to and from XMP
    def to_xmp(self, value: Any, offset: str | None = None) -> dict[str, str | list[str]]:
        """{XMP property: text or Seq items} for a value (`offset` goes into a capture time); SidecarError when XMP
        cannot hold it."""
        text = xml_text(self.name, value)
        return {p: text for p in self.xmp_props}

    def from_xmp(self, get: XmpGet) -> Any:
        """Its value in a sidecar (None: absent or unreadable)."""
        texts = self._texts(get)
        return self._parse_xmp(texts[0], get) if texts else None

    def _texts(self, get: XmpGet) -> list[str]:
        return [v for p in self.xmp_props if (v := first_text(get(p))) is not None]

    def _parse_xmp(self, text: str, get: XmpGet) -> Any:
        return text

    # -- to ExifTool (--write-original: the image's embedded XMP, numeric -n values)
    def to_exiftool(self, value: Any) -> dict[str, Any]:
        return {_exiftool_tag(p): list(value) if isinstance(value, tuple) else value for p in self.xmp_props}

    # -- from the user
    def from_user(self, value: Any) -> Any:
        """A user's value (the CLI passes text), checked and typed; InvalidRequestError says why not."""
        return str(value)

    # -- equality
    def same(self, a: Any, b: Any, exact: bool = False) -> bool:
        """Whether two values mean the same, within the slack of the field's encodings (ExifTool, XMP and hosts
        write it in other forms); `b` may hold more (a tag list that hosts added to). `exact`: as planned values
        compare in a preview, where a time that gains an offset or a GPS moved by a metre is a change to show."""
        if _empty(a):
            return _empty(b)
        if b is None:
            return False
        if exact:
            if isinstance(a, float) or isinstance(b, float):
                return math.isclose(float(a), float(b), rel_tol=0.0, abs_tol=_EXACT)
            return a == b
        return self._same(a, b)

    def _same(self, a: Any, b: Any) -> bool:
        return str(a).strip() == str(b).strip()


@dataclass(frozen=True)
class Number(Field):
    """A number: within max(abs_tol, |value| x rel_tol) it is the same; `positive` ones (camera settings) are not
    recorded when 0."""

    positive: bool = False
    abs_tol: float = 0.0
    rel_tol: float = 1e-3

    def from_exiftool(self, raw: Raw, tag: str) -> float | None:
        num = _number(raw.get(tag))
        return None if num is None or (self.positive and num <= 0) else num

    def to_xmp(self, value: Any, offset: str | None = None) -> dict[str, str | list[str]]:
        return {self.xmp_props[0]: _rational(_finite(self.name, value, self.positive))}

    def _parse_xmp(self, text: str, get: XmpGet) -> float | None:
        return _parse_rational(text)

    def from_user(self, value: Any) -> float:
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidRequestError(f"{self.name} needs a number, not {value!r}") from exc

    def _same(self, a: Any, b: Any) -> bool:
        try:
            x, y = float(a), float(b)
        except (TypeError, ValueError):
            return False
        return abs(x - y) <= max(self.abs_tol, abs(x) * self.rel_tol)


@dataclass(frozen=True)
class Count(Number):
    """A whole number XMP keeps in a Seq (exif:ISOSpeedRatings)."""

    def to_xmp(self, value: Any, offset: str | None = None) -> dict[str, str | list[str]]:
        return {self.xmp_props[0]: [str(round(_finite(self.name, value, positive=True)))]}


@dataclass(frozen=True)
class Signed(Number):
    """A signed number that EXIF (and XMP written with a separate ref) store unsigned, plus a ref tag saying it is
    negative (`negative_ref`: S, W, altitude ref 1)."""

    negative_ref: str = "-"

    @property
    def companion_tags(self) -> tuple[str, ...]:
        return tuple(t + "Ref" for t in self.read_tags)

    def from_exiftool(self, raw: Raw, tag: str) -> float | None:
        """(ExifTool's Composite tags would be signed already, but computing them costs ~15% of a read.)"""
        value = _number(raw.get(tag))
        ref = _text(raw.get(tag + "Ref"))
        if value is not None and ref is not None and ref.upper().startswith(self.negative_ref) and value > 0:
            value = -value
        return value


@dataclass(frozen=True)
class Coordinate(Signed):
    """Latitude or longitude in degrees, within +-limit."""

    positive_ref: str = "+"
    limit: float = 0.0

    @property
    def also_owned(self) -> tuple[str, ...]:
        return (self.xmp_props[0] + "Ref",)

    def to_xmp(self, value: Any, offset: str | None = None) -> dict[str, str | list[str]]:
        v = _finite(self.name, value)
        if not -self.limit <= v <= self.limit:
            raise _fail(self.name, value, f"outside -{self.limit:g}..{self.limit:g}")
        deg, minutes = divmod(abs(v) * 60, 60)
        return {self.xmp_props[0]: f"{int(deg)},{minutes:.8f}{self.negative_ref if v < 0 else self.positive_ref}"}

    def _parse_xmp(self, text: str, get: XmpGet) -> float | None:
        return _parse_gps(text, first_text(get(self.also_owned[0])))


@dataclass(frozen=True)
class Altitude(Signed):
    """Metres, negative below sea level (ref 1); XMP too keeps it unsigned with its ref."""

    def from_exiftool(self, raw: Raw, tag: str) -> float | None:
        alt = super().from_exiftool(raw, tag)
        return alt if alt is not None and abs(alt) < 100_000 else None

    def to_xmp(self, value: Any, offset: str | None = None) -> dict[str, str | list[str]]:
        v = _finite(self.name, value)
        return {self.xmp_props[0]: _rational(abs(v), 10_000), self.xmp_props[1]: "1" if v < 0 else "0"}

    def _parse_xmp(self, text: str, get: XmpGet) -> float | None:
        value = _parse_rational(text)
        return -value if value is not None and first_text(get(self.xmp_props[1])) == "1" else value

    def to_exiftool(self, value: Any) -> dict[str, Any]:
        return {_exiftool_tag(self.xmp_props[0]): abs(value) if value is not None else None,
                _exiftool_tag(self.xmp_props[1]): 1 if value is not None and value < 0 else 0}


# A capture time as ExifTool gives it (EXIF "2024:05:12 14:03:07", or ISO), its offset split off beforehand.
_EXIF_DT = re.compile(r"^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:[.,](\d+))?\s*$")


@dataclass(frozen=True)
class Time(Field):
    """The capture time: ISO 8601 local time with sub-seconds, and the offset when it is known."""

    companions: tuple[tuple[str, str, str], ...] = ()  # (time tag, its sub-second tag, its offset tag)

    @property
    def companion_tags(self) -> tuple[str, ...]:
        return tuple(t for _tag, sub, off in self.companions for t in (sub, off))

    def from_exiftool(self, raw: Raw, tag: str) -> str | None:
        text = _text(raw.get(tag))
        if text is None:
            return None
        src = raw.get("SourceFile", "?")
        rest, off = split_offset(text)
        m = _EXIF_DT.match(rest)
        if not m:
            if not re.match(r"^\d{4}(:\d{2}){0,2}$", text):  # a bare date is no capture time: not worth a warning
                log.warning("%s: ignoring unreadable %s %r", src, tag, text)
            return None
        y, mo, d, h, mi, sec, frac = m.groups()
        try:
            datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec or 0))
        except ValueError:
            log.warning("%s: ignoring invalid %s %r", src, tag, text)
            return None
        sub_tag, off_tag = next(((s, o) for t, s, o in self.companions if t == tag), (None, None))
        if frac is None and sub_tag:
            sub = _text(raw.get(sub_tag))
            frac = sub if sub and sub.isdigit() else None
        offset = _offset(off) if off else _offset(raw.get(off_tag)) if off_tag else None
        return f"{y}-{mo}-{d}T{h}:{mi}:{sec or '00'}" + (f".{frac}" if frac else "") + (offset or "")

    def to_xmp(self, value: Any, offset: str | None = None) -> dict[str, str | list[str]]:
        """ISO text (an EXIF-style "YYYY:MM:DD HH:MM:SS" is converted); `offset` replaces any offset."""
        text = exif_to_iso(xml_text(self.name, value))
        if parse_local(text) is None:
            raise _fail(self.name, value, "not an ISO 8601 date and time")
        if offset is not None:
            text = split_offset(text)[0] + offset
        return {p: text for p in self.xmp_props}

    def from_xmp(self, get: XmpGet) -> str | None:
        """The first property that holds a date (hosts sometimes write locale strings like "ne led 28 10:54:20")."""
        for text in self._texts(get):
            try:
                return self.to_xmp(text)[self.xmp_props[0]]
            except SidecarError:
                continue
        return None

    def to_exiftool(self, value: Any) -> dict[str, Any]:
        """ExifTool writes dates only in its own form: "2024:05:12 14:03:07+02:00"."""
        iso = str(value) if value is not None else None
        if iso is not None and len(iso) > 10 and iso[10] == "T":
            iso = iso[:10].replace("-", ":") + " " + iso[11:]
        return {_exiftool_tag(p): iso for p in self.xmp_props}

    def from_user(self, value: Any) -> str:
        if parse_local(str(value)) is None:
            raise InvalidRequestError(f"{self.name} needs an ISO 8601 time like 2024-05-12T14:03:07+02:00, "
                                      f"not {value!r}")
        return str(value)

    def _same(self, a: Any, b: Any) -> bool:
        """The same wall clock to the second, and the same offset where both carry one."""
        x, y = parse_local(str(a)), parse_local(str(b))
        if x is None or y is None:
            return False
        if x.tzinfo is not None and y.tzinfo is not None and x.utcoffset() != y.utcoffset():
            return False
        return x.replace(tzinfo=None, microsecond=0) == y.replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class Offset(Field):
    """The capture time's UTC offset ("+02:00"). XMP has no property of its own: it lives in the capture time."""

    @property
    def writable(self) -> bool:
        return True

    def from_exiftool(self, raw: Raw, tag: str) -> str | None:
        return _offset(raw.get(tag))

    def from_xmp(self, get: XmpGet) -> str | None:
        when = FIELDS["datetime_original"].from_xmp(get)
        return split_offset(when)[1] if when and "T" in when else None

    def checked(self, value: Any) -> str:
        """An offset as XMP writes it into a capture time; SidecarError when it is none."""
        text = canonical_offset(str(value))
        if text is None:
            raise _fail(self.name, value, 'not an offset like "+02:00"')
        return text


@dataclass(frozen=True)
class ReceivedDay(Field):
    """A date known only to the day, read from a messenger copy's file name (naming.received_day): the day it was
    received, so the photo was taken that day or up to a few days before. It is evidence for choosing a copy's
    original, never a capture time: nothing groups, corrects clocks or interpolates by it, no plan proposes it, and
    it is never written (it has no XMP property: a sidecar would claim a capture date that is often wrong, and the
    name says it again on every scan). A copy matched to its original gets the original's precise time instead."""

    def from_exiftool(self, raw: Raw, tag: str) -> str | None:
        name = _text(raw.get(tag))
        return received_day(name) if name else None

    def from_xmp(self, get: XmpGet) -> None:
        return None

    def from_user(self, value: Any) -> Any:
        raise InvalidRequestError(f"{self.name} is read from the file name; it cannot be set")


@dataclass(frozen=True)
class Tags(Field):
    """Keywords: a list, merged and never replaced; a value is the same when the other holds all its tags."""

    @property
    def companion_tags(self) -> tuple[str, ...]:
        return ("XMP:HierarchicalSubject",)

    def read(self, raw: Raw) -> tuple[str, ...]:
        """dc:subject + IPTC Keywords + digiKam TagsList leaves, de-duplicated in order."""
        auto = _automatic_tags(raw)
        return tuple(dict.fromkeys(t for tag in self.read_tags if tag in raw for t in _leaves(raw[tag], tag, auto)))

    def to_xmp(self, value: Any, offset: str | None = None) -> dict[str, str | list[str]]:
        items = [value] if isinstance(value, str) else value
        return {p: list(dict.fromkeys(xml_text(self.name, t) for t in items)) for p in self.xmp_props}

    def from_xmp(self, get: XmpGet) -> list[str] | None:
        """Present even when empty."""
        tags = get(self.xmp_props[0])
        return [tags] if isinstance(tags, str) else tags

    def from_user(self, value: Any) -> list[str]:
        try:
            items = value.split(",") if isinstance(value, str) else list(value)
        except TypeError as exc:
            raise InvalidRequestError(f"{self.name} needs a list of tags, not {value!r}") from exc
        return [str(i).strip() for i in items if str(i).strip()]

    def _same(self, a: Any, b: Any) -> bool:
        return {str(x) for x in a} <= {str(x) for x in (b if isinstance(b, (list, tuple)) else [b])}


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Time("datetime_original",
             ("XMP:DateTimeOriginal", "EXIF:DateTimeOriginal", "XMP:DateCreated", "QuickTime:CreationDate",
              "EXIF:CreateDate"),
             ("exif:DateTimeOriginal", "photoshop:DateCreated"),
             companions=(("EXIF:DateTimeOriginal", "EXIF:SubSecTimeOriginal", "EXIF:OffsetTimeOriginal"),
                         ("EXIF:CreateDate", "EXIF:SubSecTimeDigitized", "EXIF:OffsetTimeDigitized"))),
        Offset("offset_time", ("EXIF:OffsetTimeOriginal", "EXIF:OffsetTime"), ()),
        Coordinate("gps_latitude", ("XMP:GPSLatitude", "EXIF:GPSLatitude"), ("exif:GPSLatitude",),
                   abs_tol=1e-5, rel_tol=0.0, negative_ref="S", positive_ref="N", limit=90),
        Coordinate("gps_longitude", ("XMP:GPSLongitude", "EXIF:GPSLongitude"), ("exif:GPSLongitude",),
                   abs_tol=1e-5, rel_tol=0.0, negative_ref="W", positive_ref="E", limit=180),
        Altitude("gps_altitude", ("XMP:GPSAltitude", "EXIF:GPSAltitude"), ("exif:GPSAltitude", "exif:GPSAltitudeRef"),
                 abs_tol=0.05, negative_ref="1"),
        Field("make", ("XMP:Make", "EXIF:Make", "QuickTime:Make"), ("tiff:Make",)),
        Field("model", ("XMP:Model", "EXIF:Model", "QuickTime:Model"), ("tiff:Model",)),
        Field("serial_number",
              ("XMP:SerialNumber", "EXIF:SerialNumber", "MakerNotes:SerialNumber", "MakerNotes:InternalSerialNumber"),
              ("exifEX:BodySerialNumber",)),
        Field("lens_model", ("XMP:LensModel", "EXIF:LensModel", "XMP:Lens", "MakerNotes:LensModel"),
              ("exifEX:LensModel", "aux:Lens")),
        Count("iso", ("XMP:ISO", "EXIF:ISO"), ("exif:ISOSpeedRatings",), positive=True),
        Number("f_number", ("XMP:FNumber", "EXIF:FNumber"), ("exif:FNumber",), positive=True),
        Number("exposure_time", ("XMP:ExposureTime", "EXIF:ExposureTime"), ("exif:ExposureTime",), positive=True),
        Number("focal_length", ("XMP:FocalLength", "EXIF:FocalLength"), ("exif:FocalLength",), positive=True),
        Field("city", ("XMP:City", "IPTC:City"), ("photoshop:City",)),
        Field("state", ("XMP:State", "IPTC:Province-State"), ("photoshop:State",)),
        Field("country", ("XMP:Country", "IPTC:Country-PrimaryLocationName"), ("photoshop:Country",)),
        Field("country_code", ("XMP:CountryCode", "IPTC:Country-PrimaryLocationCode"), ("Iptc4xmpCore:CountryCode",)),
        Tags("tags", ("XMP:Subject", "IPTC:Keywords", "XMP:TagsList"), ("dc:subject",)),
        ReceivedDay("received_day", ("File:FileName",), ()),
    )
}

# Fields that travel together (a position is one value: latitude and longitude never come from different sources).
POSITION_FIELDS = ("gps_latitude", "gps_longitude")
GPS_FIELDS = (*POSITION_FIELDS, "gps_altitude")
CAMERA_FIELDS = ("make", "model", "serial_number", "lens_model", "iso", "f_number", "exposure_time", "focal_length")
PLACE_FIELDS = ("city", "state", "country", "country_code")
TIME_FIELDS = ("datetime_original", "offset_time")  # a capture time and the offset it is read in


# -- value helpers ------------------------------------------------------------------------------------------------
def first_text(value: XmpValue) -> str | None:
    """An XMP value's first text (an array's first item)."""
    if isinstance(value, list):
        return value[0] if value else None
    return value or None


def xml_text(field: str, value: Any) -> str:
    """A value as XML text; SidecarError when it is empty or holds what XML cannot carry."""
    text = str(value).strip()
    if not text:
        raise _fail(field, value, "empty text")
    if NOT_XML_CHAR.search(text):
        raise _fail(field, value, "control characters cannot be stored in XML")
    return text


def _fail(field: str, value: Any, why: str) -> SidecarError:
    return SidecarError(f"cannot write {field}={value!r} to XMP: {why}")


_EXACT = 1e-7  # floats closer than this print the same


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == ()


def _exiftool_tag(prop: str) -> str:
    prefix, _, name = prop.partition(":")
    return f"{_XMP_GROUPS[prefix]}:{_XMP_TAG_NAMES.get(name, name)}"


def _scalar(value: Any) -> Any:
    """ExifTool gives repeated values (an ISO array) as a list: the first counts."""
    while isinstance(value, list):
        if not value:
            return None
        value = value[0]
    return value


def _text(value: Any) -> str | None:
    value = _scalar(value)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).replace("\x00", "").strip()
    return text or None


def _strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [t for t in (_text(i) for i in items) if t]


def _automatic_tags(raw: Raw) -> set[str]:
    """darktable puts the words of its automatic tags ("darktable|format|cr2") into dc:subject: they are dropped."""
    auto: set[str] = set()
    keep: set[str] = set()
    for h in _strings(raw.get("XMP:HierarchicalSubject")):
        parts = h.split("|")
        if parts[0] == "darktable":
            auto.update(parts)
        else:
            keep.add(parts[-1])
    return auto - keep


def _leaves(value: Any, tag: str, auto: set[str]) -> list[str]:
    """One tag list's tags (a digiKam TagsList path by its leaf), without darktable's automatic ones."""
    out = []
    for item in _strings(value):
        if tag.startswith("IPTC:"):
            item = _unmojibake(item)
        leaf = item.rsplit("/", 1)[-1].strip() if tag == "XMP:TagsList" else item
        if leaf and leaf not in auto:
            out.append(leaf)
    return out


def _unmojibake(text: str) -> str:
    """IPTC without a charset marker is read as Latin-1, but digiKam and phones write UTF-8 ("VÃ½let")."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _number(value: Any) -> float | None:
    """An ExifTool number (or "num/den" text); None when it is none or not finite."""
    value = _scalar(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        num, _, den = text.partition("/")
        try:
            value = float(num) / float(den) if den else float(text)
        except (ValueError, ZeroDivisionError):
            return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _offset(value: Any) -> str | None:
    delta = parse_offset(_text(value))
    return format_offset(delta) if delta is not None and abs(delta.total_seconds()) <= 14 * 3600 else None


def _finite(field: str, value: Any, positive: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise _fail(field, value, "not a number") from None
    if not math.isfinite(v) or (positive and v <= 0):
        raise _fail(field, value, "not a positive number" if positive else "not a finite number")
    return v


def _rational(value: float, max_den: int = 1_000_000) -> str:
    frac = Fraction(value).limit_denominator(max_den)
    return f"{frac.numerator}/{frac.denominator}"


def _parse_rational(text: str) -> float | None:
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            return float(num) / float(den)
        return float(text)
    except (ValueError, ZeroDivisionError):
        return None


_GPS_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)\s*(?:,\s*(\d+(?:\.\d+)?)\s*)?([NSEW])\s*$", re.I)


def _parse_gps(text: str, ref: str | None) -> float | None:
    """XMP's "48,51.50220000N" (or a plain number signed by its ref) in signed degrees."""
    m = _GPS_TEXT.match(text)
    if m:
        v = float(m.group(1)) + float(m.group(2)) / 60 + float(m.group(3) or 0) / 3600
        neg = m.group(4).upper() in "SW"
    else:
        try:
            v = float(text)
        except ValueError:
            return None
        neg = bool(ref) and ref.strip().upper()[:1] in ("S", "W")
    return round(-v if neg else v, 9)
