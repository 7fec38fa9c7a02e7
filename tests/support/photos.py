"""Real photo files for the tests: Pillow JPEGs tagged with ExifTool (phone with GPS + offset, DSLR, stripped copy),
broken files, XMP sidecars, and shots of made-up scenes indexed as Photo rows.

The generated libraries with ground truth are demokit's (tests/conftest.py); these are the small, fixed files a
test spells out itself.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from demokit.library import whatsapp_copy
from metasync.models import Metadata, Photo
from metasync.scan.exif import ExifTool
from metasync.scan.phash import content_hash, phash_file

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


# -- pictures -------------------------------------------------------------------------------------------------------
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


# Palettes of two scenes that time, GPS-less photos and pHash cannot tell apart: a beach and a dim restaurant.
BEACH = [(70, 140, 220), (120, 180, 235), (230, 210, 160), (40, 110, 170)]
RESTAURANT = [(90, 50, 25), (150, 90, 40), (60, 35, 20), (200, 150, 80)]
PARK = [(60, 140, 60), (100, 170, 80), (130, 200, 235), (80, 80, 70)]


def palette_shot(path: Path, palette: list[tuple[int, int, int]], seed: int, shot: int) -> Path:
    """One shot of a scene: the scene's layout (seed) drawn in its palette, shifted and re-exposed per shot."""
    rng = np.random.default_rng(seed)
    w, h = 320, 240
    img = Image.new("RGB", (w + 60, h + 60), palette[0])
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, (h + 60) // 2, w + 60, h + 60], fill=palette[2])
    for _ in range(14):
        x, y = rng.integers(0, w + 60, 2)
        r = int(rng.integers(10, 60))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=palette[int(rng.integers(1, len(palette)))])
    shift = np.random.default_rng(seed * 100 + shot).integers(0, 60, 2)
    img = img.crop((int(shift[0]), int(shift[1]), int(shift[0]) + w, int(shift[1]) + h))
    gain = 0.9 + 0.04 * (shot % 5)
    img = img.point(lambda v: min(255, int(v * gain)))
    img.save(path, "JPEG", quality=90)
    return path


# -- tagged files -----------------------------------------------------------------------------------------------------
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


def make_canon_swatch(path: Path, shade: int) -> Path:
    """A 32x24 one-colour JPEG whose EXIF (written by Pillow, no ExifTool) names a Canon EOS R5."""
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS R5"
    Image.new("RGB", (32, 24), (shade, 120, 200 - shade)).save(path, "JPEG", exif=exif.tobytes())
    return path


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


# -- indexed rows of real files -------------------------------------------------------------------------------------
def indexed(pid: int, path: Path, meta: Metadata) -> Photo:
    """The Photo row the index would hold for `path` with `meta` (pHash and content hash from the file)."""
    return Photo(id=pid, path=str(path), meta=meta, phash=phash_file(path), content_hash=content_hash(path))


def beach_then_dinner(root: Path) -> list[Photo]:
    """A beach (phone with GPS + DSLR) at 14:00-14:35, then dinner at 14:45-15:20 shot only with the DSLR (no GPS),
    two of its photos also as messenger copies without any metadata. Time chains the two; nothing else separates."""
    photos: list[Photo] = []
    for shot in range(8):
        minute = 14 * 60 + shot * 5
        phone = shot % 2 == 0
        meta = Metadata(datetime_original=f"2024-07-14T{minute // 60:02d}:{minute % 60:02d}:00+02:00",
                        make="Apple" if phone else "Canon", model="iPhone 13" if phone else "EOS R6",
                        gps_latitude=43.2950 if phone else None, gps_longitude=5.3600 if phone else None,
                        f_number=8.0, exposure_time=1 / 500, iso=100)
        photos.append(indexed(len(photos) + 1, palette_shot(root / f"beach_{shot}.jpg", BEACH, 1, shot), meta))
    for shot in range(8):
        minute = 14 * 60 + 45 + shot * 5
        meta = Metadata(datetime_original=f"2024-07-14T{minute // 60:02d}:{minute % 60:02d}:00+02:00",
                        make="Canon", model="EOS R6", f_number=2.8, exposure_time=1 / 30, iso=1600)
        path = palette_shot(root / f"restaurant_{shot}.jpg", RESTAURANT, 2, shot)
        photos.append(indexed(len(photos) + 1, path, meta))
        if shot in (2, 5):
            copy = root / f"restaurant_wa{shot}.jpg"
            with Image.open(path) as img:
                whatsapp_copy(img, long_side=160).save(copy, "JPEG", quality=60)
            photos.append(indexed(len(photos) + 1, copy, Metadata()))
    return photos
