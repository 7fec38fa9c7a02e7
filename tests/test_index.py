"""The index keeps what a group is: kind, the user's options and detection's evidence, across versions."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from metasync.index import MIGRATIONS, Index
from metasync.models import (
    ClockEvidence,
    EventEvidence,
    Group,
    GroupKind,
    GroupMember,
    GroupOptions,
    Metadata,
    Photo,
    Verdict,
)

VERDICT = {"same": False, "confidence": 0.42, "analyzer": "local", "reasons": ["dim vs sunny"],
           "clusters": [["/lib/a.jpg"], ["/lib/b.jpg"]]}
CLOCK = {"shift_s": -3600.0, "camera": "Canon EOS R6 #0123", "pairs": 2, "spread_s": 4.0,
         "matches": [["/lib/b.jpg", "/lib/a.jpg", -3598.0], ["/lib/c.jpg", "/lib/a.jpg", -3602.0]],
         "camera_times": {"/lib/b.jpg": "2024-05-12T15:03:07", "/lib/c.jpg": "2024-05-12T15:04:00"}}
# options as the index stored them before evidence had a column of its own: what the user set and what detection
# found, side by side
OLD_OPTIONS = {
    ("event", 0): {"gps_conflict": True, "scene": VERDICT},
    ("time_shift", 0): CLOCK,
    ("event", 1): {"copy_camera": True},
    ("place", 0): {},
}


def _old_index(path: Path) -> None:
    """An index at schema 4 with one group of each sort, written as that version wrote them."""
    conn = sqlite3.connect(path)
    for version, sql in MIGRATIONS:
        if version <= 4:
            conn.executescript(sql)
    conn.execute("PRAGMA user_version = 4")
    for k, name in enumerate(("a", "b", "c"), start=1):
        conn.execute("INSERT INTO files (id, path) VALUES (?, ?)", (k, f"/lib/{name}.jpg"))
    stamp = "2024-05-12T12:00:00+00:00"
    for gid, ((kind, user), options) in enumerate(OLD_OPTIONS.items(), start=1):
        conn.execute("INSERT INTO sync_groups (id, created_at, updated_at, user_created, kind, options) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (gid, stamp, stamp, user, kind, json.dumps(options)))
        conn.executemany("INSERT INTO sync_group_files (group_id, file_id, is_source) VALUES (?, ?, ?)",
                         [(gid, 1, 1), (gid, 2, 0), (gid, 3, 0)])
    conn.commit()
    conn.close()


def test_an_index_written_with_options_and_evidence_mixed_still_loads(tmp_path: Path) -> None:
    _old_index(tmp_path / "index.db")
    with Index(tmp_path / "index.db") as index:
        assert index.schema_version >= 5
        event, shift, mine, place = index.groups()
    assert [g.kind for g in (event, shift, mine, place)] == [GroupKind.EVENT, GroupKind.TIME_SHIFT, GroupKind.EVENT,
                                                            GroupKind.PLACE]
    assert event.options == GroupOptions() and event.evidence == EventEvidence(gps_conflict=True,
                                                                              scene=Verdict.from_dict(VERDICT))
    assert event.evidence.scene.clusters == (("/lib/a.jpg",), ("/lib/b.jpg",))
    assert shift.options == GroupOptions() and isinstance(shift.evidence, ClockEvidence)
    assert shift.evidence.shift_s == -3600.0 and shift.evidence.matches[0] == ("/lib/b.jpg", "/lib/a.jpg", -3598.0)
    assert mine.options == GroupOptions(copy_camera=True) and mine.evidence is None
    assert place.evidence is None
    # what plugins read ("options" of the bridge and the CLI JSON) is what the old layout held
    assert [g.options_dict() for g in (event, shift, mine, place)] == list(OLD_OPTIONS.values())


def test_options_and_evidence_round_trip_through_the_index(tmp_path: Path) -> None:
    with Index(tmp_path / "index.db") as index:
        index.upsert_photos([(Photo(id=0, path=f"/lib/{n}.jpg", meta=Metadata()), None, None) for n in "abc"])
        ids = [p.id for p in index.photos()]
        members = tuple(GroupMember(pid, f"/lib/{n}.jpg", is_source=n == "a") for pid, n in zip(ids, "abc"))
        saved = [Group(id=None, members=members, evidence=EventEvidence.from_dict({"scene": VERDICT})),
                 Group(id=None, members=members, kind=GroupKind.TIME_SHIFT, evidence=ClockEvidence.from_dict(CLOCK)),
                 Group(id=None, members=members, user_created=True, options=GroupOptions(copy_camera=False))]
        gids = [index.save_group(g) for g in saved]
        loaded = [index.group(gid) for gid in gids]
    for before, after in zip(saved, loaded):
        assert (after.kind, after.options, after.evidence) == (before.kind, before.options, before.evidence)
    assert loaded[2].options_dict() == {"copy_camera": False}


def test_clock_doubts_are_kept_for_planning_a_stored_group(tmp_path: Path) -> None:
    from metasync.groups import clock_doubts, store_clock_doubts

    with Index(tmp_path / "index.db") as index:
        assert clock_doubts(index, [1, 2]) == {}
        store_clock_doubts(index, {2: "the clock of NIKON Z 6_2 may be +17 min 28 s off", 9: "x"})
        assert clock_doubts(index, [1, 2]) == {2: "the clock of NIKON Z 6_2 may be +17 min 28 s off"}
        store_clock_doubts(index, {})  # the next detection doubts nothing
        assert clock_doubts(index, [2, 9]) == {}
