"""exif.py: canonical fields from real phone / DSLR / stripped JPEGs, sidecar merging, corpus files."""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image
from support.photos import make_bad_files, make_dslr, make_phone, make_stripped, write_sidecar

from metasync.errors import ExifReadError
from metasync.models import Metadata
from metasync.scan.exif import ExifTool, merge, normalize


# -- generated files ---------------------------------------------------------------------------------------------
def test_phone_fields(tmp_path: Path, exiftool: ExifTool) -> None:
    p = make_phone(tmp_path / "IMG_0001.jpg", exiftool)
    meta = exiftool.read_metadata([p])[str(p)]
    assert meta.datetime_original == "2024-05-12T14:03:07.120+02:00"
    assert meta.offset_time == "+02:00"
    assert meta.gps_latitude == pytest.approx(48.8584)
    assert meta.gps_longitude == pytest.approx(-2.2945)
    assert meta.gps_altitude == pytest.approx(35.5)
    assert (meta.make, meta.model) == ("Apple", "iPhone 13")
    assert (meta.iso, meta.f_number, meta.exposure_time) == (50, 1.6, pytest.approx(0.001))


def test_dslr_fields(tmp_path: Path, exiftool: ExifTool) -> None:
    p = make_dslr(tmp_path / "IMG_1234.JPG", exiftool)
    meta = exiftool.read_metadata([p])[str(p)]
    assert meta.serial_number == "032021001234"
    assert meta.lens_model == "EF24-105mm f/4L IS II USM"
    assert (meta.iso, meta.f_number, meta.exposure_time, meta.focal_length) == (400, 8.0, 0.004, 35.0)
    assert meta.datetime_original == "2024-05-12T13:58:41"
    assert meta.offset_time is None and not meta.has_gps


def test_stripped_copy_has_no_metadata(tmp_path: Path, exiftool: ExifTool) -> None:
    p = make_stripped(tmp_path / "IMG-20240512-WA0003.jpg")
    assert exiftool.read_metadata([p])[str(p)] == Metadata()


def test_sidecar_overrides_embedded_and_tags_union(tmp_path: Path, exiftool: ExifTool) -> None:
    p = make_phone(tmp_path / "IMG_0002.jpg", exiftool, **{"XMP:City": "Paris", "XMP:Subject": ["Trip"]})
    write_sidecar(tmp_path / "IMG_0002.jpg.xmp")
    meta = exiftool.read_metadata([p])[str(p)]
    assert meta.city == "Marseille"
    assert meta.gps_latitude == pytest.approx(43.297) and meta.gps_longitude == pytest.approx(5.37)
    assert meta.country == "France"
    assert meta.make == "Apple"  # not in the sidecar: the embedded value stays
    assert meta.tags == ("Trip", "Sea")


def test_lightroom_style_sidecar_name(tmp_path: Path, exiftool: ExifTool) -> None:
    p = make_stripped(tmp_path / "DSC_0001.jpg")
    write_sidecar(tmp_path / "DSC_0001.xmp", city="Lyon")
    assert exiftool.read_metadata([p])[str(p)].city == "Lyon"


def test_unreadable_sidecar_keeps_embedded(tmp_path: Path, exiftool: ExifTool, caplog) -> None:
    p = make_phone(tmp_path / "IMG_0003.jpg", exiftool)
    (tmp_path / "IMG_0003.jpg.xmp").write_bytes(b"")
    meta = exiftool.read_metadata([p])[str(p)]
    assert meta.make == "Apple" and meta.has_gps


def test_bad_files_become_read_errors_without_failing_the_batch(tmp_path: Path, exiftool: ExifTool) -> None:
    bad = make_bad_files(tmp_path)
    good = make_phone(tmp_path / "good.jpg", exiftool)
    res = exiftool.read_metadata([bad["zero"], good, bad["text"], tmp_path / "missing.jpg"])
    assert isinstance(res[str(bad["zero"])], ExifReadError) and "empty" in res[str(bad["zero"])].reason
    assert isinstance(res[str(bad["text"])], ExifReadError) and "not an image" in res[str(bad["text"])].reason
    assert isinstance(res[str(tmp_path / "missing.jpg")], ExifReadError)
    assert res[str(good)].make == "Apple"


# -- normalize: pure table tests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, expected", [
    pytest.param({"EXIF:ISO": [100, 200]}, {"iso": 100.0}, id="iso-array-first"),
    pytest.param({"XMP:ExposureTime": "1/250"}, {"exposure_time": 0.004}, id="rational-string"),
    pytest.param({"EXIF:FocalLength": 0, "EXIF:FNumber": 0}, {"focal_length": None, "f_number": None},
                 id="zero-means-unrecorded"),
    pytest.param({"EXIF:GPSLatitude": 33.9, "EXIF:GPSLatitudeRef": "S", "EXIF:GPSLongitude": 151.2,
                  "EXIF:GPSLongitudeRef": "E"}, {"gps_latitude": -33.9, "gps_longitude": 151.2}, id="exif-refs"),
    pytest.param({"EXIF:GPSLatitude": -33.9, "EXIF:GPSLongitude": -70.6, "EXIF:GPSLatitudeRef": "S"},
                 {"gps_latitude": -33.9, "gps_longitude": -70.6}, id="already-signed-stays"),
    pytest.param({"XMP:GPSLatitude": 52.5, "XMP:GPSLatitudeRef": "S", "XMP:GPSLongitude": 13.3},
                 {"gps_latitude": -52.5, "gps_longitude": 13.3}, id="xmp-decimal-with-ref"),
    pytest.param({"EXIF:GPSLatitude": 10.0, "EXIF:GPSLongitude": 20.0, "EXIF:GPSAltitude": 12.0,
                  "EXIF:GPSAltitudeRef": 1}, {"gps_altitude": -12.0}, id="below-sea-level"),
    pytest.param({"EXIF:GPSLatitude": 213.6, "EXIF:GPSLongitude": 103.4, "EXIF:GPSAltitude": 5},
                 {"gps_latitude": None, "gps_longitude": None, "gps_altitude": None}, id="latitude-213"),
    pytest.param({"EXIF:GPSLatitude": 0, "EXIF:GPSLongitude": 0}, {"gps_latitude": None},
                 id="null-island"),
    pytest.param({"EXIF:DateTimeOriginal": "2024:05:12 14:03:07", "EXIF:SubSecTimeOriginal": "050",
                  "EXIF:OffsetTimeOriginal": "-0400"},
                 {"datetime_original": "2024-05-12T14:03:07.050-04:00", "offset_time": "-04:00"}, id="subsec-offset"),
    pytest.param({"XMP:DateCreated": "2021:03:24 13:07:29.5+01:00"},
                 {"datetime_original": "2021-03-24T13:07:29.5+01:00", "offset_time": "+01:00"}, id="xmp-inline"),
    pytest.param({"XMP:DateCreated": "2022:04:24 08:35:34Z"},
                 {"datetime_original": "2022-04-24T08:35:34+00:00"}, id="utc-z"),
    pytest.param({"EXIF:DateTimeOriginal": "0000:00:00 00:00:00", "EXIF:CreateDate": "2020:01:02 03:04:05"},
                 {"datetime_original": "2020-01-02T03:04:05"}, id="zero-date-falls-back"),
    pytest.param({"XMP:DateCreated": "2024:01:07"}, {"datetime_original": None}, id="bare-date-no-time"),
    pytest.param({"EXIF:Make": " Canon\x00 ", "MakerNotes:SerialNumber": 123456789},
                 {"make": "Canon", "serial_number": "123456789"}, id="text-cleanup"),
    pytest.param({"XMP:Subject": ["Trip", "Sea"], "IPTC:Keywords": ["Trip", "VÃ½let"],
                  "XMP:TagsList": ["Places/Prague", "Sea"]},
                 {"tags": ("Trip", "Sea", "Výlet", "Prague")}, id="tags-union"),
    pytest.param({"XMP:Subject": ["Folk", "darktable", "format", "cr2"],
                  "XMP:HierarchicalSubject": ["Folk", "darktable|format|cr2"]},
                 {"tags": ("Folk",)}, id="darktable-auto-tags-dropped"),
])
def test_normalize(raw: dict, expected: dict) -> None:
    meta = normalize({"SourceFile": "x.jpg", **raw})
    for name, value in expected.items():
        got = getattr(meta, name)
        assert got == (pytest.approx(value) if isinstance(value, float) else value), name


def test_invalid_gps_is_logged(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="metasync.scan.exif"):
        normalize({"SourceFile": "pano.jpg", "EXIF:GPSLatitude": 213.6, "EXIF:GPSLongitude": 103.4})
    assert "pano.jpg" in caplog.text and "213.6" in caplog.text


def test_merge_keeps_gps_pair_and_unions_tags() -> None:
    embedded = Metadata(gps_latitude=1.0, gps_longitude=2.0, city="A", tags=("x",), make="Apple")
    sidecar = Metadata(gps_latitude=5.0, city=None, tags=("y", "x"))  # a lone latitude is no position
    merged = merge(embedded, sidecar)
    assert (merged.gps_latitude, merged.gps_longitude) == (1.0, 2.0)
    assert merged.city == "A" and merged.make == "Apple"
    assert merged.tags == ("x", "y")


# -- real-world corpus -------------------------------------------------------------------------------------------
def test_corpus_known_values(corpus: Path, exiftool: ExifTool) -> None:
    img = corpus / "images"
    names = ["nikon_coolpix-p6000_gps_DSCN0010.jpg", "xiaomi_bad-gps-latitude-213.jpg",
             "samsung_gt-i9000_bad-usercomment_gps-zero.jpg", "apple_iphone7_gps.jpg", "IMG_7943.HEIC",
             "canon_eos_6d.dng", "canon_eos-350d_stripped.cr2", "nikon_d70_stripped.nef",
             "fujifilm_f601_unicode-tags.jpg"]
    res = exiftool.read_metadata([img / n for n in names])
    m = {n: res[str(img / n)] for n in names}
    assert m["nikon_coolpix-p6000_gps_DSCN0010.jpg"].gps_latitude == pytest.approx(43.4674, abs=1e-3)
    assert not m["xiaomi_bad-gps-latitude-213.jpg"].has_gps
    assert m["xiaomi_bad-gps-latitude-213.jpg"].datetime_original == "2022-04-24T10:35:53.358+02:00"
    assert not m["samsung_gt-i9000_bad-usercomment_gps-zero.jpg"].has_gps
    assert m["apple_iphone7_gps.jpg"].gps_longitude == pytest.approx(-1.4567, abs=1e-3)
    assert m["IMG_7943.HEIC"].model == "iPhone 13 Pro" and m["IMG_7943.HEIC"].offset_time == "+01:00"
    assert m["canon_eos_6d.dng"].serial_number == "033024001432"
    assert m["canon_eos-350d_stripped.cr2"].model == "Canon EOS 350D DIGITAL"
    assert m["nikon_d70_stripped.nef"].make == "NIKON CORPORATION"
    assert m["fujifilm_f601_unicode-tags.jpg"].tags == ("Æske Øllegård", "æÆøØåÅéÉüÜäÄöÖïÏñÑ")


def test_corpus_digikam_sidecar_tags_union(corpus: Path, tmp_path: Path, exiftool: ExifTool) -> None:
    photo = Path(shutil.copy(corpus / "images" / "20240107_110258.jpg", tmp_path))
    shutil.copy(corpus / "sidecars" / "digikam" / "20240107_110258.jpg.xmp", tmp_path)
    meta = exiftool.read_metadata([photo])[str(photo)]
    assert meta.tags == ("Výlet", "Travel")
    assert (meta.gps_latitude, meta.gps_longitude) == (pytest.approx(50.089587), pytest.approx(14.39741))
    assert meta.datetime_original == "2024-01-07T11:02:59.177+01:00"


def test_raw_previews(corpus: Path, exiftool: ExifTool) -> None:
    dng, cr2 = corpus / "images" / "canon_eos_6d.dng", corpus / "images" / "canon_eos-350d_stripped.cr2"
    previews = exiftool.read_previews([dng, cr2])
    data, orientation = previews[str(dng)]
    assert data[:2] == b"\xff\xd8" and orientation == 1
    assert previews[str(cr2)] is None  # image data stripped: no preview


def test_process_started_by_a_short_lived_thread_survives_it(tmp_path: Path) -> None:
    """Regression: pyexiftool ties its process to the forking thread; a bridge job thread must not kill it."""
    import threading

    photo = tmp_path / "a.jpg"
    Image.new("RGB", (32, 24), (10, 20, 30)).save(photo)
    with ExifTool() as et:
        worker = threading.Thread(target=lambda: et.version)
        worker.start()
        worker.join()
        time.sleep(0.3)  # SIGTERM would have been delivered by now
        assert et._helper.running
        assert photo.name in str(et.read_raw([photo]))
        assert et.starts == 1
