"""Photos of made-up scenes for the scene-analysis tests: real JPEG files, metadata as the index would hold it."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from metasync.models import Metadata, Photo
from metasync.scan.phash import content_hash, phash_file

# Palettes of two scenes that time, GPS-less photos and pHash cannot tell apart: a beach and a dim restaurant.
BEACH = [(70, 140, 220), (120, 180, 235), (230, 210, 160), (40, 110, 170)]
RESTAURANT = [(90, 50, 25), (150, 90, 40), (60, 35, 20), (200, 150, 80)]
PARK = [(60, 140, 60), (100, 170, 80), (130, 200, 235), (80, 80, 70)]


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def scene_image(path: Path, palette: list[tuple[int, int, int]], seed: int, shot: int) -> Path:
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


def make_photo(pid: int, path: Path, meta: Metadata) -> Photo:
    return Photo(id=pid, path=str(path), meta=meta, phash=phash_file(path), content_hash=content_hash(path))


@pytest.fixture(scope="module")
def two_events(tmp_path_factory: pytest.TempPathFactory) -> list[Photo]:
    """A beach (phone with GPS + DSLR) at 14:00-14:35, then dinner at 14:45-15:20 shot only with the DSLR (no GPS),
    two of its photos also as messenger copies without any metadata. Time chains the two; nothing else separates."""
    root = tmp_path_factory.mktemp("two_events")
    photos = []
    for shot in range(8):
        minute = 14 * 60 + shot * 5
        phone = shot % 2 == 0
        meta = Metadata(datetime_original=f"2024-07-14T{minute // 60:02d}:{minute % 60:02d}:00+02:00",
                        make="Apple" if phone else "Canon", model="iPhone 13" if phone else "EOS R6",
                        gps_latitude=43.2950 if phone else None, gps_longitude=5.3600 if phone else None,
                        f_number=8.0, exposure_time=1 / 500, iso=100)
        photos.append(make_photo(len(photos) + 1, scene_image(root / f"beach_{shot}.jpg", BEACH, 1, shot), meta))
    for shot in range(8):
        minute = 14 * 60 + 45 + shot * 5
        meta = Metadata(datetime_original=f"2024-07-14T{minute // 60:02d}:{minute % 60:02d}:00+02:00",
                        make="Canon", model="EOS R6", f_number=2.8, exposure_time=1 / 30, iso=1600)
        path = scene_image(root / f"restaurant_{shot}.jpg", RESTAURANT, 2, shot)
        photos.append(make_photo(len(photos) + 1, path, meta))
        if shot in (2, 5):
            copy = root / f"restaurant_wa{shot}.jpg"
            with Image.open(path) as img:
                img.resize((160, 120)).save(copy, "JPEG", quality=60)
            photos.append(make_photo(len(photos) + 1, copy, Metadata()))
    return photos
