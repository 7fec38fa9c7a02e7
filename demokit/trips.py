"""A two-week trip as people really shoot it, with ground truth: the hard cases in one library.

The traveller's phone (GPS, right clock, the place's offset) goes home (Prague, +02:00) -> Lisbon (+01:00) -> New York
(-04:00) -> home, several events a day. A partner's phone stays home and photographs there on the same days, some
events within minutes (UTC) of a trip event, other places, other-looking scenes. A DSLR without GPS stays on home
wall-clock time and runs 3 min 40 s fast; about a third of its shots are twins of a phone shot (1-8 s apart, nearly
the same view). A second camera, used from the middle of Lisbon to the end of New York, is set to the local zone but
runs 17 min 10 s slow and loses 2 s more a day. Messenger copies `IMG-YYYYMMDD-WA####.jpg` have no metadata and the
name and file date of the day they were received (same day or 1-2 days later). Distractors that must stay untouched:
scans of old prints, PNG screenshots, and a previous year's photos with nothing near them in time.

Every photo's `PhotoTruth` has the true moment, offset and position, the device, and `want`: what metasync should
write (absent fields: nothing). Image synthesis, tags and the truth file are demokit.library's.

    truth = generate_trip(Path("trip"), seed=1)                  # 14 days, ~450 photos at 512x384
    truth = generate_trip(Path("t"), seed=1, days=4, events_per_day=(1, 1), photos_per_event=3, size=(160, 120))
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import imagehash
import numpy as np
from PIL import Image, ImageDraw

from demokit.library import (
    _WALK_STEP_S,
    CANON,
    GALAXY,
    IPHONE,
    NIKON,
    Device,
    EventTruth,
    PhotoTruth,
    Place,
    Truth,
    View,
    _building,
    _distinct_scene,
    _local,
    _move,
    _Names,
    _offset_at,
    _truth,
    _utc_from_local,
    _walk,
    _Writer,
    camera_meta,
    phone_meta,
    random_view,
    render_view,
    whatsapp_copy,
)
from metasync.fields import CAMERA_FIELDS
from metasync.scan.exif import ExifTool
from metasync.timeutil import format_offset, iso_local, parse_offset
from metasync.track import distance_m

HOME = Place("Prague", 50.0755, 14.4378, 235.0, "Europe/Prague")
LISBON = Place("Lisbon", 38.7223, -9.1393, 50.0, "Europe/Lisbon")
NEW_YORK = Place("New York", 40.7580, -73.9855, 15.0, "America/New_York")
HOME_RADIUS_M = 50_000.0  # a position this close to HOME is "at home"

DSLR = CANON
SECOND = NIKON
PARTNER = GALAXY
TRAVELLER = IPHONE
DSLR_FAST_S = 220.0  # 3 min 40 s fast, on home wall-clock time throughout
SECOND_SLOW_S = -1030.0  # 17 min 10 s slow at the trip's start...
SECOND_DRIFT_S_PER_DAY = -2.0  # ...and 2 s slower every day; set to the local zone
SCANNER = "EPSON"
_DAY_SLOTS = ((9, 30), (13, 30), (17, 30))  # local start of the 1st, 2nd and 3rd event of a day (+0-60 min)


@dataclass(frozen=True)
class Leg:
    place: Place
    days: range  # trip day numbers spent there


def legs(days: int) -> list[Leg]:
    """Home, Lisbon, New York, home: 2/14, 5/14, 5/14 and the rest of the days, at least one each."""
    if days < 4:
        raise ValueError(f"a trip needs at least 4 days (home, Lisbon, New York, home), got {days}")
    sizes = [max(1, round(days * k / 14)) for k in (2, 5, 5)]
    while sum(sizes) > days - 1:
        sizes[sizes.index(max(sizes))] -= 1
    out, first = [], 0
    for place, n in zip((HOME, LISBON, NEW_YORK, HOME), [*sizes, days - sum(sizes)]):
        out.append(Leg(place, range(first, first + n)))
        first += n
    return out


@dataclass(frozen=True)
class Clock:
    """A camera's clock: the zone it is set to (None: the place's), its error at `since` and its drift."""

    zone: timedelta | None
    error_s: float
    drift_s_per_day: float
    since: float  # UTC epoch the error is stated at

    def error_at(self, utc: float) -> float:
        return self.error_s + self.drift_s_per_day * (utc - self.since) / 86400.0

    def shows(self, utc: float, local_offset: timedelta) -> tuple[timedelta, float]:
        """(zone it displays, error in seconds) for a shot at `utc` where the local offset is `local_offset`."""
        return (self.zone if self.zone is not None else local_offset), self.error_at(utc)

    def to_dict(self) -> dict[str, Any]:
        return {"zone": format_offset(self.zone) if self.zone is not None else "local", "error_s": self.error_s,
                "drift_s_per_day": self.drift_s_per_day, "since": self.since}


class _Trip:
    """One generation run's state: writer, random stream, file names, the scenes drawn so far."""

    def __init__(self, writer: _Writer, rng: np.random.Generator, size: tuple[int, int]) -> None:
        self.writer, self.rng, self.size = writer, rng, size
        self.names = _Names(rng)
        self.scenes: list[imagehash.ImageHash] = []

    def event(self, event_id: str, name: str, place: Place, centre: tuple[float, float], start: float,
              duration_s: float) -> tuple[EventTruth, Image.Image]:
        track = _walk(self.rng, start - 2 * _WALK_STEP_S, duration_s + 4 * _WALK_STEP_S, *centre, place.alt)
        event = EventTruth(event_id, name, "", place.name, place.tz, track)
        self.writer.truth.events.append(event)
        return event, _distinct_scene(int(self.rng.integers(0, 2**31)), self.size, self.scenes)

    def phone(self, folder: str, device: Device, event: EventTruth, scene: Image.Image, t: float,
              view: View, gps: bool = True) -> PhotoTruth:
        t = round(t, 3)
        offset = _offset_at(event.tz, t)
        pos = event.position_at(t)
        rel = f"{folder}/{self.names.for_device(device, _local(t, offset))}"
        meta = phone_meta(device, t, offset, *(pos if gps else (None, None, None)), self.rng)
        want = {} if gps else _gps_want(pos)
        return self._add(rel, render_view(scene, self.size, view),
                         _truth(rel, event.id, "phone", device, t, offset, pos, meta), want)

    def camera(self, folder: str, device: Device, clock: Clock, event: EventTruth, scene: Image.Image, t: float,
               view: View, kind: str, want: bool = True) -> PhotoTruth:
        t = float(round(t))
        offset = _offset_at(event.tz, t)
        zone, error = clock.shows(t, offset)
        pos = event.position_at(t)
        rel = f"{folder}/{self.names.for_device(device, _local(t + error, zone))}"
        meta = camera_meta(device, t, zone, error, self.rng)
        wanted = {"datetime_original": iso_local(t, offset), "offset_time": format_offset(offset),
                  **_gps_want(pos)} if want else {}
        return self._add(rel, render_view(scene, self.size, view),
                         _truth(rel, event.id, kind, device, t, offset, pos, meta), wanted)

    def _add(self, rel: str, image: Image.Image, truth: PhotoTruth, want: dict[str, Any]) -> PhotoTruth:
        truth.want = want
        return self.writer.add(rel, image, truth)


def _gps_want(pos: tuple[float, float, float]) -> dict[str, Any]:
    return {"gps_latitude": round(pos[0], 7), "gps_longitude": round(pos[1], 7), "gps_altitude": round(pos[2], 1)}


def _shots(rng: np.random.Generator, start: float, n: int) -> list[float]:
    """Phone shot times of an event: 3-8 min apart, with milliseconds."""
    return (start + np.concatenate([[0.0], np.cumsum(rng.uniform(180, 480, n - 1))])
            + rng.uniform(0, 1, n).round(3)).tolist()


def _camera_times(rng: np.random.Generator, phone_times: list[float], n: int,
                  twin_share: float) -> list[tuple[float, int | None]]:
    """(time, index of the phone shot it twins or None) for `n` camera shots: about `twin_share` of them 1-8 s from a
    phone shot, the others on their own, at least 90 s from any phone shot."""
    if n <= 0:  # a camera not used at this event (one twin used to slip through here)
        return []
    n_twins = min(len(phone_times), int(rng.binomial(n, twin_share)) if n > 1 else int(rng.random() < twin_share))
    twins = sorted(rng.choice(len(phone_times), size=n_twins, replace=False).tolist())
    out: list[tuple[float, int | None]] = [
        (phone_times[i] + float(rng.choice([-1, 1])) * rng.uniform(1, 8), i) for i in twins]
    lo, hi = phone_times[0], phone_times[-1] + 480  # inside the event's walk
    while len(out) < n:
        t = float(rng.uniform(lo, hi))
        if min(abs(t - p) for p in phone_times) >= 90:
            out.append((t, None))
    return sorted(out, key=lambda s: s[0])


def generate_trip(dest: Path, *, seed: int = 0, days: int = 14, events_per_day: tuple[int, int] = (2, 3),
                  photos_per_event: int = 5, dslr_per_event: int = 3, size: tuple[int, int] = (512, 384),
                  start_date: str = "2024-06-03", copies_per_day: int = 1, distractors: int = 4,
                  exiftool: ExifTool | None = None) -> Truth:
    """Write the trip library into `dest` and return (and save) its truth; the same arguments give the same files.

    `events_per_day` (min, max) traveller events a day of `photos_per_event` phone shots, `dslr_per_event` DSLR shots
    each (the second camera: half as many, at least one, while it is used); the partner shoots 1-2 events a day at
    home; `copies_per_day` messenger copies a day; `distractors` scans, screenshots and a previous year's photos each.
    Layout: `dest/{iPhone,Partner,EOS R6,Z6,WhatsApp,Scans,Screenshots,2023}/`. Truth extras: `params["home"]`,
    `params["clocks"]` (Clock.to_dict per camera label) and `params["legs"]`.
    """
    trip_legs = legs(days)
    first_day = date.fromisoformat(start_date)
    since = _utc_from_local(HOME.tz, datetime.combine(first_day, datetime.min.time()))
    clocks = {DSLR.label: Clock(timedelta(hours=2), DSLR_FAST_S, 0.0, since),
              SECOND.label: Clock(None, SECOND_SLOW_S, SECOND_DRIFT_S_PER_DAY, since)}
    params = {"trip": True, "days": days, "events_per_day": list(events_per_day), "photos_per_event": photos_per_event,
              "dslr_per_event": dslr_per_event, "size": list(size), "start_date": start_date,
              "copies_per_day": copies_per_day, "distractors": distractors,
              "home": {"name": HOME.name, "lat": HOME.lat, "lon": HOME.lon, "radius_m": HOME_RADIUS_M},
              "clocks": {label: c.to_dict() for label, c in clocks.items()},
              "legs": [{"place": leg.place.name, "days": [leg.days.start, leg.days.stop]} for leg in trip_legs]}
    second_days = range(trip_legs[1].days.start + len(trip_legs[1].days) // 2, trip_legs[2].days.stop)
    with _building(dest, seed, params, exiftool) as (writer, rng):
        writer.truth.cameras = {label: c.error_s for label, c in clocks.items()}
        trip = _Trip(writer, rng, tuple(size))
        originals: list[tuple[PhotoTruth, int]] = []  # (photo a copy may be made of, trip day)
        for leg in trip_legs:
            for day in leg.days:
                today = first_day + timedelta(days=day)
                starts = _traveller_day(trip, leg.place, today, day, events_per_day, photos_per_event,
                                        dslr_per_event, clocks, day in second_days, originals)
                _partner_day(trip, today, day, starts, originals)
        _copies(trip, originals, copies_per_day, days)
        _distractors(trip, distractors, first_day, days, clocks[DSLR.label])
    return writer.truth


def _traveller_day(trip: _Trip, place: Place, today: date, day: int, events_per_day: tuple[int, int],
                   photos: int, dslr_shots: int, clocks: dict[str, Clock], second: bool,
                   originals: list[tuple[PhotoTruth, int]]) -> list[float]:
    """The traveller's events of one day (phone, DSLR, maybe the second camera); returns their UTC starts."""
    rng = trip.rng
    starts = []
    for k in range(int(rng.integers(events_per_day[0], events_per_day[1] + 1))):
        hour, minute = _DAY_SLOTS[k % len(_DAY_SLOTS)]
        local = datetime.combine(today, datetime.min.time()) + timedelta(
            hours=hour, minutes=minute + int(rng.integers(0, 60)))
        start = _utc_from_local(place.tz, local)
        starts.append(start)
        centre = _move(place.lat, place.lon, *rng.uniform(-6000, 6000, 2))
        times = _shots(rng, start, photos)
        event, scene = trip.event(f"{today:%Y-%m-%d} {place.name} {k + 1}", f"{place.name} {k + 1}", place, centre,
                                  start, times[-1] - start + 600)
        views = [random_view(rng) for _ in times]
        for t, view in zip(times, views):
            originals.append((trip.phone("iPhone", TRAVELLER, event, scene, t, view), day))
        cameras = ((DSLR, dslr_shots, "EOS R6"), (SECOND, max(1, dslr_shots // 2) if second else 0, "Z6"))
        for device, n, folder in cameras:
            for t, twin in _camera_times(rng, times, n, 1 / 3):
                view = views[twin].near(rng, 0.006, (1.03, 1.05)) if twin is not None else random_view(rng)
                kind = "dslr" if device is DSLR else "camera2"
                originals.append((trip.camera(folder, device, clocks[device.label], event, scene, t, view, kind), day))
    return starts


def _partner_day(trip: _Trip, today: date, day: int, trip_starts: list[float],
                 originals: list[tuple[PhotoTruth, int]]) -> None:
    """The partner's 1-2 events at home: the first within 1-6 min (UTC) of a traveller event when that is daytime in
    Prague, else at a random daytime hour."""
    rng = trip.rng
    day_start = _utc_from_local(HOME.tz, datetime.combine(today, datetime.min.time()))
    near = [s for s in trip_starts if 8 * 3600 <= s - day_start <= 20 * 3600]
    for k in range(int(rng.integers(1, 3))):
        if k == 0 and near:
            start = float(rng.choice(near)) + float(rng.choice([-1, 1])) * rng.uniform(60, 360)
        else:
            start = day_start + rng.uniform(9, 20) * 3600
        centre = _move(HOME.lat, HOME.lon, *rng.uniform(-8000, 8000, 2))
        times = _shots(rng, start, int(rng.integers(3, 6)))
        event, scene = trip.event(f"{today:%Y-%m-%d} home {k + 1}", f"home {k + 1}", HOME, centre, start,
                                  times[-1] - start + 300)
        for t in times:
            originals.append((trip.phone("Partner", PARTNER, event, scene, t, random_view(trip.rng)), day))


def _copies(trip: _Trip, originals: list[tuple[PhotoTruth, int]], per_day: int, days: int) -> None:
    """Messenger copies: per day `per_day` originals taken that day, received 0-2 days later (never after the trip),
    named and file-dated by the day received; they should get the original's time, place and camera."""
    rng = trip.rng
    received = []
    for day in range(days):
        todays = [p for p, d in originals if d == day]
        for i in rng.choice(len(todays), size=min(per_day, len(todays)), replace=False).tolist():
            src = todays[i]
            delay = int(rng.integers(0, 3)) if day + 2 < days else 0
            arrive = src.utc_epoch + delay * 86400 + rng.uniform(60, 3 * 3600)
            received.append((arrive, src))
    for arrive, src in sorted(received, key=lambda r: r[0]):
        local_day = _local(arrive, parse_offset(src.offset)).date()  # received where it was taken (or later)
        rel = f"WhatsApp/{trip.names.for_whatsapp(local_day)}"
        want = {**{f: src.meta[f] for f in CAMERA_FIELDS if src.meta.get(f) is not None},
                "datetime_original": iso_local(src.utc_epoch, parse_offset(src.offset)), "offset_time": src.offset,
                **_gps_want((src.lat, src.lon, src.alt))}
        copy = PhotoTruth(rel, src.event, "whatsapp", None, src.utc, src.offset, src.lat, src.lon, src.alt,
                          original=src.path, want=want)
        with Image.open(trip.writer.truth.root / src.path) as original:  # the saved JPEG, decoded and re-encoded
            trip.writer.add(rel, whatsapp_copy(original.convert("RGB")), copy, quality=70, stamp=arrive)


def _distractors(trip: _Trip, n: int, first_day: date, days: int, dslr: Clock) -> None:
    """Scans of old prints and screenshots during the trip, a previous year's DSLR and phone (no GPS) photos."""
    rng = trip.rng
    home_day = _utc_from_local(HOME.tz, datetime.combine(first_day, datetime.min.time()))
    for i in range(n):
        when = home_day + int(rng.integers(0, days)) * 86400 + rng.uniform(19, 22) * 3600  # scanned in the evening
        rel = f"Scans/scan{i + 1:03d}.jpg"
        meta = {"make": SCANNER} if i % 2 else {}
        home = (HOME.lat, HOME.lon, HOME.alt)
        trip.writer.add(rel, _old_print(trip, int(rng.integers(0, 2**31))),
                        _distractor(rel, "scan", None, when, HOME.tz, home, meta), stamp=when)
    trip_photos = [p for p in trip.writer.truth.photos if p.kind == "phone" and p.device == TRAVELLER.label]
    for i in rng.choice(len(trip_photos), size=min(n, len(trip_photos)), replace=False).tolist():
        src = trip_photos[i]  # a screenshot a few minutes after a trip photo, where the traveller was
        when = src.utc_epoch + rng.uniform(60, 900)
        rel = f"Screenshots/Screenshot_{_local(when, parse_offset(src.offset)):%Y%m%d-%H%M%S}.png"
        trip.writer.add(rel, _screenshot(trip, int(rng.integers(0, 2**31))),
                        _distractor(rel, "screenshot", TRAVELLER, when, _tz_of(trip, src),
                                    (src.lat, src.lon, src.alt), {}), stamp=when)
    # a year before: a DSLR day and, a week later, a phone day with location off; nothing near them in time
    place = Place("Vienna", 48.2082, 16.3738, 190.0, "Europe/Vienna")
    for k, (device, kind) in enumerate(((DSLR, "dslr"), (TRAVELLER, "phone"))):
        local = datetime.combine(first_day - timedelta(days=365 - 7 * k), datetime.min.time()) + timedelta(hours=11)
        start = _utc_from_local(place.tz, local)
        times = _shots(rng, start, max(2, n // 2 + k))
        event, scene = trip.event(f"{local:%Y-%m-%d} last year {k + 1}", f"last year {k + 1}", place,
                                  (place.lat, place.lon), start, times[-1] - start + 300)
        for t in times:
            view = random_view(rng)
            if device is DSLR:
                last_year = Clock(timedelta(hours=2), dslr.error_s, 0.0, dslr.since)
                photo = trip.camera("2023", DSLR, last_year, event, scene, t, view, "old", want=False)
            else:
                photo = trip.phone("2023", TRAVELLER, event, scene, t, view, gps=False)
                photo.kind, photo.want = "old", {}


def _tz_of(trip: _Trip, photo: PhotoTruth) -> str:
    return trip.writer.truth.event(photo.event).tz


def _distractor(rel: str, kind: str, device: Device | None, when: float, tz: str, pos: tuple[float, float, float],
                meta: dict[str, Any]) -> PhotoTruth:
    truth = _truth(rel, "", kind, device, when, _offset_at(tz, when), pos, meta)
    truth.want = {}
    return truth


def _old_print(trip: _Trip, seed: int) -> Image.Image:
    """A faded, sepia scene with a white border: a print from decades ago, scanned."""
    rng = np.random.default_rng(seed)
    scene = render_view(_distinct_scene(seed % 100_000, trip.size, trip.scenes), trip.size, View())
    grey = np.asarray(scene.convert("L"), dtype=np.float32) / 255.0
    tint = np.array([1.0, 0.85, 0.62]) * rng.uniform(0.75, 0.95)
    pixels = (40 + 180 * grey[:, :, None] * tint).clip(0, 255).astype(np.uint8)
    border = max(4, trip.size[0] // 24)
    framed = Image.new("RGB", (trip.size[0] + 2 * border, trip.size[1] + 2 * border), (236, 232, 222))
    framed.paste(Image.fromarray(pixels), (border, border))
    return framed


def _screenshot(trip: _Trip, seed: int) -> Image.Image:
    """A phone screen: status bar, flat cards and text lines on a light background, portrait."""
    rng = np.random.default_rng(seed)
    w, h = trip.size[1] * 9 // 16, trip.size[1]
    im = Image.new("RGB", (w, h), (246, 246, 248))
    draw = ImageDraw.Draw(im)
    accent = tuple(int(c) for c in rng.integers(0, 200, 3))
    draw.rectangle([0, 0, w, h // 20], fill=accent)
    y = h // 12
    while y < h - h // 10:
        card = int(rng.uniform(0.08, 0.2) * h)
        draw.rectangle([w // 20, y, w - w // 20, y + card], fill=(255, 255, 255), outline=(220, 220, 225))
        for line in range(int(rng.integers(1, 4))):
            ly = y + 6 + line * max(6, card // 4)
            if ly < y + card - 4:
                draw.rectangle([w // 10, ly, w // 10 + int(rng.uniform(0.3, 0.7) * w), ly + 3], fill=(90, 90, 96))
        y += card + h // 40
    return im


def at_home(lat: float, lon: float) -> bool:
    """Within HOME_RADIUS_M of home: where no trip photo may be placed."""
    return distance_m(lat, lon, HOME.lat, HOME.lon) <= HOME_RADIUS_M
