"""Preview diff: signs, epsilon, list items, meter, colours only when asked."""
from __future__ import annotations

from metasync.diff import field_diffs, meter, render_preview
from metasync.fields import FIELDS


def change(field, new, old=None, conflict=False, alternatives=()):
    return {"path": "/lib/DSC_0002.JPG", "field": field, "old": old, "new": new, "source": "/lib/IMG_0001.HEIC",
            "reason": "no GPS: 2 min after IMG_0001.HEIC", "confidence": 0.78, "conflict": conflict,
            "alternatives": list(alternatives)}


def ops(diffs):
    return [(d.field, d.op, d.value) for d in diffs]


def test_added_removed_unchanged():
    current = {"make": "Canon", "datetime_original": "2024-05-12T14:00:00", "gps_latitude": None}
    diffs = field_diffs(current, [change("gps_latitude", 48.8584),
                                  change("datetime_original", "2024-05-12T14:10:00+02:00")])
    assert ops(diffs) == [
        ("datetime_original", "-", "2024-05-12T14:00:00"),
        ("datetime_original", "+", "2024-05-12T14:10:00+02:00"),
        ("gps_latitude", "+", 48.8584),
        ("make", "=", "Canon"),
    ]
    assert diffs[2].change["source"] == "/lib/IMG_0001.HEIC"


def test_floats_within_epsilon_are_unchanged():
    same = FIELDS["gps_latitude"].same
    assert same(48.8584, 48.85840000001)
    assert not same(48.8584, 48.8585)
    assert not same(None, 0.0)
    assert ops(field_diffs({"gps_latitude": 48.8584}, [change("gps_latitude", 48.85840000001)])) == [
        ("gps_latitude", "=", 48.8584)]


def test_lists_diff_item_by_item():
    diffs = field_diffs({"tags": ["mine", "cake"]}, [change("tags", ["mine", "cake", "party"])])
    assert ops(diffs) == [("tags", "=", "mine"), ("tags", "=", "cake"), ("tags", "+", "party")]
    assert ops(field_diffs({"tags": ["a"]}, [change("tags", [])])) == [("tags", "-", "a")]


def test_meter_and_bands():
    assert meter(0.82) == "[########--] 0.82 medium"
    assert meter(0.95).endswith("high") and meter(0.3).startswith("[###-------]")


PREVIEW = {
    "group": 3, "status": "pending", "confidence": 0.55, "reasons": ["GPS disagrees: A and B are 343 km apart"],
    "changes": [change("gps_latitude", 48.8584, conflict=True, alternatives=[51.5007])],
    "conflicts": [change("gps_latitude", 48.8584, conflict=True, alternatives=[51.5007])],
    "files": {"/lib/IMG_0001.HEIC": {"role": "source", "metadata": {"gps_latitude": 48.8584}},
              "/lib/DSC_0002.JPG": {"role": "target", "metadata": {"make": "Canon"}}},
}


def test_render_plain_has_no_escape_codes_and_names_the_conflict():
    text = render_preview(PREVIEW, color=False)
    assert "\033[" not in text
    assert text.splitlines()[0] == "Group 3  [######----] 0.55 low  pending"
    assert "  + gps_latitude       48.8584   <- IMG_0001.HEIC (0.78): no GPS: 2 min after IMG_0001.HEIC" in text
    assert "CONFLICT, alternatives: 51.5007" in text
    assert "  = make               Canon" in text
    assert "1 conflicted change(s) need your decision" in text


def test_render_colours_by_meaning_when_asked():
    text = render_preview(PREVIEW, color=True)
    assert "\033[32m  + gps_latitude" in text  # green added
    assert "\033[34m  = make" in text  # blue unchanged
    assert "\033[33m  CONFLICT" in text
    removed = render_preview({**PREVIEW, "conflicts": [], "changes": [change("make", "Nikon")]}, color=True)
    assert "\033[31m  - make               Canon" in removed  # red removed


def test_render_empty_plan():
    assert render_preview({"group": 1, "status": "applied", "changes": [], "conflicts": []}).endswith(
        "Nothing to change.")


def test_render_names_who_gave_a_value_without_a_source_photo():
    shift = change("datetime_original", "2024-05-12T10:29:38", old="2024-05-12T11:32:56") | {
        "source": None, "reason": "camera clock corrected: Canon EOS R6: -1 h 03 min 18 s"}
    mine = change("city", "Paris") | {"source": None, "reason": "set by hand", "confidence": 1.0}
    text = render_preview({**PREVIEW, "conflicts": [], "changes": [shift, mine]})
    assert "<- derived (0.78): camera clock corrected" in text
    assert "<- you (1.00): set by hand" in text


def test_a_time_that_only_gains_its_offset_is_shown_as_a_change():
    current = {"datetime_original": "2024-05-12T14:00:00"}
    diffs = field_diffs(current, [change("datetime_original", "2024-05-12T14:00:00+02:00")])
    assert ops(diffs) == [("datetime_original", "-", "2024-05-12T14:00:00"),
                          ("datetime_original", "+", "2024-05-12T14:00:00+02:00")]
    # a read-back, where hosts drop the offset, still counts it as the value written
    assert FIELDS["datetime_original"].same("2024-05-12T14:00:00+02:00", "2024-05-12T14:00:00")
