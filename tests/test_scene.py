"""The local scene analyzer: sun and light cues, colour features, same-event verdicts, group refinement, cache."""
from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from support.photos import PARK, palette_shot

from metasync.config import Settings
from metasync.detect.events import detect_groups
from metasync.detect.scene import refine_groups
from metasync.detect.scene.local import LocalAnalyzer, average_linkage, exposure_value, sun_elevation, time_of_day
from metasync.index import Index
from metasync.models import Group, GroupMember, Metadata, Photo
from metasync.scan.pixels import pixel_features


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


# -- sun and light -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lat, lon, when, expected", [
    # solar noon at the June solstice: 90° - latitude + 23.44°
    pytest.param(48.8566, 2.3522, "2024-06-21T11:51:00", 90 - 48.8566 + 23.44, id="paris-solstice-noon"),
    # equinox noon on the equator: the sun is (almost) overhead
    pytest.param(0.0, 0.0, "2024-03-20T12:07:00", 89.7, id="equator-equinox"),
    # midnight in Paris in June: well below the horizon
    pytest.param(48.8566, 2.3522, "2024-06-21T23:50:00", -17.8, id="paris-midnight"),
    # Sydney, winter solstice noon (local 12:00 = 02:00 UTC): 90 - 33.87 - 23.44
    pytest.param(-33.8688, 151.2093, "2024-06-21T01:57:00", 90 - 33.8688 - 23.44, id="sydney-winter-noon"),
])
def test_sun_elevation_matches_known_positions(lat: float, lon: float, when: str, expected: float) -> None:
    assert sun_elevation(lat, lon, epoch(when)) == pytest.approx(expected, abs=0.6)


def test_sun_rises_in_paris_around_0547_utc_on_the_longest_day() -> None:
    # the published sunrise (refraction and the sun's radius included, elevation -0.83°) is 05:47 local UTC+2 = 03:47
    before = sun_elevation(48.8566, 2.3522, epoch("2024-06-21T03:40:00"))
    after = sun_elevation(48.8566, 2.3522, epoch("2024-06-21T03:55:00"))
    assert before < -0.83 < after
    assert time_of_day(before) == "twilight"


def test_exposure_value_is_ev100() -> None:
    assert exposure_value(8.0, 1 / 125, 100) == pytest.approx(math.log2(64 * 125))
    assert exposure_value(8.0, 1 / 125, 400) == pytest.approx(math.log2(64 * 125) - 2)  # same light, faster film
    assert exposure_value(None, 1 / 125, 100) is None
    assert exposure_value(2.8, 0, 100) is None


def test_time_of_day_bands() -> None:
    assert [time_of_day(e) for e in (30, 6.5, 0, -6, -12)] == ["day", "day", "twilight", "twilight", "night"]


# -- pixels --------------------------------------------------------------------------------------------------------
def test_pixel_features_are_the_numbers_cached_indexes_hold() -> None:
    """Pinned to what the features computed when FEATURES_VERSION 2 was cached (the scan computes them now, with
    faster arithmetic): changing the numbers needs a version bump, or old caches and new scans would disagree."""
    noise = np.random.default_rng(5).integers(0, 256, (72, 96, 3), dtype=np.uint8)
    y, x = np.mgrid[0:72, 0:96]
    gradient = np.stack([x * 255 // 95, y * 255 // 71, (x + y) * 255 // 166], axis=-1).astype(np.uint8)
    dark = gradient // 12  # mostly in CIELAB's linear toe
    features = [pixel_features(a) for a in (noise, gradient, dark)]
    assert features[0]["v"] == 2
    digest = hashlib.sha256(json.dumps(features).encode()).hexdigest()
    assert digest == "ebfb0398084b58a100e0b4c396e73aa544ef45f47de08b05527d375e0e0d9b2a"


def test_pixel_features_see_sky_and_greenery() -> None:
    sky = np.zeros((60, 80, 3), np.uint8)
    sky[:] = (90, 150, 230)
    grass = np.zeros((60, 80, 3), np.uint8)
    grass[:] = (60, 150, 50)
    fs, fg = pixel_features(sky), pixel_features(grass)
    assert fs["blue"] > 0.9 and fs["sky_top"] > 0.9 and fg["green"] > 0.9
    assert sum(fs["histogram"]) == pytest.approx(1.0, abs=1e-3)
    assert fs["histogram"] != fg["histogram"]


def test_average_linkage_does_not_chain_through_a_bridge() -> None:
    # 0-1 and 3-4 are tight; 2 is halfway: single linkage would join all five at 0.3
    d = np.array([[0, .1, .3, .9, .9], [.1, 0, .3, .9, .9], [.3, .3, 0, .3, .3],
                  [.9, .9, .3, 0, .1], [.9, .9, .3, .1, 0]])
    clusters = average_linkage(d, 0.38)
    assert len(clusters) == 2
    assert sorted(sorted(c) for c in clusters if 2 not in c) in ([[0, 1]], [[3, 4]])  # 2 joins one side only
    assert {0, 1, 3, 4} <= {i for c in clusters for i in c} and not any({0, 3} <= set(c) for c in clusters)


# -- verdicts ------------------------------------------------------------------------------------------------------
def test_one_scene_is_one_event(two_events: list[Photo]) -> None:
    beach = [p for p in two_events if "beach" in p.path]
    verdict = LocalAnalyzer(Settings()).same_event(beach)
    assert verdict.same and verdict.analyzer == "local"
    assert verdict.confidence > 0.3


def test_two_scenes_are_two_events(two_events: list[Photo]) -> None:
    verdict = LocalAnalyzer(Settings()).same_event(two_events)
    assert not verdict.same
    assert sorted(sorted(Path(p).name.split("_")[0] for p in c) for c in verdict.clusters) == [
        ["beach"] * 8, ["restaurant"] * 10]


def test_descriptors_tell_beach_from_restaurant(two_events: list[Photo]) -> None:
    descs = LocalAnalyzer(Settings()).describe(two_events)
    beach = descs[next(p.path for p in two_events if "beach_0" in p.path)]
    dinner = descs[next(p.path for p in two_events if "restaurant_0" in p.path)]
    assert beach.indoor is False and beach.time_of_day == "day" and beach.ev == pytest.approx(math.log2(64 * 500))
    assert beach.sun_elevation is not None and beach.sun_elevation > 40  # mid-July afternoon in Marseille
    assert dinner.ev is not None and dinner.ev < 8 and dinner.indoor is True  # dim at 14:45 by the clock
    assert "EV" in beach.scene and beach.subject != dinner.subject


def pair_precision(groups: list[Group], truth: dict[int, str]) -> float:
    pairs = [(a.photo_id, b.photo_id) for g in groups for i, a in enumerate(g.members) for b in g.members[i + 1:]]
    return sum(truth[a] == truth[b] for a, b in pairs) / max(1, len(pairs))


def test_refine_splits_the_group_that_detect_chained(two_events: list[Photo]) -> None:
    settings = Settings()
    truth = {p.id: Path(p.path).name.split("_")[0] for p in two_events}
    before = detect_groups(two_events, settings)
    assert pair_precision(before, truth) < 1.0, "the scenario must fool time + GPS + pHash"
    after = refine_groups(before, {p.id: p for p in two_events}, settings, LocalAnalyzer(settings))
    assert pair_precision(after, truth) == 1.0
    assert len(after) == 2
    assert all(g.evidence.scene.analyzer == "local" for g in after)
    assert any("split" in r for g in after for r in g.reasons)
    for g in after:
        assert any(m.is_source for m in g.members) and not all(m.is_source for m in g.members)


def test_consistent_group_gains_confidence_and_user_groups_stay(two_events: list[Photo]) -> None:
    settings = Settings()
    beach = [p for p in two_events if "beach" in p.path]
    members = tuple(GroupMember(p.id, p.path, is_source=p.meta.has_gps) for p in beach)
    auto = Group(id=None, members=members, confidence=0.6)
    mine = Group(id=7, members=tuple(GroupMember(p.id, p.path, is_source=p.meta.has_gps) for p in two_events),
                 confidence=0.6, user_created=True)
    out = refine_groups([auto, mine], {p.id: p for p in two_events}, settings, LocalAnalyzer(settings))
    assert out[0].confidence > 0.6 and out[0].members == members
    assert out[1] == mine


# -- cache -----------------------------------------------------------------------------------------------------
def test_cache_in_the_index_means_a_rescan_decodes_nothing(two_events: list[Photo], tmp_path: Path) -> None:
    with Index(tmp_path / "index.db") as index:
        assert index.schema_version >= 3
        first = LocalAnalyzer(Settings(), cache=index)
        v1 = first.same_event(two_events)
        assert first.computed == len(two_events)
    with Index(tmp_path / "index.db") as index:
        second = LocalAnalyzer(Settings(), cache=index)
        v2 = second.same_event(two_events)
        assert second.computed == 0
        assert v2 == v1
        stored = index.scene_cache_get("local", [two_events[0].content_hash])
        assert set(stored) == {two_events[0].content_hash}


def test_unreadable_image_is_judged_by_metadata_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    good = palette_shot(tmp_path / "ok.jpg", PARK, 3, 0)
    meta = Metadata(datetime_original="2024-07-14T12:00:00", f_number=8.0, exposure_time=1 / 250, iso=100)
    photos = [Photo(1, str(bad), meta), Photo(2, str(good), meta)]
    descs = LocalAnalyzer(Settings()).describe(photos)
    assert descs[str(bad)].histogram == () and descs[str(bad)].ev == pytest.approx(math.log2(64 * 250))
    assert descs[str(good)].histogram
    assert "cannot read" in caplog.text


# -- accuracy on generated libraries ---------------------------------------------------------------------------
def _bench_module():
    import importlib.util
    import sys

    path = Path(__file__).resolve().parent.parent / "bench" / "scene_accuracy.py"
    spec = importlib.util.spec_from_file_location("scene_accuracy", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_scene_analysis_improves_grouping_on_generated_libraries(tmp_path: Path) -> None:
    """bench/scene_accuracy.py in small: never worse than time + GPS + pHash alone, better on the hard variant."""
    bench = _bench_module()
    rows = bench.run([11], events=4, photos_per_event=6, workdir=tmp_path, size=(320, 240))
    by_variant = {variant: (before, after) for variant, _, before, after in rows}
    for before, after in by_variant.values():
        assert after.f1 >= before.f1 and after.precision >= before.precision
    before, after = by_variant["hard"]
    assert before.precision < 0.8, "the hard variant must mix events for time + GPS + pHash"
    assert after.precision > before.precision + 0.2 and after.f1 > before.f1


def test_engine_refine_splits_and_caches_in_its_index(two_events: list[Photo], tmp_path: Path) -> None:
    from metasync.engine import Engine

    settings = Settings(db_path=tmp_path / "index.db")
    with Engine(settings) as engine:
        engine.index.upsert_photos((p, None, None) for p in two_events)
        photos = engine.index.photos()
        groups = engine.refine(detect_groups(photos, settings))
        cached = engine.index.scene_cache_get("local", [p.content_hash for p in photos])
    assert sorted(len(g.members) for g in groups) == [8, 10]
    assert set(cached) == {p.content_hash for p in photos}
