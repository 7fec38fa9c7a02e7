"""Demo and test libraries with a known truth: phone, DSLR and WhatsApp photos of procedurally drawn events.

Every event is one seeded "scene" (sky and ground gradients, shapes, texture); each photo of the event is a slightly
shifted, zoomed and exposed view of it, so perceptual hashes are close within an event and far apart across events.
Tags are written with ExifTool (one process per run) and `ground_truth.json` records what really happened: which
event a photo belongs to, its true UTC time, local offset and position, and which original a WhatsApp copy is of.

Use:
    truth = generate_library(Path("lib"), seed=1, events=4)      # a library; truth.photos, truth.events
    truth = scenario_birthday_party(Path("party"))                # an engine scenario; truth.path("full_1"),
    truth.expected["sources"]                                     # ... and what the engine should conclude
    truth = Truth.load(Path("lib"))                               # read ground_truth.json back (any copy)
"""
from __future__ import annotations

import json
import logging
import math
import os
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import imagehash
import numpy as np
from PIL import Image, ImageDraw

from metasync.fields import CAMERA_FIELDS
from metasync.scan.exif import ExifTool
from metasync.timeutil import format_offset, iso_local, parse_offset

log = logging.getLogger(__name__)

TRUTH_FILE = "ground_truth.json"
_MARGIN = 1.2  # the drawn scene is this much larger than a photo, so views can shift and zoom inside it
_MIN_SCENE_DISTANCE = 28  # a new event's scene is redrawn until its pHash is this far from recent scenes...
_SCENE_MEMORY = 12  # ...compared with the scenes of this many preceding events
_SCENE_ATTEMPTS = 30
_PROBE = (256, 192)  # render size used to compare candidate scenes
_WALK_STEP_S = 60  # track waypoint spacing


@dataclass(frozen=True)
class Place:
    name: str
    lat: float
    lon: float
    alt: float
    tz: str


# Inland central-European places (one UTC offset), so "another event 25-60 km away" stays on land and in the zone.
PLACES: tuple[Place, ...] = (
    Place("Berlin", 52.5163, 13.3777, 34.0, "Europe/Berlin"),
    Place("Munich", 48.1374, 11.5755, 519.0, "Europe/Berlin"),
    Place("Leipzig", 51.3397, 12.3731, 113.0, "Europe/Berlin"),
    Place("Dresden", 51.0504, 13.7373, 113.0, "Europe/Berlin"),
    Place("Frankfurt", 50.1109, 8.6821, 112.0, "Europe/Berlin"),
    Place("Nuremberg", 49.4521, 11.0767, 309.0, "Europe/Berlin"),
    Place("Prague", 50.0755, 14.4378, 235.0, "Europe/Prague"),
    Place("Vienna", 48.2082, 16.3738, 190.0, "Europe/Vienna"),
    Place("Zurich", 47.3769, 8.5417, 408.0, "Europe/Zurich"),
)
PARIS = Place("Paris", 48.8584, 2.2945, 35.0, "Europe/Paris")
LONDON = Place("London", 51.5007, -0.1246, 11.0, "Europe/London")

EVENT_NAMES: tuple[str, ...] = (
    "Birthday", "Hike", "Flea market", "Lake day", "Museum", "Picnic", "Wedding", "Zoo", "Old town",
    "Garden party", "Concert", "Bike tour", "Christmas market", "Castle", "Harbour", "Barbecue",
)


@dataclass(frozen=True)
class Device:
    make: str
    model: str
    lens_model: str
    focal_length: float
    f_number: float
    serial_number: str | None = None
    name_prefix: str = ""  # "IMG_", "_MG_", "DSC_"; empty: named by local time (Samsung style)

    @property
    def label(self) -> str:
        """"Canon EOS R6 #032021001234", "Apple iPhone 15": how a camera is named in truth and previews."""
        brand = self.make.split()[0]
        name = self.model if self.model.lower().startswith(brand.lower()) else f"{brand} {self.model}"
        return name + (f" #{self.serial_number}" if self.serial_number else "")


IPHONE = Device("Apple", "iPhone 15", "iPhone 15 back dual wide camera 6.1mm f/1.6", 6.1, 1.6, name_prefix="IMG_")
GALAXY = Device("samsung", "SM-S918B", "Samsung Galaxy S23 Ultra Main Camera", 6.3, 1.7)
CANON = Device("Canon", "Canon EOS R6", "RF24-105mm F4 L IS USM", 50.0, 4.0, "032021001234", "_MG_")
NIKON = Device("NIKON CORPORATION", "NIKON Z 6_2", "NIKKOR Z 24-70mm f/4 S", 35.0, 5.6, "6012345", "DSC_")
PHONES = (IPHONE, GALAXY)
CAMERAS = (CANON, NIKON)


# -- truth -------------------------------------------------------------------------------------------------------
@dataclass
class PhotoTruth:
    """One generated file and what really happened when it was "taken"."""

    path: str  # relative to the library root, POSIX separators
    event: str  # event id ("" for a scenario photo outside any event)
    kind: str  # phone | dslr | whatsapp | export (GPS only) | camera_gps; trips: camera2 | scan | screenshot | old
    device: str | None  # Device.label, None for copies without metadata
    utc: str  # true capture instant, ISO 8601 with +00:00
    offset: str  # true local UTC offset at that instant, "+02:00"
    lat: float
    lon: float
    alt: float
    original: str | None = None  # for a WhatsApp copy: the path of the photo it was made from
    meta: dict[str, Any] = field(default_factory=dict)  # canonical fields as written into the file (absent: omitted)
    # what metasync should write (canonical field -> right value; a field absent: write nothing), None: not stated.
    # Stated by demokit.trips; place names are left to the judge (the gazetteer at the true position).
    want: dict[str, Any] | None = None

    @property
    def utc_epoch(self) -> float:
        return datetime.fromisoformat(self.utc).timestamp()


@dataclass
class EventTruth:
    id: str
    name: str
    folder: str
    place: str
    tz: str
    track: list[list[float]]  # [utc_epoch, lat, lon, alt] every minute of the walk

    def position_at(self, utc_epoch: float) -> tuple[float, float, float]:
        """True position on the walk at a UTC instant (linear between waypoints, clamped at the ends)."""
        return _track_at(self.track, utc_epoch)


@dataclass
class Truth:
    """What a generated library (or scenario) contains; saved as `root/ground_truth.json`.

    Scenarios also fill `roles` (a name such as "dslr" -> relative path) and `expected` (what the engine should
    conclude, keyed by role names).
    """

    root: Path
    seed: int
    params: dict[str, Any]
    events: list[EventTruth] = field(default_factory=list)
    photos: list[PhotoTruth] = field(default_factory=list)
    cameras: dict[str, float] = field(default_factory=dict)  # Device.label -> clock error in seconds (written-true)
    roles: dict[str, str] = field(default_factory=dict)
    expected: dict[str, Any] = field(default_factory=dict)

    def path(self, photo: PhotoTruth | str) -> Path:
        """Absolute path of a photo, given its truth record, relative path or scenario role."""
        rel = photo.path if isinstance(photo, PhotoTruth) else self.roles.get(photo, photo)
        return self.root / rel

    def photo(self, key: str) -> PhotoTruth:
        """Truth record by relative path or scenario role."""
        rel = self.roles.get(key, key)
        for p in self.photos:
            if p.path == rel:
                return p
        raise KeyError(key)

    def copy_to(self, dest: Path) -> "Truth":
        """A private copy of the library (files, times and truth) at `dest`; tests write sidecars into copies."""
        shutil.copytree(self.root, dest, copy_function=shutil.copy2)
        return Truth.load(dest)

    def of_kind(self, kind: str) -> list[PhotoTruth]:
        return [p for p in self.photos if p.kind == kind]

    def event(self, event_id: str) -> EventTruth:
        return next(e for e in self.events if e.id == event_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "params": self.params, "cameras": self.cameras, "roles": self.roles,
            "expected": self.expected, "events": [asdict(e) for e in self.events],
            "photos": [asdict(p) for p in self.photos],
        }

    def save(self) -> Path:
        target = self.root / TRUTH_FILE
        target.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return target

    @classmethod
    def load(cls, root: Path) -> "Truth":
        """Read `root/ground_truth.json`; paths resolve against `root`, so a copied library works unchanged."""
        data = json.loads((Path(root) / TRUTH_FILE).read_text(encoding="utf-8"))
        return cls(
            root=Path(root), seed=data["seed"], params=data["params"], cameras=data["cameras"],
            roles=data["roles"], expected=data["expected"],
            events=[EventTruth(**e) for e in data["events"]], photos=[PhotoTruth(**p) for p in data["photos"]])


# -- geometry and time -------------------------------------------------------------------------------------------
def _move(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """Position `north_m`/`east_m` metres away (flat-earth step: fine for the few km of one event)."""
    return (lat + north_m / 111_320.0, lon + east_m / (111_320.0 * math.cos(math.radians(lat))))


def _track_at(track: list[list[float]], t: float) -> tuple[float, float, float]:
    if t <= track[0][0]:
        return tuple(track[0][1:])  # type: ignore[return-value]
    for a, b in zip(track, track[1:]):
        if t <= b[0]:
            f = (t - a[0]) / (b[0] - a[0])
            return tuple(x + (y - x) * f for x, y in zip(a[1:], b[1:]))  # type: ignore[return-value]
    return tuple(track[-1][1:])  # type: ignore[return-value]


def _walk(rng: np.random.Generator, start: float, duration_s: float,
          lat: float, lon: float, alt: float) -> list[list[float]]:
    """A strolling walk (0.4-0.8 m/s, slowly turning) with a waypoint every minute."""
    speed = rng.uniform(0.4, 0.8)
    heading = rng.uniform(0, 2 * math.pi)
    track = [[start, lat, lon, alt]]
    t = start
    while t < start + duration_s:
        t += _WALK_STEP_S
        heading += rng.normal(0, math.radians(12))
        step = speed * _WALK_STEP_S
        lat, lon = _move(lat, lon, step * math.cos(heading), step * math.sin(heading))
        alt += rng.normal(0, 0.5)
        track.append([t, lat, lon, alt])
    return track


def _offset_at(tz: str, utc_epoch: float) -> timedelta:
    return datetime.fromtimestamp(utc_epoch, ZoneInfo(tz)).utcoffset() or timedelta(0)


def _utc_from_local(tz: str, local: datetime) -> float:
    return local.replace(tzinfo=ZoneInfo(tz)).timestamp()


def _utc_iso(epoch: float) -> str:
    # rounded like phone_meta's iso_local(round(utc, 3)), so truth and tags agree to the millisecond
    return datetime.fromtimestamp(round(epoch, 3), timezone.utc).isoformat(timespec="milliseconds")


# -- metadata -----------------------------------------------------------------------------------------------------
def phone_meta(phone: Device, utc: float, offset: timedelta, lat: float | None, lon: float | None,
               alt: float | None, rng: np.random.Generator) -> dict[str, Any]:
    """Canonical fields a phone writes: local time with milliseconds and offset, GPS, camera and exposure."""
    meta = _camera_fields(phone, rng)
    meta["datetime_original"] = iso_local(round(utc, 3), offset)
    meta["offset_time"] = format_offset(offset)
    if lat is not None and lon is not None:
        meta.update(_gps_fields(lat, lon, alt))
    return meta


def camera_meta(camera: Device, utc: float, offset: timedelta, clock_error_s: float,
                rng: np.random.Generator) -> dict[str, Any]:
    """Canonical fields a DSLR writes: its (wrong) local wall clock without offset, no GPS."""
    meta = _camera_fields(camera, rng)
    wall = round(utc + offset.total_seconds() + clock_error_s)
    meta["datetime_original"] = iso_local(wall, None)
    return meta


def _camera_fields(device: Device, rng: np.random.Generator) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "make": device.make, "model": device.model, "lens_model": device.lens_model,
        "iso": float(rng.choice([50, 100, 200, 400, 800, 1600])), "f_number": device.f_number,
        "exposure_time": float(rng.choice([1 / 1000, 1 / 500, 1 / 250, 1 / 125, 1 / 60])),
        "focal_length": device.focal_length,
    }
    if device.serial_number:
        meta["serial_number"] = device.serial_number
    return meta


def _gps_fields(lat: float, lon: float, alt: float | None) -> dict[str, Any]:
    meta = {"gps_latitude": round(lat, 6), "gps_longitude": round(lon, 6)}
    if alt is not None:
        meta["gps_altitude"] = round(alt, 1)
    return meta


_SIMPLE_TAGS = {
    "make": "EXIF:Make", "model": "EXIF:Model", "serial_number": "EXIF:SerialNumber", "lens_model": "EXIF:LensModel",
    "iso": "EXIF:ISO", "f_number": "EXIF:FNumber", "exposure_time": "EXIF:ExposureTime",
    "focal_length": "EXIF:FocalLength",
}


def exif_tags(meta: dict[str, Any]) -> dict[str, Any]:
    """The ExifTool tags (numeric, `-n` style) that make a file read back as these canonical fields."""
    tags: dict[str, Any] = {tag: meta[name] for name, tag in _SIMPLE_TAGS.items() if meta.get(name) is not None}
    if meta.get("datetime_original"):
        dt = datetime.fromisoformat(meta["datetime_original"])
        stamp = dt.strftime("%Y:%m:%d %H:%M:%S")
        tags["EXIF:DateTimeOriginal"] = tags["EXIF:CreateDate"] = stamp
        if dt.microsecond:
            tags["EXIF:SubSecTimeOriginal"] = tags["EXIF:SubSecTimeDigitized"] = f"{dt.microsecond // 1000:03d}"
    if meta.get("offset_time"):
        for tag in ("EXIF:OffsetTimeOriginal", "EXIF:OffsetTimeDigitized", "EXIF:OffsetTime"):
            tags[tag] = meta["offset_time"]
    if meta.get("gps_latitude") is not None:
        lat, lon = meta["gps_latitude"], meta["gps_longitude"]
        tags.update({"EXIF:GPSLatitude": abs(lat), "EXIF:GPSLatitudeRef": "N" if lat >= 0 else "S",
                     "EXIF:GPSLongitude": abs(lon), "EXIF:GPSLongitudeRef": "E" if lon >= 0 else "W"})
        if meta.get("gps_altitude") is not None:
            tags["EXIF:GPSAltitude"] = abs(meta["gps_altitude"])
            tags["EXIF:GPSAltitudeRef"] = 0 if meta["gps_altitude"] >= 0 else 1
    if meta.get("tags"):
        tags["XMP-dc:Subject"] = list(meta["tags"])
    return tags


# -- pictures -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class View:
    """Where a photo looks inside its event's scene: shift (fraction of the frame), zoom (>= 1), exposure (EV)."""

    dx: float = 0.0
    dy: float = 0.0
    zoom: float = 1.0
    ev: float = 0.0

    def near(self, rng: np.random.Generator, shift: float, zoom: tuple[float, float], ev: float = 0.3) -> "View":
        """Another view a small step away (a second shot of the same moment, another photographer's angle)."""
        return View(self.dx + rng.uniform(-shift, shift), self.dy + rng.uniform(-shift, shift) * 0.75,
                    self.zoom * rng.uniform(*zoom), rng.uniform(-ev, ev))


def random_view(rng: np.random.Generator) -> View:
    """A view of the event: shifts of about 1 % and zooms of a few % keep pHash distances within about 2-10."""
    return View(rng.uniform(-0.012, 0.012), rng.uniform(-0.009, 0.009), rng.uniform(1.0, 1.04), rng.uniform(-0.3, 0.3))


def draw_scene(seed: int, size: tuple[int, int]) -> Image.Image:
    """One event's scene, larger than a photo by _MARGIN: sky/ground gradients, a few big shapes, grain.

    Shapes are drawn at a quarter of the resolution and scaled up (soft edges keep pHash stable under small
    shifts); every random choice but the grain is relative to the size, so a small render has the same layout.
    """
    rng = np.random.default_rng(seed)
    w, h = int(size[0] * _MARGIN), int(size[1] * _MARGIN)
    lw, lh = max(w // 4, 16), max(h // 4, 12)
    horizon = int(lh * rng.uniform(0.3, 0.7))
    rows = np.arange(lh, dtype=np.float32)[:, None]
    sky = _gradient(rng, np.clip(rows / horizon, 0, 1))
    ground = _gradient(rng, np.clip((rows - horizon) / (lh - horizon), 0, 1))
    column = np.where(rows[:, :, None] < horizon, sky, ground)  # (lh, 1, 3)
    im = Image.fromarray(np.broadcast_to(column, (lh, lw, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(5, 10))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cx, cy, r = rng.uniform(0, lw), rng.uniform(0, lh), rng.uniform(0.05, 0.2) * lw
        shape = rng.integers(0, 3)
        if shape == 0:
            draw.ellipse([cx - r, cy - r * rng.uniform(0.5, 1.5), cx + r, cy + r], fill=colour)
        elif shape == 1:
            draw.rectangle([cx - r, cy - r * rng.uniform(0.5, 2), cx + r * rng.uniform(0.5, 1.5), cy + r], fill=colour)
        else:
            draw.polygon([(cx + r * math.cos(a) * rng.uniform(0.5, 1.5), cy + r * math.sin(a) * rng.uniform(0.5, 1.5))
                          for a in np.linspace(0, 2 * math.pi, 6)[:-1]], fill=colour)
    grain = rng.integers(-10, 11, (h, w), dtype=np.int16)[:, :, None]
    pixels = np.asarray(im.resize((w, h), Image.Resampling.BILINEAR), dtype=np.int16) + grain
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def _gradient(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    top, bottom = rng.integers(0, 256, 3).astype(np.float32), rng.integers(0, 256, 3).astype(np.float32)
    return (top + (bottom - top) * t[:, :, None]).astype(np.float32)


def render_view(scene: Image.Image, size: tuple[int, int], view: View) -> Image.Image:
    """The photo `view` sees of `scene`: a shifted, zoomed crop resized to `size`, with an exposure change."""
    sw, sh = scene.size
    cw, ch = sw / _MARGIN / view.zoom, sh / _MARGIN / view.zoom
    cx, cy = sw / 2 + view.dx * sw, sh / 2 + view.dy * sh
    # nearest neighbour: ten times faster than bilinear, and the scene is soft apart from its grain anyway
    im = scene.resize(size, Image.Resampling.NEAREST, box=(cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2))
    if view.ev:
        gain = 2.0 ** view.ev
        im = im.point([min(255, int(v * gain)) for v in range(256)] * 3)
    return im


def whatsapp_copy(image: Image.Image, long_side: int = 1600) -> Image.Image:
    """WhatsApp's resize: long side down to 1600 px; smaller photos still shrink (to 3/4) so copies differ in size."""
    scale = long_side / max(image.size)
    if scale >= 1.0:
        scale = 0.75
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)


def _distinct_scene(seed: int, size: tuple[int, int], taken: list[imagehash.ImageHash]) -> Image.Image:
    """Draw scenes from `seed` on until one is visually far from the scenes of the last few events.

    Only recent events are compared (a big library cannot keep every pair 28 bits apart in 64 bits); when no
    candidate clears the bar, the farthest one is used. Candidates are judged on a small render (same layout, see
    draw_scene); only the chosen one is drawn in full.
    """
    recent = taken[-_SCENE_MEMORY:]
    best, best_distance, best_hash = seed, -1, None
    for attempt in range(_SCENE_ATTEMPTS):
        candidate = seed * 1000 + attempt
        h = imagehash.phash(render_view(draw_scene(candidate, _PROBE), _PROBE, View()))
        distance = min((h - other for other in recent), default=64)
        if distance > best_distance:
            best, best_distance, best_hash = candidate, distance, h
        if distance >= _MIN_SCENE_DISTANCE:
            break
    taken.append(best_hash)
    return draw_scene(best, size)


# -- writing ------------------------------------------------------------------------------------------------------
class _Writer:
    """Saves JPEGs and collects truth records; tags go to ExifTool on one worker thread while the next photo renders.

    The thread is the only user of the ExifTool instance during a run, and waits on the ExifTool pipe (no GIL),
    so drawing and tagging overlap on two cores.
    """

    def __init__(self, truth: Truth, exiftool: ExifTool) -> None:
        self.truth = truth
        self.et = exiftool
        # start ExifTool on this thread: pyexiftool ties the process to the thread that started it (PDEATHSIG)
        exiftool.version
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-exiftool")
        self._pending: list[Future[None]] = []

    def add(self, rel: str, image: Image.Image, truth: PhotoTruth, quality: int = 92,
            stamp: float | None = None) -> PhotoTruth:
        """Save `image` at `rel` (PNG by its suffix, else JPEG), tag it, and date the file `stamp` (default: the
        capture time, copies 10 min later)."""
        path = self.truth.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".png":
            image.save(path, "PNG")
        else:
            image.save(path, "JPEG", quality=quality)
        if stamp is None:
            stamp = truth.utc_epoch + (600 if truth.kind == "whatsapp" else 0)  # copies arrive a bit later
        self._pending.append(self._pool.submit(self._tag, path, exif_tags(truth.meta), stamp))
        self.truth.photos.append(truth)
        return truth

    def _tag(self, path: Path, tags: dict[str, Any], stamp: float) -> None:
        if tags:
            self.et.write_tags(path, tags)
        os.utime(path, (stamp, stamp))

    def finish(self) -> None:
        """Wait for every write; the first failure is raised here."""
        try:
            for job in self._pending:
                job.result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _truth(rel: str, event: str, kind: str, device: Device | None, utc: float, offset: timedelta,
           pos: tuple[float, float, float], meta: dict[str, Any], original: str | None = None) -> PhotoTruth:
    return PhotoTruth(path=rel, event=event, kind=kind, device=device.label if device else None, utc=_utc_iso(utc),
                      offset=format_offset(offset), lat=round(pos[0], 7), lon=round(pos[1], 7),
                      alt=round(pos[2], 2), original=original, meta=meta)


class _Names:
    """File names the way each device counts them."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.counters = {d.label: int(rng.integers(100, 2000)) for d in (*PHONES, *CAMERAS)}
        self.whatsapp = int(rng.integers(0, 20))

    def for_device(self, device: Device, local: datetime) -> str:
        self.counters[device.label] += 1
        return self.device_name(device, self.counters[device.label], local)

    @staticmethod
    def device_name(device: Device, number: int, local: datetime) -> str:
        """`IMG_0412.JPG`-style from a counter, or Samsung's `20240512_140307.jpg` from the local time."""
        if not device.name_prefix:
            return local.strftime("%Y%m%d_%H%M%S") + ".jpg"
        return f"{device.name_prefix}{number % 10000:04d}.JPG"

    def for_whatsapp(self, day: date) -> str:
        self.whatsapp += 1
        return f"IMG-{day:%Y%m%d}-WA{self.whatsapp:04d}.jpg"


def _local(utc: float, offset: timedelta) -> datetime:
    return datetime.fromtimestamp(utc, timezone(offset)).replace(tzinfo=None)


@dataclass
class _EventPlan:
    id: str
    name: str
    place: Place
    lat: float
    lon: float
    start: float  # UTC epoch of the first photo
    scene_seed: int


def _plan_events(rng: np.random.Generator, events: int, start_date: date) -> list[_EventPlan]:
    """Pairs of events share a day: a morning one somewhere, an afternoon one 25-60 km away."""
    plans: list[_EventPlan] = []
    day = start_date
    names = list(EVENT_NAMES)
    for i in range(events):
        if i % 2 == 0:
            if i:
                day += timedelta(days=int(rng.integers(1, 8)))
            place = PLACES[int(rng.integers(0, len(PLACES)))]
            lat, lon = place.lat, place.lon
            local = datetime.combine(day, datetime.min.time()) + timedelta(hours=10, minutes=int(rng.integers(0, 60)))
            rng.shuffle(names)
        else:
            prev = plans[-1]
            place = prev.place
            dist, bearing = rng.uniform(25_000, 60_000), rng.uniform(0, 2 * math.pi)
            lat, lon = _move(prev.lat, prev.lon, dist * math.cos(bearing), dist * math.sin(bearing))
            local = datetime.combine(day, datetime.min.time()) + timedelta(hours=15, minutes=int(rng.integers(0, 60)))
        name = names[i % 2]
        plans.append(_EventPlan(f"{day:%Y-%m-%d} {name}", name, place, lat, lon,
                                _utc_from_local(place.tz, local), int(rng.integers(0, 2**31))))
    return plans


def generate_library(dest: Path, *, seed: int = 0, events: int = 4, photos_per_event: int = 8,
                     size: tuple[int, int] = (1024, 768), dslr_clock_offset_s: float = 3800.0,
                     whatsapp_per_event: int = 1, start_date: str = "2024-05-12", dslr_gps: bool = False,
                     dslr_details: bool = False, exiftool: ExifTool | None = None) -> Truth:
    """Write a library of `events` events into `dest` and return (and save) its ground truth.

    Each event: `photos_per_event` photos, a third of them (at least one from 3 photos on) by a DSLR whose clock is
    `dslr_clock_offset_s` ahead of local time (no offset, no GPS); the rest by two phones (GPS along a strolling
    walk, a photo every 5-10 min, local time with offset). The DSLR shots are twins, the same moment as a phone
    shot (1-8 s before or after it, nearly the same view), but for a third of them (rounded down), taken on their
    own between two phone shots (the same scene, no phone shot of that moment). `dslr_gps`: the DSLR has a GPS
    unit (positions within a few metres, still no offset and its own clock). `dslr_details`: the DSLR shoots
    telephoto details that look like no phone shot (each its own random picture, taken between two phone shots)
    and only 1-2 per event are twins of a phone shot; one DSLR (the first camera) shoots every event.
    `whatsapp_per_event` phone photos get a WhatsApp copy without any metadata. Layout:
    `dest/<date> <name>/{phone,camera,whatsapp}/`. The same arguments give byte-identical files. A library generated earlier in `dest` (it has a ground_truth.json) is
    replaced.
    """
    if events < 1 or photos_per_event < 1:
        raise ValueError(f"need at least one event and one photo per event (got {events}, {photos_per_event})")
    params = {"events": events, "photos_per_event": photos_per_event, "size": list(size),
              "dslr_clock_offset_s": dslr_clock_offset_s, "whatsapp_per_event": whatsapp_per_event,
              "start_date": start_date}
    if dslr_gps:  # only then: libraries generated before the option existed keep their parameters
        params["dslr_gps"] = True
    if dslr_details:
        params["dslr_details"] = True
    with _building(dest, seed, params, exiftool) as (writer, rng):
        writer.truth.cameras = {c.label: float(round(dslr_clock_offset_s)) for c in CAMERAS}
        names = _Names(rng)
        scenes: list[imagehash.ImageHash] = []
        for index, plan in enumerate(_plan_events(rng, events, date.fromisoformat(start_date))):
            _write_event(writer, names, rng, plan, index, photos_per_event, tuple(size), dslr_clock_offset_s,
                         whatsapp_per_event, scenes, dslr_gps, dslr_details)
    log.info("generated %d photos in %d events under %s", len(writer.truth.photos), events, dest)
    return writer.truth


@contextmanager
def _building(dest: Path, seed: int, params: dict[str, Any],
              exiftool: ExifTool | None) -> Iterator[tuple[_Writer, np.random.Generator]]:
    """One generation run: a writer over a fresh Truth, our own ExifTool unless given one; saves the truth."""
    dest = Path(dest)
    if (dest / TRUTH_FILE).exists():
        shutil.rmtree(dest)  # an earlier generated library (ours, disposable): start clean, no stale files
    dest.mkdir(parents=True, exist_ok=True)
    et = exiftool or ExifTool()
    writer = _Writer(Truth(root=dest, seed=seed, params=params), et)
    try:
        yield writer, np.random.default_rng(seed)
    finally:
        try:
            writer.finish()
        finally:
            if exiftool is None:
                et.close()
    writer.truth.save()


def _write_event(writer: _Writer, names: _Names, rng: np.random.Generator, plan: _EventPlan, index: int,
                 photos: int, size: tuple[int, int], clock_error_s: float, whatsapp: int,
                 scenes: list[imagehash.ImageHash], dslr_gps: bool = False, dslr_details: bool = False) -> None:
    n_dslr = photos // 3 if photos >= 3 else 0
    n_phone = photos - n_dslr
    times = plan.start + np.concatenate([[0.0], np.cumsum(rng.uniform(300, 600, n_phone - 1))]) \
        + rng.uniform(0, 1, n_phone).round(3)
    # from before the first to after the last shot (a DSLR twin may precede its phone shot by a few seconds)
    track = _walk(rng, plan.start - 2 * _WALK_STEP_S, float(times[-1] - plan.start) + 4 * _WALK_STEP_S,
                  plan.lat, plan.lon, plan.place.alt)
    event = EventTruth(plan.id, plan.name, plan.id, plan.place.name, plan.place.tz, track)
    writer.truth.events.append(event)
    scene = _distinct_scene(plan.scene_seed, size, scenes)
    camera = CAMERAS[0] if dslr_details else CAMERAS[index % len(CAMERAS)]  # details: one photographer
    folder = plan.id

    phone_views: list[View] = []
    images: dict[str, Image.Image] = {}
    copies = set(rng.choice(n_phone, size=min(whatsapp, n_phone), replace=False).tolist())
    for i, t in enumerate(times):
        t = round(float(t), 3)
        phone = PHONES[i % len(PHONES)]
        offset = _offset_at(plan.place.tz, t)
        pos = event.position_at(t)
        view = random_view(rng)
        rel = f"{folder}/phone/{names.for_device(phone, _local(t, offset))}"
        meta = phone_meta(phone, t, offset, *pos, rng)
        image = render_view(scene, size, view)
        writer.add(rel, image, _truth(rel, plan.id, "phone", phone, t, offset, pos, meta))
        phone_views.append(view)
        if i in copies:
            images[rel] = image

    if dslr_details and n_phone >= 2 and n_dslr >= 1:
        n_alone = n_dslr - min(n_dslr, int(rng.integers(1, 3)), n_phone)  # 1-2 twins, the rest details
    else:
        n_alone = n_dslr // 3 if n_phone >= 2 else 0
    twins = rng.choice(n_phone, size=min(n_dslr - n_alone, n_phone), replace=False).tolist()
    shots: list[tuple[int, View, Image.Image | None]] = [
        (round(float(times[i]) + rng.choice([-1, 1]) * rng.uniform(1, 8)), phone_views[i].near(
            rng, 0.006, (1.03, 1.05)), None) for i in twins]
    for gap in rng.choice(n_phone - 1, size=n_alone, replace=n_alone > n_phone - 1).tolist():
        # on its own: at least 90 s from either phone shot around it
        t_alone = round(float(rng.uniform(times[gap] + 90, times[gap + 1] - 90)))
        if dslr_details:  # a telephoto detail: a picture of its own, like no phone shot
            shots.append((t_alone, View(), draw_scene(int(rng.integers(0, 2**31)), size)))
        else:
            shots.append((t_alone, random_view(rng), None))
    for t, view, detail in sorted(shots, key=lambda s: s[0]):
        offset = _offset_at(plan.place.tz, t)
        pos = event.position_at(t)
        rel = f"{folder}/camera/{names.for_device(camera, _local(t + clock_error_s, offset))}"
        meta = camera_meta(camera, t, offset, clock_error_s, rng)
        if dslr_gps:
            meta.update(_gps_fields(*_move(pos[0], pos[1], *rng.normal(0, 3, 2)), pos[2]))
        writer.add(rel, render_view(detail if detail is not None else scene, size, view),
                   _truth(rel, plan.id, "dslr", camera, t, offset, pos, meta))

    for original in sorted(images):
        src = writer.truth.photo(original)
        rel = f"{folder}/whatsapp/{names.for_whatsapp(_local(src.utc_epoch, parse_offset(src.offset)).date())}"
        _add_whatsapp(writer, rel, images[original], src)



def _add_whatsapp(writer: _Writer, rel: str, original_image: Image.Image, src: PhotoTruth) -> PhotoTruth:
    """The stripped, resized, re-encoded copy of `src`: no metadata at all, same true moment and place."""
    return writer.add(rel, whatsapp_copy(original_image),
                      PhotoTruth(rel, src.event, "whatsapp", None, src.utc, src.offset, src.lat, src.lon, src.alt,
                                 original=src.path), quality=70)


# -- scenarios for the engine tests -------------------------------------------------------------------------------
# Each builder writes a tiny library and returns its Truth with `roles` (name -> relative path) and `expected`
# (what the engine should conclude, by role). `expected["added"][role]` lists fields a plan must fill (it may fill
# more, e.g. place names); `expected["kept"][role]` lists fields it must leave alone.
_SCENARIO_SIZE = (640, 480)
_CAMERA_FIELDS = list(CAMERA_FIELDS)
_GPS = ["gps_latitude", "gps_longitude", "gps_altitude"]


class _Scene:
    """Helper for hand-placed scenario photos: one scene, one zone, explicit times and places."""

    def __init__(self, writer: _Writer, rng: np.random.Generator, seed: int, tz: str, event: str,
                 size: tuple[int, int], taken: list[imagehash.ImageHash] | None = None) -> None:
        self.writer, self.rng, self.tz, self.event, self.size = writer, rng, tz, event, size
        self.scene = _distinct_scene(seed, size, taken if taken is not None else [])
        self.images: dict[str, Image.Image] = {}

    def utc(self, local: str) -> float:
        """UTC epoch of a local wall-clock time in this scene's zone ("2024-05-12 14:03:07.120")."""
        return _utc_from_local(self.tz, datetime.fromisoformat(local))

    def offset(self, utc: float) -> timedelta:
        return _offset_at(self.tz, utc)

    def shot(self, role: str, rel: str, kind: str, device: Device | None, utc: float,
             pos: tuple[float, float, float], meta: dict[str, Any], view: View | None = None) -> PhotoTruth:
        image = render_view(self.scene, self.size, view or random_view(self.rng))
        self.images[role] = image
        photo = self.writer.add(rel, image, _truth(rel, self.event, kind, device, utc, self.offset(utc), pos, meta))
        self.writer.truth.roles[role] = rel
        return photo

    def whatsapp(self, role: str, rel: str, of_role: str) -> PhotoTruth:
        src = self.writer.truth.photo(of_role)
        photo = _add_whatsapp(self.writer, rel, self.images[of_role], src)
        self.writer.truth.roles[role] = rel
        return photo


def scenario_phone_and_dslr(dest: Path, *, size: tuple[int, int] = _SCENARIO_SIZE,
                            exiftool: ExifTool | None = None) -> Truth:
    """An iPhone photo with GPS and a DSLR photo (correct clock, no GPS) 2 min later.

    Expected: one group, the phone is the source; the DSLR receives GPS and keeps its own time and camera EXIF.
    """
    with _building(dest, 101, {"scenario": "phone_and_dslr"}, exiftool) as (writer, rng):
        sc = _Scene(writer, rng, 101, "Europe/Berlin", "2024-05-12 Tiergarten", size)
        t = sc.utc("2024-05-12 14:03:07.120")
        pos = (52.514500, 13.350100, 35.0)
        phone = sc.shot("phone", f"{sc.event}/IMG_0412.JPG", "phone", IPHONE, t, pos,
                        phone_meta(IPHONE, t, sc.offset(t), *pos, rng))
        t2, pos2 = round(t + 120), (*_move(pos[0], pos[1], 25, 20), 35.0)
        view = View().near(rng, 0.006, (1.03, 1.05))
        sc.shot("dslr", f"{sc.event}/_MG_1234.JPG", "dslr", CANON, t2, pos2,
                camera_meta(CANON, t2, sc.offset(t2), 0.0, rng), view)
        writer.truth.cameras = {CANON.label: 0.0}
        writer.truth.expected = {
            "groups": [["phone", "dslr"]], "sources": ["phone"], "targets": ["dslr"],
            "added": {"dslr": {f: phone.meta[f] for f in _GPS}},
            "kept": {"dslr": _CAMERA_FIELDS + ["datetime_original"]},
        }
    return writer.truth


def scenario_birthday_party(dest: Path, *, size: tuple[int, int] = _SCENARIO_SIZE,
                            exiftool: ExifTool | None = None) -> Truth:
    """15 photos of one garden party within about an hour and 40 m.

    5 full (phone: GPS + EXIF), 5 GPS only (exports without camera EXIF or time), 3 EXIF only (DSLR, correct
    clock, no GPS), 2 WhatsApp copies of full photos (no metadata). Expected: one group, the 5 full photos are
    sources, the other 10 targets; GPS-only photos get the time, EXIF-only photos get GPS, each WhatsApp copy gets
    every field of its original (`expected["same_shot"]`).
    """
    with _building(dest, 102, {"scenario": "birthday_party"}, exiftool) as (writer, rng):
        sc = _Scene(writer, rng, 102, "Europe/Berlin", "2024-05-12 Birthday", size)
        centre = (48.150000, 11.580000, 519.0)
        start = sc.utc("2024-05-12 15:00:00")
        # the order photos were taken in: 13 originals, 5 min apart
        order = ["full_1", "exif_only_1", "gps_only_1", "full_2", "gps_only_2", "exif_only_2", "full_3",
                 "gps_only_3", "full_4", "gps_only_4", "exif_only_3", "full_5", "gps_only_5"]
        canon_no = 2000
        for k, role in enumerate(order):
            t = start + k * 300 + round(float(rng.uniform(0, 60)), 3)
            pos = (*_move(centre[0], centre[1], rng.uniform(-30, 30), rng.uniform(-30, 30)), centre[2])
            n = int(role[-1])
            if role.startswith("full"):
                phone = PHONES[n % 2]
                meta = phone_meta(phone, t, sc.offset(t), *pos, rng)
                if role == "full_2":
                    meta["tags"] = ["Birthday", "Anna"]
                name = _Names.device_name(phone, 411 + n, _local(t, sc.offset(t)))
                sc.shot(role, f"{sc.event}/phone/{name}", "phone", phone, t, pos, meta)
            elif role.startswith("gps_only"):
                sc.shot(role, f"{sc.event}/exports/export_{n:02d}.jpg", "export", None, t, pos,
                        _gps_fields(*pos))
            else:
                t = round(t)
                canon_no += 1
                sc.shot(role, f"{sc.event}/camera/_MG_{canon_no}.JPG", "dslr", CANON, t, pos,
                        camera_meta(CANON, t, sc.offset(t), 0.0, rng))
        sc.whatsapp("whatsapp_1", f"{sc.event}/whatsapp/IMG-20240512-WA0001.jpg", "full_2")
        sc.whatsapp("whatsapp_2", f"{sc.event}/whatsapp/IMG-20240512-WA0002.jpg", "full_4")
        writer.truth.cameras = {CANON.label: 0.0}
        roles = list(writer.truth.roles)
        sources = [r for r in roles if r.startswith("full")]
        full = {r: writer.truth.photo(r).meta for r in sources}
        writer.truth.expected = {
            "groups": [roles], "sources": sources, "targets": [r for r in roles if r not in sources],
            "added": {
                **{r: ["datetime_original", "offset_time"] for r in roles if r.startswith("gps_only")},
                **{r: _GPS[:2] for r in roles if r.startswith("exif_only")},
                "whatsapp_1": full["full_2"], "whatsapp_2": full["full_4"],
            },
            "kept": {r: _CAMERA_FIELDS + ["datetime_original"] for r in roles if r.startswith("exif_only")},
            "same_shot": {"whatsapp_1": "full_2", "whatsapp_2": "full_4"},
        }
    return writer.truth


def scenario_paris_london(dest: Path, *, size: tuple[int, int] = _SCENARIO_SIZE,
                          exiftool: ExifTool | None = None) -> Truth:
    """Similar images one hour apart, GPS in Paris (12:00 UTC) and London (13:00 UTC).

    A third, similar phone photo without GPS ("target", 12:25 UTC, really in Paris) sits between them. Expected:
    one low-confidence group whose GPS for the target is a conflict (alternatives Paris and London), which the
    user settles with a manual override (`expected["override"]`).
    """
    with _building(dest, 103, {"scenario": "paris_london"}, exiftool) as (writer, rng):
        sc = _Scene(writer, rng, 103, "Europe/Paris", "2024-05-12 Trip", size)
        t_paris = sc.utc("2024-05-12 14:00:00.250")
        paris = (PARIS.lat, PARIS.lon, PARIS.alt)
        sc.shot("paris", f"{sc.event}/IMG_0701.JPG", "phone", IPHONE, t_paris, paris,
                phone_meta(IPHONE, t_paris, sc.offset(t_paris), *paris, rng))
        t_target = t_paris + 25 * 60
        sc.shot("target", f"{sc.event}/IMG_0702.JPG", "phone", IPHONE, t_target, paris,
                phone_meta(IPHONE, t_target, sc.offset(t_target), None, None, None, rng))
        t_london = t_paris + 3600
        london = (LONDON.lat, LONDON.lon, LONDON.alt)
        london_offset = _offset_at(LONDON.tz, t_london)
        rel = f"{sc.event}/{_Names.device_name(GALAXY, 0, _local(t_london, london_offset))}"
        image = render_view(sc.scene, size, random_view(rng))
        sc.images["london"] = image
        writer.add(rel, image, _truth(rel, sc.event, "phone", GALAXY, t_london, london_offset, london,
                                      phone_meta(GALAXY, t_london, london_offset, *london, rng)))
        writer.truth.roles["london"] = rel
        writer.truth.expected = {
            "groups": [["paris", "target", "london"]], "band": "low",
            "conflicts": {"target": ["gps_latitude", "gps_longitude"]},
            "alternatives": {"paris": [PARIS.lat, PARIS.lon], "london": [LONDON.lat, LONDON.lon]},
            "override": {"role": "target", "gps_latitude": PARIS.lat, "gps_longitude": PARIS.lon},
        }
    return writer.truth


def scenario_two_events_same_day(dest: Path, *, size: tuple[int, int] = _SCENARIO_SIZE,
                                 exiftool: ExifTool | None = None) -> Truth:
    """Two events on one day, 22 km apart and 20 min apart in time, different scenes.

    Each has 4 phone photos with GPS and one DSLR photo without GPS (correct clock). Expected: two groups that
    never share a photo; each DSLR photo gets GPS from its own event only.
    """
    with _building(dest, 104, {"scenario": "two_events_same_day"}, exiftool) as (writer, rng):
        taken: list[imagehash.ImageHash] = []
        place = PLACES[2]  # Leipzig
        starts = {"a": "2024-05-12 10:00:00", "b": "2024-05-12 11:00:00"}
        centres = {"a": (place.lat, place.lon), "b": _move(place.lat, place.lon, -15_556, 15_556)}  # 22 km SE
        counter = 800
        for key, name in (("a", "Market"), ("b", "Lake")):
            sc = _Scene(writer, rng, 104 + ord(key), place.tz, f"2024-05-12 {name}", size, taken)
            lat, lon = centres[key]
            start = sc.utc(starts[key])
            for k in range(4):
                t = start + k * 600 + round(float(rng.uniform(0, 30)), 3)
                pos = (*_move(lat, lon, k * 60.0, k * 40.0), place.alt)
                counter += 1
                sc.shot(f"{key}_{k + 1}", f"{sc.event}/IMG_{counter:04d}.JPG", "phone", IPHONE, t, pos,
                        phone_meta(IPHONE, t, sc.offset(t), *pos, rng))
            t = round(start + (45 * 60 if key == "a" else 20 * 60))
            pos = (*_move(lat, lon, 100.0, 60.0), place.alt)
            sc.shot(f"{key}_dslr", f"{sc.event}/DSC_{counter - 760:04d}.JPG", "dslr", NIKON, t, pos,
                    camera_meta(NIKON, t, sc.offset(t), 0.0, rng))
        writer.truth.cameras = {NIKON.label: 0.0}
        groups = [[r for r in writer.truth.roles if r.startswith(k)] for k in ("a", "b")]
        writer.truth.expected = {
            "groups": groups,
            "added": {"a_dslr": _GPS[:2], "b_dslr": _GPS[:2]},
            "gps_from": {"a_dslr": groups[0][:-1], "b_dslr": groups[1][:-1]},
        }
    return writer.truth


def scenario_dst_camera(dest: Path, *, size: tuple[int, int] = _SCENARIO_SIZE,
                        exiftool: ExifTool | None = None) -> Truth:
    """A camera set to Berlin local time, writing no offset, across the DST change of 2024-03-31 02:00.

    The camera has GPS (phone app) so the zone is known. Expected `offset_time` per role: +01:00 on Saturday noon
    and Sunday 01:30, +02:00 on Sunday 03:30 and noon.
    """
    with _building(dest, 105, {"scenario": "dst_camera"}, exiftool) as (writer, rng):
        sc = _Scene(writer, rng, 105, "Europe/Berlin", "2024-03-30 Weekend", size)
        pos = (52.520000, 13.405000, 34.0)
        moments = {"sat_noon": "2024-03-30 12:00:00", "sun_0130": "2024-03-31 01:30:00",
                   "sun_0330": "2024-03-31 03:30:00", "sun_noon": "2024-03-31 12:00:00"}
        for k, (role, local) in enumerate(moments.items()):
            t = sc.utc(local)
            meta = {**camera_meta(CANON, t, sc.offset(t), 0.0, rng), **_gps_fields(*pos)}
            sc.shot(role, f"{sc.event}/_MG_{3001 + k}.JPG", "camera_gps", CANON, t, pos, meta)
        writer.truth.cameras = {CANON.label: 0.0}
        writer.truth.expected = {"offset_time": {r: writer.truth.photo(r).offset for r in moments}}
    return writer.truth


SCENARIOS = {
    "phone_and_dslr": scenario_phone_and_dslr,
    "birthday_party": scenario_birthday_party,
    "paris_london": scenario_paris_london,
    "two_events_same_day": scenario_two_events_same_day,
    "dst_camera": scenario_dst_camera,
}
