"""Detection on synthetic Photo rows (no disk): each signal, contradictions, roles, and a 10,000-row library."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from support.rows import copy_of, dslr, phone, when

from metasync.config import Settings
from metasync.detect.events import HammingIndex, assign_roles, detect_groups, gps_cell
from metasync.detect.score import capture_times, score_pair, source_priority
from metasync.models import Metadata, Photo

S = Settings(db_path="/nonexistent/index.db")

def by_path(groups):
    return [sorted(m.path.rsplit("/", 1)[-1] for m in g.members) for g in groups]


# --- score ---------------------------------------------------------------------------------------------------------

def test_score_reasons_read_like_the_seed():
    a, b = dslr(2, 2, phash=0), phone(1, 0, phash=0b111111)
    times = capture_times([a, b])
    s = score_pair(a, b, times[2], times[1], S)
    assert s.reasons() == "2 min after IMG_0001.HEIC, pHash distance 6, same folder"
    assert set(s.components) == {"time", "visual", "folder"}
    assert 0 < s.confidence < 1


def test_more_agreeing_evidence_raises_confidence():
    a, b = phone(1, 0), phone(2, 5, lat=48.8587)
    t = capture_times([a, b])
    time_space = score_pair(a, b, t[1], t[2], S).confidence
    a2, b2 = phone(1, 0, phash=0), phone(2, 5, lat=48.8587, phash=1)
    with_visual = score_pair(a2, b2, t[1], t[2], S).confidence
    assert 0 < time_space < with_visual <= 1


def test_folder_alone_never_links():
    a = Photo(1, "/lib/a/x.jpg", Metadata())
    b = Photo(2, "/lib/a/y.jpg", Metadata())
    assert score_pair(a, b, None, None, S).confidence == 0


def test_far_gps_breaks_a_time_link_but_only_lowers_a_visual_one():
    paris, london = phone(1, 0), phone(2, 10, lat=51.5007, lon=-0.1246)
    t = capture_times([paris, london])
    assert score_pair(paris, london, t[1], t[2], S).confidence == 0
    paris_v, london_v = phone(1, 0, phash=0), phone(2, 10, lat=51.5007, lon=-0.1246, phash=0b11)
    s = score_pair(paris_v, london_v, t[1], t[2], S)
    assert s.gps_conflict and 0 < s.confidence < 0.5


def test_similar_images_reach_twice_the_window_other_shots_do_not():
    a = phone(1, 0, phash=0xF0F0F0F0F0F0F0F0)
    similar_later = dslr(2, 45, phash=0xF0F0F0F0F0F0F0F0 ^ 0b111111)  # 6 bits: similar, not the same shot
    other_later = dslr(3, 45, phash=0x0F0F0F0F0F0F0F0F)
    t = capture_times([a, similar_later, other_later])
    s = score_pair(similar_later, a, t[2], t[1], S)
    assert s.confidence > 0 and "time" not in s.components and s.reasons().startswith("45 min after")
    assert score_pair(other_later, a, t[3], t[1], S).confidence == 0
    too_late = dslr(4, 61, phash=similar_later.phash)
    assert score_pair(too_late, a, capture_times([a, too_late])[4], t[1], S).confidence == 0


def test_near_identical_camera_originals_are_two_shots_and_a_copy_keeps_its_gps():
    a = phone(1, 0, phash=0x0123456789ABCDEF)
    t = capture_times([a, dslr(2, 1)])
    assert not score_pair(dslr(2, 1, phash=a.phash), a, t[2], t[1], S).same_shot  # two cameras
    moved = Photo(3, "/lib/wa/x.jpg", Metadata(gps_latitude=48.8594, gps_longitude=2.2945), phash=a.phash)
    assert not score_pair(moved, a, None, t[1], S).same_shot  # 110 m away: another shot of the same view
    kept = Photo(4, "/lib/wa/y.jpg", Metadata(gps_latitude=48.8584, gps_longitude=2.2945), phash=a.phash)
    assert score_pair(kept, a, None, t[1], S).same_shot


def test_naive_time_is_read_in_the_offset_of_its_neighbours():
    p, d = phone(1, 0), dslr(2, 2)  # DSLR 14:02 local without offset, phone 14:00+02:00
    t = capture_times([p, d])
    assert t[2] - t[1] == pytest.approx(120)


def test_source_priority_order():
    full = phone(1, 0)
    gps_only = Photo(2, "/x/2.jpg", Metadata(gps_latitude=1.0, gps_longitude=2.0))
    exif_only = dslr(3, 0)
    nothing = Photo(4, "/x/4.jpg", Metadata(tags=("cake",)))
    assert [source_priority(p) for p in (full, gps_only, exif_only, nothing)] == [3, 2, 1, 0]


# --- indexes -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("radius", [4, 10])
def test_hamming_index_finds_exactly_the_hashes_within_radius(radius):
    rng = random.Random(radius)
    base = [rng.getrandbits(64) for _ in range(50)]
    hashes = {}
    for k, h in enumerate(base):
        hashes[2 * k] = h
        v = h
        for b in rng.sample(range(64), rng.randint(0, 14)):
            v ^= 1 << b
        hashes[2 * k + 1] = v
    keys = list(hashes)
    index = HammingIndex([hashes[k] for k in keys], radius)
    want_pairs = set()
    for a, key in enumerate(keys):
        want = sorted(b for b, other in enumerate(keys) if (hashes[key] ^ hashes[other]).bit_count() <= radius)
        assert sorted(b for b, _ in index.near(hashes[key])) == want
        want_pairs.update((a, b) for b in want if a < b)
    if radius < 5:
        assert {(min(a, b), max(a, b)) for a, b in index.pairs(max_neighbours=100).tolist()} == want_pairs


def test_gps_cells_separate_far_points_and_adjoin_near_ones():
    a = gps_cell(48.8584, 2.2945, 1000)
    b = gps_cell(48.8590, 2.2950, 1000)
    c = gps_cell(48.8584 + 0.18, 2.2945, 1000)  # 20 km north
    assert all(abs(x - y) <= 1 for x, y in zip(a, b))
    assert any(abs(x - y) > 1 for x, y in zip(a, c))


# --- groups --------------------------------------------------------------------------------------------------------

def test_phone_and_dslr_two_minutes_apart_form_one_group_phone_is_source():
    groups = detect_groups([phone(1, 0), dslr(2, 2)], S)
    assert len(groups) == 1
    g = groups[0]
    assert [(m.path.rsplit("/", 1)[-1], m.is_source) for m in g.members] == [
        ("IMG_0001.HEIC", True), ("DSC_0002.JPG", False)]
    assert g.id is None and 0 < g.confidence <= 1
    assert "DSC_0002.JPG: 2 min after IMG_0001.HEIC" in g.reasons[0]


def test_photos_more_than_the_window_apart_do_not_group():
    assert detect_groups([phone(1, 0), dslr(2, 45)], S) == []


def test_chain_within_window_forms_one_event():
    photos = [phone(1, 0), dslr(2, 20), dslr(3, 40), dslr(4, 60)]
    groups = detect_groups(photos, S)
    assert by_path(groups) == [["DSC_0002.JPG", "DSC_0003.JPG", "DSC_0004.JPG", "IMG_0001.HEIC"]]


def test_two_events_20_km_apart_same_day_never_share_a_group():
    # event A in Paris 14:00-14:40, event B 20 km away 14:20-15:00; DSLR shots without GPS in between
    a = [phone(1, 0), phone(2, 20), dslr(3, 30), phone(4, 40)]
    north = 48.8584 + 0.18
    b = [phone(11, 22, lat=north), dslr(12, 32), phone(13, 45, lat=north), phone(14, 60, lat=north)]
    groups = detect_groups(a + b, S)
    for g in groups:
        ids = {m.photo_id for m in g.members}
        assert not (ids & {1, 2, 4} and ids & {11, 13, 14}), by_path(groups)


def test_whatsapp_copy_without_time_links_only_by_phash():
    original = phone(1, 0, phash=0x0123456789ABCDEF)
    other = phone(2, 3, phash=0xFEDCBA9876543210)
    wa = copy_of(3, original)
    unrelated = Photo(4, "/lib/wa/IMG-X.jpg", Metadata(), phash=0x00FF00FF00FF00FF)
    groups = detect_groups([original, other, wa, unrelated], S)
    assert len(groups) == 1
    names = {m.path.rsplit("/", 1)[-1]: m.is_source for m in groups[0].members}
    assert names["IMG-20240512-WA0003.jpg"] is False
    assert "IMG-X.jpg" not in names
    assert "same shot" in " ".join(groups[0].reasons)


def test_same_shot_copy_with_a_wrong_time_still_links():
    original = phone(1, 0, phash=0x0123456789ABCDEF)
    late = Photo(2, "/lib/wa/late.jpg", Metadata(datetime_original=when(300, None)), phash=original.phash ^ 1)
    groups = detect_groups([original, late], S)
    assert by_path(groups) == [["IMG_0001.HEIC", "late.jpg"]]


def test_visually_similar_paris_london_join_as_low_confidence_conflict():
    paris = phone(1, 0, phash=0xF0F0F0F0F0F0F0F0)
    target = dslr(2, 15, phash=0xF0F0F0F0F0F0F0F3)
    london = phone(3, 25, lat=51.5007, lon=-0.1246, phash=0xF0F0F0F0F0F0F0FF)
    groups = detect_groups([paris, target, london], S)
    assert len(groups) == 1
    g = groups[0]
    assert g.confidence < 0.7
    assert g.reasons[0].startswith("GPS disagrees") and "km apart" in g.reasons[0]


def test_group_without_anything_to_give_is_dropped():
    assert detect_groups([phone(1, 0), phone(2, 1)], S) == []


def test_roles_follow_source_priority():
    full, gps_only, exif_only = phone(1, 0), Photo(2, "/x/2.jpg", Metadata(gps_latitude=1.0, gps_longitude=2.0)), dslr(3, 1)
    roles = {m.photo_id: m.is_source for m in assign_roles([full, gps_only, exif_only])}
    assert roles == {1: True, 2: False, 3: False}
    roles = {m.photo_id: m.is_source for m in assign_roles([gps_only, exif_only])}
    assert roles == {2: True, 3: False}


# --- scale ---------------------------------------------------------------------------------------------------------

def synthetic_library(n: int, seed: int = 1) -> tuple[list[Photo], dict[int, int]]:
    """n Photo rows in events of 4-40 photos (phone with GPS, DSLR without, a few messenger copies without time).

    Events are days apart except pairs on the same day 20 km apart, the second starting 10-120 min after the first
    ends (a DSLR shot without GPS in between belongs to either); returns (photos, photo id -> event).
    """
    rng = random.Random(seed)
    photos: list[Photo] = []
    truth: dict[int, int] = {}
    day = datetime(2015, 1, 1)
    event = 0
    while len(photos) < n:
        day += timedelta(days=1)
        lat, lon = rng.uniform(-60, 60), rng.uniform(-170, 170)
        start = day + timedelta(hours=9)
        for second in range(rng.choice((1, 1, 2))):  # sometimes a second event 20 km away the same day
            event += 1
            elat = lat + 0.18 * second
            base = rng.getrandbits(64)
            minutes = 0.0
            for _ in range(rng.randint(4, 40)):
                if len(photos) >= n:
                    break
                pid = len(photos) + 1
                minutes += rng.uniform(0, 8)
                h = base
                for b in rng.sample(range(64), rng.randint(8, 24)):
                    h ^= 1 << b
                kind = rng.random()
                folder = f"/lib/{start:%Y/%m-%d}"
                if kind < 0.5:
                    meta = Metadata(datetime_original=when(minutes, "+01:00", start), offset_time="+01:00",
                                    gps_latitude=elat + rng.uniform(-0.002, 0.002),
                                    gps_longitude=lon + rng.uniform(-0.002, 0.002), make="Apple", model="iPhone")
                elif kind < 0.9 or not photos or truth[photos[-1].id] != event:
                    meta = Metadata(datetime_original=when(minutes, None, start), make="Canon", model="R6")
                else:  # messenger copy of the previous photo: no metadata, near-identical pHash
                    h = photos[-1].phash ^ (1 << rng.randrange(64))
                    meta = Metadata()
                    folder = "/lib/WhatsApp"
                photos.append(Photo(pid, f"{folder}/P{pid:06d}.jpg", meta, phash=h))
                truth[pid] = event
            start += timedelta(minutes=minutes + rng.uniform(10, 120))  # travel: the next event starts later
    return photos, truth


def test_ten_thousand_synthetic_rows_group_by_event():
    photos, truth = synthetic_library(10_000)
    groups = detect_groups(photos, S)
    grouped = [m.photo_id for g in groups for m in g.members]
    assert len(grouped) == len(set(grouped))  # a photo is in one group at most
    for g in groups:
        assert len({truth[m.photo_id] for m in g.members}) == 1, g.reasons
    # nearly every photo of an event with a phone photo lands in a group
    assert len(grouped) > 0.9 * len(photos)
