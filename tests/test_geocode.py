"""Offline place names: the dataset shipped in a package, one batch lookup, no network."""
from __future__ import annotations

import socket

import pytest

from metasync.geocode import CITY_MAX_M, place_changes, reverse_geocode
from metasync.models import Metadata


@pytest.fixture()
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("place names must not touch the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_batch_lookup_in_order(no_network):
    eiffel, brandenburg, liberty, sea, tromso = (
        (48.8584, 2.2945), (52.5163, 13.3777), (40.6892, -74.0445), (33.0, -30.0), (69.6492, 18.9553))
    places = reverse_geocode([eiffel, brandenburg, liberty, sea, tromso])
    assert [p.country_code if p else None for p in places] == ["FR", "DE", "US", None, "NO"]
    assert places[0].to_fields() == {"city": "Paris", "state": "Île-de-France", "country": "France",
                                     "country_code": "FR"}
    assert places[1].country == "Germany" and places[1].state == "State of Berlin"
    assert places[2].state in {"New York", "New Jersey"}
    assert places[4].city == "Tromsø"


def test_remote_place_keeps_region_without_a_city():
    # the Gobi, far from any town of 1000 people: country and region, but no city name invented
    [place] = reverse_geocode([(44.0, 106.0)])
    assert place is not None and place.country_code in {"MN", "CN"}
    assert place.distance_m > CITY_MAX_M and place.city is None
    assert "city" not in place.to_fields()


def test_empty_batch():
    assert reverse_geocode([]) == []


def test_place_changes_fill_only_missing_names_in_one_batch(no_network):
    planned = Metadata(gps_latitude=48.1374, gps_longitude=11.5755)  # GPS the plan transfers to this photo
    own = Metadata(gps_latitude=50.0755, gps_longitude=14.4378, city="Praha", country_code="CZ")
    complete = own.with_values(state="Prague", country="Czechia")
    changes = place_changes([("/l/a.jpg", planned, 0.8, "/l/p.jpg"), ("/l/b.jpg", own, 1.0, None),
                             ("/l/c.jpg", complete, 1.0, None), ("/l/d.jpg", Metadata(), 1.0, None)])
    got = {(c.path, c.field): c.new for c in changes}
    assert got == {("/l/a.jpg", "city"): "Munich", ("/l/a.jpg", "state"): "Bavaria",
                   ("/l/a.jpg", "country"): "Germany", ("/l/a.jpg", "country_code"): "DE",
                   ("/l/b.jpg", "state"): "Prague", ("/l/b.jpg", "country"): "Czech Republic"}
    a = next(c for c in changes if c.path == "/l/a.jpg")
    assert a.source == "/l/p.jpg" and a.confidence < 0.8 and "Munich, Bavaria, Germany" in a.reason
