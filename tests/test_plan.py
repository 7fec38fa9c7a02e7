"""The transfer rules, one test each, on synthetic Photo rows; and a property test that nothing is lost."""
from __future__ import annotations

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from support.lookups import LOOKUPS
from support.rows import copy_of, dslr, phone, when

from metasync.config import Settings
from metasync.detect.events import assign_roles
from metasync.models import (
    CANONICAL_FIELDS,
    ClockEvidence,
    Group,
    GroupKind,
    GroupMember,
    GroupOptions,
    Metadata,
    Photo,
)
from metasync.plan import plan_group
from metasync.plan.events import CAMERA_FIELDS

S = Settings(db_path="/nonexistent/index.db")
LONDON = (51.5007, -0.1246)


def group_of(*photos: Photo, sources: tuple[int, ...] | None = None, **kw) -> tuple[Group, dict[int, Photo]]:
    if sources is None:
        members = assign_roles(list(photos))
    else:
        members = tuple(GroupMember(p.id, p.path, p.id in sources) for p in photos)
    return Group(7, members, confidence=0.8, **kw), {p.id: p for p in photos}


def changes(plan, path_end: str | None = None) -> dict[str, object]:
    return {c.field: c for c in plan.changes if path_end is None or c.path.endswith(path_end)}


def test_gps_goes_from_phone_to_dslr_and_dslr_exif_stays():
    g, photos = group_of(phone(1, 0, gps_altitude=35.0), dslr(2, 2))
    plan = plan_group(g, photos, S, LOOKUPS)
    ch = changes(plan)
    assert {"gps_latitude", "gps_longitude", "gps_altitude"} <= set(ch)
    assert not set(ch) & {*CAMERA_FIELDS, "datetime_original"}
    assert ch["gps_latitude"].new == 48.8584 and ch["gps_latitude"].old is None
    assert ch["gps_latitude"].source.endswith("IMG_0001.HEIC")
    assert ch["gps_latitude"].reason.startswith("no GPS: 2 min after IMG_0001.HEIC")
    assert 0 < ch["gps_latitude"].confidence <= 1 and not ch["gps_latitude"].conflict
    assert plan.group_id == 7 and plan.conflicts == ()


def test_gps_from_a_fix_beyond_max_extrap_is_only_proposed_for_a_decision():
    # one phone fix 20 min before the camera shot: nothing to interpolate between, too far to take as is
    g, photos = group_of(phone(1, 0), dslr(2, 20))
    plan = plan_group(g, photos, S, LOOKUPS)
    lat = changes(plan)["gps_latitude"]
    assert lat.new == 48.8584 and lat.conflict and lat.alternatives == ()
    assert "beyond max_extrap_s (5 min)" in lat.reason and "20 min" in lat.reason
    assert {"gps_latitude", "gps_longitude"} <= {c.field for c in plan.conflicts}
    # place names and the zone offset that would follow from it wait for the same decision
    assert all(c.conflict for c in plan.changes if c.field in ("city", "country", "offset_time"))
    # 4 min away: within max_extrap, taken as is
    g, photos = group_of(phone(1, 0), dslr(2, 4))
    assert not changes(plan_group(g, photos, S, LOOKUPS))["gps_latitude"].conflict
    # a wider max_extrap_s is the user's to set
    g, photos = group_of(phone(1, 0), dslr(2, 20))
    assert not changes(plan_group(g, photos, S.with_(max_extrap_s=1800.0), LOOKUPS))["gps_latitude"].conflict


def test_beyond_the_track_its_last_stretch_is_continued_and_a_wide_guess_waits_for_a_decision():
    # the phone walks north 0.5 m/s (150 m in 5 min); the DSLR shoots 2 and 12 min after its last shot
    a, b = phone(1, 0, lat=48.8584), phone(3, 5, lat=48.8584 + 150 / 111_195)
    g, photos = group_of(a, b, dslr(2, 7), sources=(1, 3))
    lat = changes(plan_group(g, photos, S, LOOKUPS))["gps_latitude"]
    assert lat.reason.startswith("continued from IMG_0001 and IMG_0003 at 0.5 m/s, 2 min after IMG_0003")
    # 56.6 m on (the way made good in 2 min at 0.5 m/s with the heading wandering), not a straight line's 60
    assert abs(lat.new - (48.8584 + 206.6 / 111_195)) * 111_195 < 0.2 and not lat.conflict
    g, photos = group_of(a, b, dslr(2, 17), sources=(1, 3))
    plan = plan_group(g, photos, S, LOOKUPS)
    lat = changes(plan)["gps_latitude"]
    assert lat.conflict and "more than max_gps_error_m" in lat.reason
    assert abs(lat.new - (48.8584 + 455.2 / 111_195)) * 111_195 < 0.2  # 305 m on, not the last fix held 12 min
    named = [c for c in plan.changes if c.field in ("city", "country", "offset_time")]
    assert named and all(c.conflict for c in named)


def test_target_with_half_a_position_keeps_it_even_between_two_fixes():
    target = dslr(2, 5, gps_longitude=0.0)
    g, photos = group_of(phone(1, 0), target, phone(3, 10), sources=(1, 3))
    assert not {"gps_latitude", "gps_longitude"} & set(changes(plan_group(g, photos, S, LOOKUPS)))


def test_target_with_gps_keeps_it():
    target = dslr(2, 2, gps_latitude=1.0, gps_longitude=2.0)
    g, photos = group_of(phone(1, 0), target, sources=(1,))
    assert "gps_latitude" not in changes(plan_group(g, photos, S, LOOKUPS))


def test_gps_from_the_source_nearest_in_time():
    near = phone(1, 9, lat=48.8590)
    far = phone(3, -25, lat=48.8584)  # more than max_interp_gap_s before: no stretch of track to continue
    g, photos = group_of(far, near, dslr(2, 10))
    assert changes(plan_group(g, photos, S, LOOKUPS))["gps_latitude"].new == 48.8590


def test_gps_tie_in_time_goes_to_the_higher_priority_source():
    gps_only = Photo(3, "/lib/a/gps.jpg", Metadata(datetime_original=when(0), gps_latitude=48.0, gps_longitude=2.0))
    full = phone(1, 0, lat=48.001)
    g, photos = group_of(gps_only, full, dslr(2, 5), sources=(1, 3))
    assert changes(plan_group(g, photos, S, LOOKUPS))["gps_latitude"].new == 48.001


def test_gps_conflict_majority_wins_and_alternatives_are_listed():
    paris1, paris2 = phone(1, 0), phone(3, 20, lat=48.8590)
    london = phone(4, 12, lat=LONDON[0], lon=LONDON[1])
    g, photos = group_of(paris1, paris2, london, dslr(2, 11))
    lat = changes(plan_group(g, photos, S, LOOKUPS))["gps_latitude"]
    assert lat.conflict and lat.new in (48.8584, 48.8590)  # two Paris sources outvote London, though it is nearer
    assert lat.alternatives == (LONDON[0],)
    assert "sources disagree" in lat.reason
    assert lat.confidence < 0.5


def test_gps_conflict_tie_goes_to_nearest_in_time():
    paris, london = phone(1, 0), phone(3, 15, lat=LONDON[0], lon=LONDON[1])
    g, photos = group_of(paris, london, dslr(2, 12))
    plan = plan_group(g, photos, S, LOOKUPS)
    assert changes(plan)["gps_latitude"].new == LONDON[0]
    disputed = {c.field: c for c in plan.conflicts}
    assert {"gps_latitude", "gps_longitude"} <= set(disputed)
    derived = set(disputed) - {"gps_latitude", "gps_longitude"}  # zone offset, place names from the gazetteer
    assert all(disputed[f].reason.endswith("(from a disputed GPS)") for f in derived), derived


def test_sources_within_a_kilometre_do_not_conflict():
    g, photos = group_of(phone(1, 0), phone(3, 4, lat=48.8650), dslr(2, 3))  # ~730 m apart
    assert plan_group(g, photos, S, LOOKUPS).conflicts == ()


def test_time_given_when_target_has_none():
    nodate = Photo(2, "/lib/a/scan.jpg", Metadata(make="Canon", model="R6"))
    g, photos = group_of(phone(1, 0), nodate, sources=(1,))
    ch = changes(plan_group(g, photos, S, LOOKUPS))
    assert ch["datetime_original"].new == when(0) and ch["datetime_original"].old is None
    assert ch["offset_time"].new == "+02:00"


def test_differing_time_is_kept_unless_the_source_is_the_same_shot():
    target = dslr(2, 20, phash=0xFFFF0000FFFF0000)
    g, photos = group_of(phone(1, 0, phash=0x1234), target)
    assert "datetime_original" not in changes(plan_group(g, photos, S, LOOKUPS))


def test_same_shot_time_corrected_only_beyond_five_minutes():
    original = phone(1, 0, phash=0x0123456789ABCDEF)
    for minutes, corrected in ((4, False), (6, True), (240, True)):
        copy = Photo(2, "/lib/wa/copy.jpg", Metadata(datetime_original=when(minutes, None)), phash=original.phash ^ 3)
        g, photos = group_of(original, copy)
        ch = changes(plan_group(g, photos, S, LOOKUPS))
        assert ("datetime_original" in ch) is corrected, minutes
        if corrected:
            assert ch["datetime_original"].new == original.meta.datetime_original
            assert ch["datetime_original"].reason.startswith("clock differs from the same shot")


def test_same_shot_times_that_disagree_are_a_conflict():
    a = phone(1, 0, phash=0x0123456789ABCDEF)
    b = phone(3, 60, phash=0x0123456789ABCDEF ^ 0b11)
    copy = Photo(2, "/lib/wa/copy.jpg", Metadata(), phash=0x0123456789ABCDEF ^ 0b01)  # 1 bit from each
    g, photos = group_of(a, b, copy)
    dt = changes(plan_group(g, photos, S, LOOKUPS))["datetime_original"]
    assert dt.conflict and len(dt.alternatives) == 1


def test_a_copy_takes_the_time_of_its_nearest_original():
    a = phone(1, 0, phash=0x0123456789ABCDEF)
    b = phone(3, 60, phash=0x0123456789ABCDEF ^ 0b111)
    copy = Photo(2, "/lib/wa/copy.jpg", Metadata(), phash=0x0123456789ABCDEF ^ 0b001)  # 1 bit from a, 2 from b
    g, photos = group_of(a, b, copy)
    dt = changes(plan_group(g, photos, S, LOOKUPS))["datetime_original"]
    assert dt.new == a.meta.datetime_original and not dt.conflict


def test_near_identical_originals_of_two_cameras_are_not_the_same_shot():
    phone_shot = phone(1, 0, phash=0x0123456789ABCDEF)
    camera_shot = dslr(2, 20, phash=0x0123456789ABCDEF ^ 1)  # same view, another camera, its own clock
    g, photos = group_of(phone_shot, camera_shot)
    ch = changes(plan_group(g, photos, S, LOOKUPS))
    assert "datetime_original" not in ch and "lens_model" not in ch and "gps_latitude" in ch


def test_camera_only_from_the_same_shot():
    source = phone(1, 0, phash=0x0123456789ABCDEF, iso=50.0, f_number=1.8, lens_model="wide")
    other = Photo(2, "/lib/a/other.jpg", Metadata(datetime_original=when(1)), phash=0xFEDCBA9876543210)
    copy = copy_of(3, source)
    g, photos = group_of(source, other, copy)
    plan = plan_group(g, photos, S, LOOKUPS)
    assert not set(changes(plan, "other.jpg")) & set(CAMERA_FIELDS)
    copied = changes(plan, copy.name)
    assert {f: copied[f].new for f in ("make", "model", "iso", "f_number", "lens_model")} == {
        "make": "Apple", "model": "iPhone 13", "iso": 50.0, "f_number": 1.8, "lens_model": "wide"}
    assert copied["iso"].reason.startswith("camera of the same shot")


def test_copy_camera_option_forces_make_and_model_only():
    source = phone(1, 0, iso=50.0)
    other = Photo(2, "/lib/a/other.jpg", Metadata(datetime_original=when(1)))
    g, photos = group_of(source, other, options=GroupOptions(copy_camera=True))
    ch = changes(plan_group(g, photos, S, LOOKUPS))
    assert ch["make"].new == "Apple" and ch["model"].new == "iPhone 13"
    assert "iso" not in ch and ch["make"].reason.startswith("group option copy_camera")


def test_place_names_come_from_the_gps_source():
    src = phone(1, 0, city="Paris", country="France", country_code="FR")
    g, photos = group_of(src, dslr(2, 2, city="Lyon"))
    ch = changes(plan_group(g, photos, S, LOOKUPS))
    assert ch["country"].new == "France" and ch["country_code"].new == "FR"
    assert "city" not in ch and "state" not in ch  # the target's own city stays; the source has no state


def test_tags_are_merged_never_removed():
    a = phone(1, 0, tags=("party", "cake"))
    b = phone(3, 1, tags=("friends", "cake"))
    g, photos = group_of(a, b, dslr(2, 2, tags=("mine",)))
    tags = changes(plan_group(g, photos, S, LOOKUPS))["tags"]
    assert tags.old == ("mine",) and tags.new == ("mine", "friends", "cake", "party")  # nearest source first


def test_override_wins_and_resolves_the_conflict():
    paris, london = phone(1, 0, city="Paris"), phone(3, 15, lat=LONDON[0], lon=LONDON[1], city="London")
    target = dslr(2, 12)
    g, photos = group_of(paris, london, target)
    assert changes(plan_group(g, photos, S, LOOKUPS))["city"].conflict
    plan = plan_group(g, photos, S, LOOKUPS, {(2, "gps_latitude"): 48.86, (2, "gps_longitude"): 2.35})
    ch = changes(plan)
    assert ch["gps_latitude"].new == 48.86 and ch["gps_latitude"].reason == "set by hand"
    assert ch["gps_latitude"].confidence == 1.0 and not ch["gps_latitude"].conflict
    assert ch["city"].new == "Paris" and not ch["city"].conflict  # named from the hand-set position
    assert plan.conflicts == ()


def test_override_equal_to_the_current_value_is_no_change():
    g, photos = group_of(phone(1, 0), dslr(2, 2))
    plan = plan_group(g, photos, S, LOOKUPS, {(2, "make"): "Canon"})
    assert "make" not in changes(plan)


def test_whatsapp_copy_gets_every_field_of_its_original():
    original = phone(1, 0, phash=0x0123456789ABCDEF, gps_altitude=35.0, serial_number="X1", lens_model="wide",
                     iso=50.0, f_number=1.8, exposure_time=0.01, focal_length=5.1, city="Paris", state="IDF",
                     country="France", country_code="FR", tags=("tower",))
    copy = copy_of(2, original)
    g, photos = group_of(original, copy)
    ch = changes(plan_group(g, photos, S, LOOKUPS))
    for field in CANONICAL_FIELDS:
        if field == "received_day":  # read from a file's name, never planned
            assert field not in ch
            continue
        want = getattr(original.meta, field)
        assert ch[field].new == want, field


def test_copy_equally_like_two_originals_of_two_cameras_is_a_camera_conflict():
    iphone = phone(1, 0, phash=0x0123456789ABCDEF)
    galaxy = phone(3, 9, phash=0x0123456789ABCDEF, lat=48.8585)
    galaxy = Photo(galaxy.id, galaxy.path, galaxy.meta.with_values(make="samsung", model="SM-S918B"), phash=galaxy.phash)
    copy = copy_of(2, iphone)
    ch = changes(plan_group(*group_of(iphone, galaxy, copy), S, LOOKUPS))
    assert ch["make"].conflict and {ch["make"].new, *ch["make"].alternatives} == {"Apple", "samsung"}
    assert "sources disagree" in ch["make"].reason
    # the original alone: no doubt
    ch = changes(plan_group(*group_of(iphone, copy), S, LOOKUPS))
    assert ch["make"].new == "Apple" and not ch["make"].conflict


def test_time_shift_groups_go_to_the_clock_planner():
    camera = dslr(2, 2)
    g, photos = group_of(phone(1, 0), camera, sources=(1,), kind=GroupKind.TIME_SHIFT,
                         reasons=("Canon EOS R6: +1 h",),
                         evidence=ClockEvidence(shift_s=3600.0, camera="Canon EOS R6", spread_s=0.0,
                                                camera_times={camera.path: camera.meta.datetime_original}))
    plan = plan_group(g, photos, S, LOOKUPS)
    assert [(c.field, c.new) for c in plan.changes] == [("datetime_original", when(62, None))]


# --- property: nothing is removed or overwritten except by the rules ------------------------------------------------

def _meta(draw_opt, base_minutes: float) -> st.SearchStrategy[Metadata]:
    return st.builds(
        Metadata,
        datetime_original=draw_opt(st.integers(-90, 90).map(lambda m: when(base_minutes + m))),
        offset_time=draw_opt(st.just("+02:00")),
        gps_latitude=draw_opt(st.floats(48.0, 52.0)),
        gps_longitude=draw_opt(st.floats(-1.0, 3.0)),
        make=draw_opt(st.sampled_from(["Apple", "Canon"])),
        model=draw_opt(st.sampled_from(["iPhone", "R6"])),
        iso=draw_opt(st.sampled_from([100.0, 400.0])),
        city=draw_opt(st.sampled_from(["Paris", "London"])),
        tags=st.lists(st.sampled_from(["a", "b", "c"]), unique=True).map(tuple),
    )


photo_lists = st.lists(
    st.tuples(_meta(lambda s: st.none() | s, 0), st.none() | st.sampled_from([0, 1, 3, 0xFFFF, 0xFFFF0000FFFF])),
    min_size=2, max_size=6)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(photo_lists, st.booleans())
def test_plan_never_removes_or_overwrites_except_by_the_rules(rows, copy_camera):
    photos = [Photo(k + 1, f"/lib/a/p{k}.jpg", meta, phash=h) for k, (meta, h) in enumerate(rows)]
    g, by_id = group_of(*photos, options=GroupOptions(copy_camera=copy_camera))
    plan = plan_group(g, by_id, S, LOOKUPS)
    sources = {m.photo_id for m in g.members if m.is_source}
    by_path = {p.path: p for p in photos}
    for c in plan.changes:
        target = by_path[c.path]
        assert target.id not in sources, "sources are never changed"
        assert c.old == getattr(target.meta, c.field)
        if c.field == "tags":
            assert set(c.old) <= set(c.new) and len(c.new) > len(c.old)
        elif c.old is not None:
            # the only overwrite: a capture time corrected from the same shot
            assert c.field in ("datetime_original", "offset_time"), c
            src = by_path[c.source]
            assert (src.phash ^ target.phash).bit_count() <= S.phash_same_shot
        if c.field in CAMERA_FIELDS and c.source is not None:
            src = by_path[c.source]
            same = src.phash is not None and target.phash is not None and \
                (src.phash ^ target.phash).bit_count() <= S.phash_same_shot
            assert same or (copy_camera and c.field in ("make", "model")), c
        assert 0 <= c.confidence <= 1


def test_a_camera_whose_clock_is_in_doubt_is_placed_by_its_time_only_as_a_guess():
    """A camera whose pairs point to an offset that is not proven (suggest_time_shifts' doubts): the track at its
    own time may be 17 minutes off, so the position is proposed, not written, and the reason says why."""
    doubt = "the clock of NIKON Z 6_2 may be +17 min 28 s off: 6 pairs agree, as chance alone would line them up 8 %"
    g, photos = group_of(phone(1, 0), phone(3, 10, lat=48.8584 + 300 / 111_195), dslr(2, 5), sources=(1, 3))
    sure = changes(plan_group(g, photos, S, LOOKUPS))["gps_latitude"]
    assert sure.reason.startswith("interpolated between IMG_0001") and not sure.conflict
    doubted = changes(plan_group(g, photos, S, LOOKUPS, doubts={2: doubt}))["gps_latitude"]
    assert doubted.conflict and doubted.new == sure.new
    assert doubted.reason.endswith(f"({doubt}: a guess, yours to confirm)")
    # a source chosen by time, one fix 2 min away, is a guess too
    g, photos = group_of(phone(1, 0), dslr(2, 2))
    lat = changes(plan_group(g, photos, S, LOOKUPS, doubts={2: doubt}))["gps_latitude"]
    assert lat.conflict and doubt in lat.reason and lat.new == 48.8584
