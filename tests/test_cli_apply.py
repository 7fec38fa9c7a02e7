"""The CLI contract of apply, revert and history (exact JSON keys)."""
from __future__ import annotations

import json
from pathlib import Path

from support.apply import tree_state

from metasync.cli import main


def cli_json(capsys, *argv: str):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_apply_revert_history_json_contract(lib, tmp_path, capsys):
    db = str(tmp_path / "index.db")
    before = tree_state(tmp_path / "photos")

    applied = cli_json(capsys, "apply", str(lib.group.id), "--db", db, "--min-confidence", "0.5")

    assert set(applied) == {"group", "applied", "skipped", "sidecars"}
    assert applied["group"] == lib.group.id and applied["applied"] > 0
    assert all(Path(s).is_file() for s in applied["sidecars"])
    assert all(set(s) == {"path", "field", "reason"} for s in applied["skipped"])

    reverted = cli_json(capsys, "revert", str(lib.group.id), "--db", db)

    assert reverted == {"group": lib.group.id, "restored": [], "removed": applied["sidecars"]}
    assert tree_state(tmp_path / "photos") == before

    versions = cli_json(capsys, "history", lib.targets[0], "--db", db)
    assert [v["kind"] for v in versions] == ["apply", "revert"]
    assert all(v["group"] == lib.group.id for v in versions)


def test_revert_and_history_human_output(lib, tmp_path, capsys):
    lib.apply_plan(lib.group, lib.plan())
    db = str(tmp_path / "index.db")

    assert main(["history", lib.targets[0], "--db", db]) == 0
    out = capsys.readouterr().out
    assert f"apply      group {lib.group.id}" in out
    assert "city: (none) -> Paris" in out
    assert "tags: (none) -> eiffel tower, trip" in out

    assert main(["revert", str(lib.group.id), "--db", db]) == 0
    assert f"group {lib.group.id}: 0 sidecar(s) restored, 2 removed" in capsys.readouterr().out

    assert main(["revert", str(lib.group.id), "--db", db]) == 1
    assert "nothing applied to revert" in capsys.readouterr().err


def test_a_change_skipped_for_its_conflict_names_the_flag_that_writes_it():
    """The engine's reason names no flag (plugin dialogs show it too); the command line adds its own."""
    from metasync.cli.apply import render
    from metasync.write.apply import CONFLICTING

    result = {"group": 3, "applied": 0, "sidecars": [],
              "skipped": [{"path": "/photos/IMG_0001.jpg", "field": "gps_latitude", "reason": CONFLICTING}]}
    assert "--" not in CONFLICTING
    assert "IMG_0001.jpg gps_latitude: conflicting sources disagree" in render(result)
    assert "--include-conflicts" in render(result)
