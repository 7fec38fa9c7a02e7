"""fields.py and the one offset pattern: what a user types becomes a field's value, a time's offset is split off
in every form ExifTool, XMP and hosts write it."""
from __future__ import annotations

import pytest

from metasync.errors import InvalidRequestError
from metasync.fields import FIELDS
from metasync.timeutil import canonical_offset, parse_offset, split_offset


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-05-12T14:03:07+02:00", ("2024-05-12T14:03:07", "+02:00")),
    ("2024:05:12 14:03:07-0530", ("2024:05:12 14:03:07", "-05:30")),
    ("2024-05-12T14:03:07.120Z", ("2024-05-12T14:03:07.120", "+00:00")),
    ("2024-05-12T14:03:07", ("2024-05-12T14:03:07", None)),
    ("2024-05-12", ("2024-05-12", None)),
])
def test_split_offset(text, expected):
    assert split_offset(text) == expected


def test_an_offset_standing_alone_has_a_sign():
    assert canonical_offset(" +0200 ") == "+02:00"
    assert canonical_offset("Z") is None and parse_offset("Z") is None
    assert canonical_offset("2h") is None


def test_user_input_is_typed_by_its_field():
    assert FIELDS["gps_latitude"].from_user("48.8584") == 48.8584
    assert FIELDS["tags"].from_user("cake, party,") == ["cake", "party"]
    assert FIELDS["city"].from_user(12) == "12"
    with pytest.raises(InvalidRequestError, match="f_number needs a number"):
        FIELDS["f_number"].from_user("f/2.8")
    with pytest.raises(InvalidRequestError, match="needs an ISO 8601 time"):
        FIELDS["datetime_original"].from_user("yesterday")


def test_write_original_tags_are_exiftools_names_and_forms():
    assert FIELDS["gps_altitude"].to_exiftool(-12.5) == {"XMP-exif:GPSAltitude": 12.5, "XMP-exif:GPSAltitudeRef": 1}
    exif_time = "2024:05:12 14:03:07+02:00"
    assert FIELDS["datetime_original"].to_exiftool("2024-05-12T14:03:07+02:00") == {
        "XMP-exif:DateTimeOriginal": exif_time, "XMP-photoshop:DateCreated": exif_time}
    assert FIELDS["iso"].to_exiftool(200.0) == {"XMP-exif:ISO": 200.0}
