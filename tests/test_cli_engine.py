"""`metasync suggest`, `group create|override|list|delete` and `preview`: the JSON contract and the human view."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from metasync.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_suggest_preview_and_manual_group_over_the_cli(capsys, phone_and_dslr, db_path: Path):
    truth, db = phone_and_dslr, str(db_path)
    phone, dslr = str(truth.path("phone").resolve()), str(truth.path("dslr").resolve())

    code, out, _ = run(capsys, "suggest", str(truth.root), "--db", db, "--json")
    assert code == 0
    groups = json.loads(out)
    assert [sorted((f["path"], f["role"]) for f in g["files"]) for g in groups] == [
        sorted([(phone, "source"), (dslr, "target")])]
    g = groups[0]
    assert isinstance(g["id"], int) and g["band"] in ("high", "medium", "low") and g["changes"] > 0
    assert 0 < g["confidence"] <= 1

    code, out, _ = run(capsys, "preview", str(g["id"]), "--db", db, "--json")
    preview = json.loads(out)
    assert code == 0 and preview["group"] == g["id"] and preview["status"] == "pending"
    assert {"gps_latitude", "gps_longitude"} <= {c["field"] for c in preview["changes"]}
    assert set(preview["changes"][0]) >= {"path", "field", "old", "new", "source", "reason", "confidence",
                                          "conflict"}

    code, out, _ = run(capsys, "preview", str(g["id"]), "--db", db)
    assert code == 0 and "\033[" not in out  # not a terminal: no colours
    assert "  + gps_latitude" in out and "  = make" in out and out.startswith(f"Group {g['id']}  [")

    code, out, _ = run(capsys, "suggest", str(truth.root), "--db", db)
    assert "source  " + phone in out and "target  " + dslr in out

    code, out, _ = run(capsys, "group", "create", dslr, "--source", phone, "--option", "copy_camera=true",
                       "--db", db, "--json")
    created = json.loads(out)
    assert code == 0 and list(created) == ["id"] and isinstance(created["id"], int)

    code, _, _ = run(capsys, "group", "override", str(created["id"]), dslr, "city", "Berlin", "--db", db)
    assert code == 0
    _, out, _ = run(capsys, "preview", str(created["id"]), "--db", db, "--json")
    city = next(c for c in json.loads(out)["changes"] if c["field"] == "city")
    assert city["new"] == "Berlin" and city["reason"] == "set by hand"

    _, out, _ = run(capsys, "group", "list", "--db", db, "--json")
    listed = {x["id"]: x for x in json.loads(out)}
    assert listed[created["id"]]["user_created"] and not listed[g["id"]]["user_created"]

    code, _, _ = run(capsys, "group", "delete", str(created["id"]), "--db", db)
    assert code == 0
    code, _, err = run(capsys, "preview", str(created["id"]), "--db", db)
    assert code == 1 and err.startswith("metasync: no group")


def test_cli_errors_are_one_line(capsys, phone_and_dslr, db_path: Path, tmp_path: Path):
    truth, db = phone_and_dslr, str(db_path)
    stray = tmp_path / "stray.jpg"
    stray.write_bytes(b"")
    code, _, err = run(capsys, "group", "create", str(truth.path("phone")), str(stray), "--db", db)
    assert code == 1 and "not in the index" in err and len(err.strip().splitlines()) == 1
    assert "'metasync scan FOLDER' indexes it" in err  # the command line's own hint, never the bridge's
    code, _, err = run(capsys, "group", "create", str(truth.path("phone")), "--option", "copy_camera", "--db", db)
    assert code == 1 and "NAME=VALUE" in err
