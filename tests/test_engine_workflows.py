"""The scenario workflows end to end on generated files: scan, suggest, preview, override (no writes)."""
from __future__ import annotations

from pathlib import Path

import pytest

from demokit.library import Truth
from metasync.config import Settings
from metasync.engine import Engine
from metasync.errors import GroupNotFoundError, InvalidRequestError, NotIndexedError

EPSILON = 1e-7  # a planned float is the expected one but for re-encoding


@pytest.fixture()
def engine(db_path: Path):
    with Engine(Settings(db_path=db_path)) as e:
        yield e


def path_of(truth: Truth, role: str) -> str:
    return str(truth.path(role).resolve())


def roles_by_path(truth: Truth) -> dict[str, str]:
    return {path_of(truth, role): role for role in truth.roles}


def only_group(engine: Engine, truth: Truth) -> dict:
    groups = engine.suggest([truth.root])
    assert len(groups) == 1, groups
    return groups[0]


def changes_by_role(truth: Truth, preview: dict) -> dict[str, dict[str, dict]]:
    names = roles_by_path(truth)
    out: dict[str, dict[str, dict]] = {}
    for c in preview["changes"]:
        out.setdefault(names[c["path"]], {})[c["field"]] = c
    return out


def test_phone_and_dslr_gps_goes_to_the_dslr_and_its_exif_stays(engine, phone_and_dslr):
    truth = phone_and_dslr
    g = only_group(engine, truth)
    names = roles_by_path(truth)
    assert {names[f["path"]]: f["role"] for f in g["files"]} == {"phone": "source", "dslr": "target"}
    assert g["band"] in ("high", "medium", "low") and 0 < g["confidence"] <= 1
    assert g["changes"] >= 2 and "2 min after IMG_0412.JPG" in " ".join(g["reasons"])
    preview = engine.preview(g["id"])
    assert preview["group"] == g["id"] and preview["status"] == "pending" and preview["conflicts"] == []
    got = changes_by_role(truth, preview)
    assert set(got) == {"dslr"}
    for field, value in truth.expected["added"]["dslr"].items():
        assert got["dslr"][field]["new"] == pytest.approx(value, abs=EPSILON), field
        assert got["dslr"][field]["reason"].startswith("no GPS: 2 min after IMG_0412.JPG")
    assert not set(got["dslr"]) & set(truth.expected["kept"]["dslr"])


def test_birthday_party_one_group_five_sources_ten_targets(engine, birthday_party):
    truth = birthday_party
    g = only_group(engine, truth)
    names = roles_by_path(truth)
    roles = {names[f["path"]]: f["role"] for f in g["files"]}
    assert sorted(r for r, role in roles.items() if role == "source") == sorted(truth.expected["sources"])
    assert sorted(r for r, role in roles.items() if role == "target") == sorted(truth.expected["targets"])
    got = changes_by_role(truth, engine.preview(g["id"]))
    for role, added in truth.expected["added"].items():
        if isinstance(added, dict):  # a WhatsApp copy: every field of its original
            for field, value in added.items():
                new = got[role][field]["new"]
                assert (sorted(new) == sorted(value)) if field == "tags" else new == pytest.approx(value, abs=EPSILON), (role, field)
        else:
            assert set(added) <= set(got[role]), (role, sorted(got[role]))
    for role, kept in truth.expected["kept"].items():
        assert not set(got.get(role, {})) & set(kept), role
    assert not {r for r in got if r.startswith("full")}, "sources are never changed"


def test_paris_london_low_confidence_conflict_settled_by_hand(engine, paris_london):
    truth = paris_london
    g = only_group(engine, truth)
    names = roles_by_path(truth)
    assert sorted(names[f["path"]] for f in g["files"]) == sorted(truth.expected["groups"][0])
    assert g["band"] == truth.expected["band"]
    preview = engine.preview(g["id"])
    conflicts = {(names[c["path"]], c["field"]): c for c in preview["conflicts"]}
    for field in truth.expected["conflicts"]["target"]:
        assert ("target", field) in conflicts, sorted(conflicts)
    lat = conflicts[("target", "gps_latitude")]
    proposals = {round(v, 4) for v in [lat["new"], *lat["alternatives"]]}
    assert proposals == {round(v[0], 4) for v in truth.expected["alternatives"].values()}
    assert "sources disagree" in lat["reason"]

    override = truth.expected["override"]
    target = truth.path(override["role"])
    for field in ("gps_latitude", "gps_longitude"):
        engine.set_override(g["id"], target, field, str(override[field]))  # as the CLI passes it
    after = changes_by_role(truth, engine.preview(g["id"]))
    assert engine.preview(g["id"])["conflicts"] == []
    for field in ("gps_latitude", "gps_longitude"):
        c = after["target"][field]
        assert c["new"] == pytest.approx(override[field], abs=EPSILON) and c["reason"] == "set by hand" and c["confidence"] == 1.0


def test_two_events_same_day_never_share_a_group(engine, two_events_same_day):
    truth = two_events_same_day
    names = roles_by_path(truth)
    groups = engine.suggest([truth.root])
    events = [{names[f["path"]][0] for f in g["files"]} for g in groups]
    assert all(len(e) == 1 for e in events), events
    assert sorted(e.pop() for e in events) == ["a", "b"]
    for g in groups:
        got = changes_by_role(truth, engine.preview(g["id"]))
        for role, fields in got.items():
            assert set(truth.expected["added"][role]) <= set(fields)
            assert names[fields["gps_latitude"]["source"]] in truth.expected["gps_from"][role]


def test_suggest_for_single_files_returns_the_groups_they_are_in(engine, phone_and_dslr):
    truth = phone_and_dslr
    notes = truth.root / "notes.txt"
    notes.write_text("not a photo", encoding="utf-8")
    engine.scan([truth.root])  # the library is indexed; the user asks about one file (and a stray one)
    groups = engine.suggest([truth.path("dslr"), notes])
    assert [sorted(f["path"] for f in g["files"]) for g in groups] == [
        sorted([path_of(truth, "phone"), path_of(truth, "dslr")])]


def test_manual_group_with_explicit_sources_and_its_errors(engine, phone_and_dslr, tmp_path):
    truth = phone_and_dslr
    engine.scan([truth.root])
    phone, dslr = truth.path("phone"), truth.path("dslr")
    gid = engine.create_group([str(dslr)], sources=[str(phone)], options={"copy_camera": False})
    listed = {g["id"]: g for g in engine.list_groups()}[gid]
    assert listed["user_created"] and listed["status"] == "pending" and listed["kind"] == "event"
    assert listed["sources"] == [path_of(truth, "phone")] and listed["targets"] == [path_of(truth, "dslr")]
    assert listed["changes"] == engine.plan(gid).changes.__len__() > 0
    # a re-suggest replaces automatic groups only
    engine.suggest([truth.root])
    engine.suggest([truth.root])
    groups = engine.list_groups()
    assert gid in {g["id"] for g in groups}
    assert len([g for g in groups if not g["user_created"] and g["kind"] == "event"]) == 1

    stray = tmp_path / "stray.jpg"
    stray.write_bytes(b"")
    with pytest.raises(NotIndexedError):
        engine.create_group([str(phone), str(stray)])
    with pytest.raises(InvalidRequestError):
        engine.create_group([str(phone)])
    with pytest.raises(InvalidRequestError):
        engine.create_group([str(phone), str(dslr)], options={"colour": "red"})
    with pytest.raises(InvalidRequestError):
        engine.set_override(gid, dslr, "gps_latitude", "north")
    with pytest.raises(InvalidRequestError):
        engine.set_override(gid, dslr, "flavour", "x")

    engine.delete_group(gid)
    with pytest.raises(GroupNotFoundError):
        engine.preview(gid)
