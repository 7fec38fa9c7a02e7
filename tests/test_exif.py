"""exif.py: canonical fields from real phone / DSLR / stripped JPEGs, sidecar merging, corpus files.

The small photo builders here are also used by test_scan.py and test_cli_scan.py.
"""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from metasync.errors import ExifReadError
from metasync.models import Metadata
from metasync.scan.exif import ExifTool, merge, normalize

PHONE_TAGS = {
    "EXIF:Make": "Apple", "EXIF:Model": "iPhone 13",
    "EXIF:DateTimeOriginal": "2024:05:12 14:03:07", "EXIF:SubSecTimeOriginal": "120",
    "EXIF:OffsetTimeOriginal": "+02:00",
    "EXIF:GPSLatitude": 48.8584, "EXIF:GPSLatitudeRef": "N",
    "EXIF:GPSLongitude": 2.2945, "EXIF:GPSLongitudeRef": "W",  # W on purpose: the sign comes from the ref
    "EXIF:GPSAltitude": 35.5, "EXIF:GPSAltitudeRef": 0,
    "EXIF:ISO": 50, "EXIF:FNumber": 1.6, "EXIF:ExposureTime": 0.001, "EXIF:FocalLength": 5.1,
}
DSLR_TAGS = {
    "EXIF:Make": "Canon", "EXIF:Model": "Canon EOS 5D Mark IV", "EXIF:SerialNumber": "032021001234",
    "EXIF:LensModel": "EF24-105mm f/4L IS II USM",
    "EXIF:DateTimeOriginal": "2024:05:12 13:58:41",
    "EXIF:ISO": 400, "EXIF:FNumber": 8.0, "EXIF:ExposureTime": 0.004, "EXIF:FocalLength": 35.0,
}


def scene_image(seed: int, size: tuple[int, int] = (160, 120), shift: int = 0) -> Image.Image:
    """A simple scene; the same seed with a small shift looks alike, different seeds do not."""
    w, h = size
    img = Image.new("RGB", size, ((seed * 70) % 256, (seed * 130) % 256, (seed * 200) % 256))
    d = ImageDraw.Draw(img)
    for i in range(6):
        k = seed * 7 + i * 13
        x, y = (k * 37) % w + shift, (k * 53) % h
        d.ellipse([x, y, x + w // 3, y + h // 3], fill=((k * 90) % 256, (k * 20) % 256, (k * 150) % 256))
    d.rectangle([shift, h * 2 // 3, w // 2 + shift, h], fill=(255 - (seed * 40) % 256, 40, 90))
    return img


def make_jpeg(path: Path, exif: ExifTool | None = None, tags: dict | None = None, seed: int = 1,
              size: tuple[int, int] = (160, 120)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    scene_image(seed, size).save(path, "JPEG", quality=85)
    if tags:
        assert exif is not None
        exif.write_tags(path, tags)
    return path


def make_phone(path: Path, exif: ExifTool, seed: int = 1, **overrides: object) -> Path:
    return make_jpeg(path, exif, {**PHONE_TAGS, **overrides}, seed)


def make_dslr(path: Path, exif: ExifTool, seed: int = 1, **overrides: object) -> Path:
    return make_jpeg(path, exif, {**DSLR_TAGS, **overrides}, seed)


def make_stripped(path: Path, seed: int = 1) -> Path:
    """A WhatsApp-style copy: pixels only, no EXIF at all."""
    return make_jpeg(path, None, None, seed)


def make_bad_files(folder: Path) -> dict[str, Path]:
    """Corrupt, truncated, zero-byte and non-image files that carry a photo extension."""
    folder.mkdir(parents=True, exist_ok=True)
    good = make_stripped(folder / "_source.jpg")
    data = good.read_bytes()
    files = {
        "truncated": folder / "truncated.jpg",
        "zero": folder / "zero.jpg",
        "text": folder / "text.jpg",
        "corrupt": folder / "corrupt.jpg",
    }
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["zero"].write_bytes(b"")
    files["text"].write_text("this is not a photo\n")
    files["corrupt"].write_bytes(data[:20] + bytes(range(256)) * 8)
    good.unlink()
    return files


XMP_SIDECAR = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    exif:GPSLatitude="{lat}" exif:GPSLongitude="{lon}"
    photoshop:City="{city}" photoshop:Country="France">
   <dc:subject><rdf:Bag><rdf:li>{tag}</rdf:li></rdf:Bag></dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


def write_sidecar(path: Path, lat: str = "43,17.82N", lon: str = "5,22.2E", city: str = "Marseille",
                  tag: str = "Sea") -> Path:
    path.write_text(XMP_SIDECAR.format(lat=lat, lon=lon, city=city, tag=tag), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def exif():
    with ExifTool() as et:
        yield et


# -- generated files ---------------------------------------------------------------------------------------------
def test_phone_fields(tmp_path: Path, exif: ExifTool) -> None:
    p = make_phone(tmp_path / "IMG_0001.jpg", exif)
    meta = exif.read_metadata([p])[str(p)]
    assert meta.datetime_original == "2024-05-12T14:03:07.120+02:00"
    assert meta.offset_time == "+02:00"
    assert meta.gps_latitude == pytest.approx(48.8584)
    assert meta.gps_longitude == pytest.approx(-2.2945)
    assert meta.gps_altitude == pytest.approx(35.5)
    assert (meta.make, meta.model) == ("Apple", "iPhone 13")
    assert (meta.iso, meta.f_number, meta.exposure_time) == (50, 1.6, pytest.approx(0.001))


def test_dslr_fields(tmp_path: Path, exif: ExifTool) -> None:
    p = make_dslr(tmp_path / "IMG_1234.JPG", exif)
    meta = exif.read_metadata([p])[str(p)]
    assert meta.serial_number == "032021001234"
    assert meta.lens_model == "EF24-105mm f/4L IS II USM"
    assert (meta.iso, meta.f_number, meta.exposure_time, meta.focal_length) == (400, 8.0, 0.004, 35.0)
    assert meta.datetime_original == "2024-05-12T13:58:41"
    assert meta.offset_time is None and not meta.has_gps


def test_stripped_copy_has_no_metadata(tmp_path: Path, exif: ExifTool) -> None:
    p = make_stripped(tmp_path / "IMG-20240512-WA0003.jpg")
    assert exif.read_metadata([p])[str(p)] == Metadata()


def test_sidecar_overrides_embedded_and_tags_union(tmp_path: Path, exif: ExifTool) -> None:
    p = make_phone(tmp_path / "IMG_0002.jpg", exif, **{"XMP:City": "Paris", "XMP:Subject": ["Trip"]})
    write_sidecar(tmp_path / "IMG_0002.jpg.xmp")
    meta = exif.read_metadata([p])[str(p)]
    assert meta.city == "Marseille"
    assert meta.gps_latitude == pytest.approx(43.297) and meta.gps_longitude == pytest.approx(5.37)
    assert meta.country == "France"
    assert meta.make == "Apple"  # not in the sidecar: the embedded value stays
    assert meta.tags == ("Trip", "Sea")


def test_lightroom_style_sidecar_name(tmp_path: Path, exif: ExifTool) -> None:
    p = make_stripped(tmp_path / "DSC_0001.jpg")
    write_sidecar(tmp_path / "DSC_0001.xmp", city="Lyon")
    assert exif.read_metadata([p])[str(p)].city == "Lyon"


def test_unreadable_sidecar_keeps_embedded(tmp_path: Path, exif: ExifTool, caplog) -> None:
    p = make_phone(tmp_path / "IMG_0003.jpg", exif)
    (tmp_path / "IMG_0003.jpg.xmp").write_bytes(b"")
    meta = exif.read_metadata([p])[str(p)]
    assert meta.make == "Apple" and meta.has_gps


def test_bad_files_become_read_errors_without_failing_the_batch(tmp_path: Path, exif: ExifTool) -> None:
    bad = make_bad_files(tmp_path)
    good = make_phone(tmp_path / "good.jpg", exif)
    res = exif.read_metadata([bad["zero"], good, bad["text"], tmp_path / "missing.jpg"])
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
def test_corpus_known_values(corpus: Path, exif: ExifTool) -> None:
    img = corpus / "images"
    names = ["nikon_coolpix-p6000_gps_DSCN0010.jpg", "xiaomi_bad-gps-latitude-213.jpg",
             "samsung_gt-i9000_bad-usercomment_gps-zero.jpg", "apple_iphone7_gps.jpg", "IMG_7943.HEIC",
             "canon_eos_6d.dng", "canon_eos-350d_stripped.cr2", "nikon_d70_stripped.nef",
             "fujifilm_f601_unicode-tags.jpg"]
    res = exif.read_metadata([img / n for n in names])
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


def test_corpus_digikam_sidecar_tags_union(corpus: Path, tmp_path: Path, exif: ExifTool) -> None:
    photo = Path(shutil.copy(corpus / "images" / "20240107_110258.jpg", tmp_path))
    shutil.copy(corpus / "sidecars" / "digikam" / "20240107_110258.jpg.xmp", tmp_path)
    meta = exif.read_metadata([photo])[str(photo)]
    assert meta.tags == ("Výlet", "Travel")
    assert (meta.gps_latitude, meta.gps_longitude) == (pytest.approx(50.089587), pytest.approx(14.39741))
    assert meta.datetime_original == "2024-01-07T11:02:59.177+01:00"


def test_raw_previews(corpus: Path, exif: ExifTool) -> None:
    dng, cr2 = corpus / "images" / "canon_eos_6d.dng", corpus / "images" / "canon_eos-350d_stripped.cr2"
    previews = exif.read_previews([dng, cr2])
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
