"""UTC offsets from GPS for naive local capture times, daylight saving included."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from metasync.lookups.zones import Zones, offset_change
from metasync.models import Metadata

PARIS = (48.8584, 2.2945)
ZONES = Zones()


@pytest.mark.parametrize(
    ("where", "local", "expected"),
    [
        pytest.param(PARIS, datetime(2024, 1, 15, 12), "+01:00", id="paris-winter"),
        pytest.param(PARIS, datetime(2024, 7, 15, 12), "+02:00", id="paris-summer"),
        pytest.param(PARIS, datetime(2024, 3, 31, 1, 59), "+01:00", id="paris-just-before-spring-forward"),
        pytest.param(PARIS, datetime(2024, 3, 31, 3, 0), "+02:00", id="paris-just-after-spring-forward"),
        pytest.param(PARIS, datetime(2024, 10, 27, 3, 30), "+01:00", id="paris-after-fall-back"),
        pytest.param((40.7128, -74.006), datetime(2024, 11, 3, 0, 30), "-04:00", id="new-york-before-fall-back"),
        pytest.param((40.7128, -74.006), datetime(2024, 11, 3, 3, 0), "-05:00", id="new-york-after-fall-back"),
        pytest.param((-33.86, 151.21), datetime(2024, 1, 10, 9), "+11:00", id="sydney-summer-in-january"),
        pytest.param((-33.86, 151.21), datetime(2024, 7, 10, 9), "+10:00", id="sydney-winter-in-july"),
        pytest.param((27.7172, 85.324), datetime(2024, 5, 1, 9), "+05:45", id="kathmandu-quarter-hour"),
        pytest.param((33.0, -30.0), datetime(2024, 5, 1, 9), "-02:00", id="mid-atlantic-nautical-zone"),
    ],
)
def test_offset_for(where, local, expected):
    assert ZONES.offset_for(*where, local) == expected


def test_ambiguous_hour_takes_the_first_offset_and_aware_input_is_read_as_wall_time():
    assert ZONES.offset_for(*PARIS, datetime(2024, 10, 27, 2, 30)) == "+02:00"
    aware = datetime.fromisoformat("2024-07-15T12:00:00+09:00")
    assert ZONES.offset_for(*PARIS, aware) == "+02:00"


def test_zone_names():
    assert ZONES.at(*PARIS) == "Europe/Paris"
    assert ZONES.at(35.6762, 139.6503) == "Asia/Tokyo"
    assert ZONES.utc_offset(35.6762, 139.6503, datetime(2024, 7, 1)) == timedelta(hours=9)


def test_offset_change_for_a_camera_without_offset_across_a_dst_change():
    before = Metadata("2024-03-30T18:00:00", None, 52.5163, 13.3777)  # Saturday: winter time
    after = before.with_values(datetime_original="2024-03-31T18:00:00.250")  # Sunday: summer time
    off = offset_change(ZONES, "/lib/a.jpg", before, 0.8, "/lib/phone.jpg")
    assert (off.field, off.new, off.old, off.confidence, off.source) == ("offset_time", "+01:00", None, 0.8,
                                                                         "/lib/phone.jpg")
    assert "Europe/Berlin" in off.reason and "summer" not in off.reason
    off = offset_change(ZONES, "/lib/b.jpg", after)
    assert off.new == "+02:00" and "(summer time)" in off.reason


@pytest.mark.parametrize(
    "meta",
    [
        pytest.param(Metadata("2024-07-01T12:00:00", "+02:00", 52.5, 13.4), id="offset-known"),
        pytest.param(Metadata("2024-07-01T12:00:00+02:00", None, 52.5, 13.4), id="offset-in-the-time"),
        pytest.param(Metadata("2024-07-01T12:00:00"), id="no-gps"),
        pytest.param(Metadata(None, None, 52.5, 13.4), id="no-time"),
    ],
)
def test_no_offset_change(meta):
    assert offset_change(ZONES, "/lib/a.jpg", meta) is None
