"""The one table that maps canonical fields to the tags they are read from and the XMP they are written to."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # "str" | "float" | "datetime" | "list"
    read_tags: tuple[str, ...]  # ExifTool group:tag names (-G), highest priority first
    xmp_props: tuple[str, ...]  # XMP properties written by sidecar.py ("prefix:Name")


FIELD_SPECS: dict[str, FieldSpec] = {
    s.name: s
    for s in (
        FieldSpec("datetime_original", "datetime",
                  ("XMP:DateTimeOriginal", "EXIF:DateTimeOriginal", "XMP:DateCreated",
                   "QuickTime:CreationDate", "EXIF:CreateDate"),
                  ("exif:DateTimeOriginal", "photoshop:DateCreated")),
        FieldSpec("offset_time", "str",
                  ("EXIF:OffsetTimeOriginal", "EXIF:OffsetTime"), ()),
        FieldSpec("gps_latitude", "float",
                  ("XMP:GPSLatitude", "EXIF:GPSLatitude"), ("exif:GPSLatitude",)),
        FieldSpec("gps_longitude", "float",
                  ("XMP:GPSLongitude", "EXIF:GPSLongitude"), ("exif:GPSLongitude",)),
        FieldSpec("gps_altitude", "float",
                  ("XMP:GPSAltitude", "EXIF:GPSAltitude"),
                  ("exif:GPSAltitude", "exif:GPSAltitudeRef")),
        FieldSpec("make", "str", ("XMP:Make", "EXIF:Make", "QuickTime:Make"), ("tiff:Make",)),
        FieldSpec("model", "str", ("XMP:Model", "EXIF:Model", "QuickTime:Model"), ("tiff:Model",)),
        FieldSpec("serial_number", "str",
                  ("XMP:SerialNumber", "EXIF:SerialNumber", "MakerNotes:SerialNumber",
                   "MakerNotes:InternalSerialNumber"),
                  ("exifEX:BodySerialNumber",)),
        FieldSpec("lens_model", "str",
                  ("XMP:LensModel", "EXIF:LensModel", "XMP:Lens", "MakerNotes:LensModel"),
                  ("exifEX:LensModel", "aux:Lens")),
        FieldSpec("iso", "float", ("XMP:ISO", "EXIF:ISO"), ("exif:ISOSpeedRatings",)),
        FieldSpec("f_number", "float", ("XMP:FNumber", "EXIF:FNumber"), ("exif:FNumber",)),
        FieldSpec("exposure_time", "float", ("XMP:ExposureTime", "EXIF:ExposureTime"), ("exif:ExposureTime",)),
        FieldSpec("focal_length", "float", ("XMP:FocalLength", "EXIF:FocalLength"), ("exif:FocalLength",)),
        FieldSpec("city", "str", ("XMP:City", "IPTC:City"), ("photoshop:City",)),
        FieldSpec("state", "str", ("XMP:State", "IPTC:Province-State"), ("photoshop:State",)),
        FieldSpec("country", "str", ("XMP:Country", "IPTC:Country-PrimaryLocationName"), ("photoshop:Country",)),
        FieldSpec("country_code", "str",
                  ("XMP:CountryCode", "IPTC:Country-PrimaryLocationCode"), ("Iptc4xmpCore:CountryCode",)),
        FieldSpec("tags", "list",
                  ("XMP:Subject", "IPTC:Keywords", "XMP:TagsList"), ("dc:subject",)),
    )
}
