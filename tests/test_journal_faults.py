"""Crash safety: kill the process (SIGKILL) at every step of apply and revert; the next command rolls back.

After each crash every sidecar must be wholly old or wholly new; after recovery the folder is byte-identical to
its state before the interrupted operation and no temp file is left.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.apply import new_engine, temp_files, tree_state

from metasync.index import Index
from metasync.write import journal
from metasync.write.apply import apply_plan, revert_group

DRIVER = """
import json, sys
from pathlib import Path
from metasync.write.apply import apply_plan, revert_group
from metasync.config import Settings
from metasync.engine import Engine
from metasync.models import FieldChange, Plan
from metasync.scan.exif import ExifTool

action, db, gid = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
with ExifTool() as exif, Engine(Settings(db_path=db), exif=exif) as engine:
    if action == "apply":
        plan = Plan(gid, tuple(FieldChange(**c) for c in json.loads(sys.stdin.read())))
        apply_plan(engine.index, exif, engine.settings, engine.index.group(gid), plan)
    elif action == "revert":
        revert_group(engine.index, gid)
    else:
        engine.recover()
"""

APPLY_STEPS = ["apply:begin", "apply:blobs", "apply:journal", "apply:tmp", "apply:write@1", "apply:write@2",
               "apply:commit"]
REVERT_STEPS = ["revert:begin", "revert:blobs", "revert:journal", "revert:tmp", "revert:write@1",
                "revert:write@2", "revert:commit"]


def run_driver(action: str, db: Path, gid: int, fault: str | None, stdin: str = "") -> subprocess.CompletedProcess:
    """apply_plan with a hand-built plan (from stdin), revert_group or recover, in a process of its own."""
    return run([sys.executable, "-c", DRIVER, action, str(db), str(gid)], fault, stdin)


def run_cli(fault: str | None, *argv: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "metasync", *argv], fault)


def run(cmd: list[str], fault: str | None, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "METASYNC_FAULT": fault or ""}
    return subprocess.run(cmd, input=stdin, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture()
def lib(lib, corpus):
    """Two targets: one with a darktable sidecar already, one without any."""
    shutil.copyfile(corpus / "sidecars/darktable/0175-agx.xmp", lib.targets[0] + ".xmp")
    return lib


def assert_each_file_old_or_new(root: Path, old: dict[str, str], new: dict[str, str]) -> None:
    now = tree_state(root)
    for name in set(old) | set(new) | set(now):
        if "metasync-tmp" in name:
            continue
        assert now.get(name) in (old.get(name), new.get(name)), f"{name} is neither wholly old nor wholly new"


def pending(db: Path) -> list:
    with Index(db) as index:
        return journal.pending_operations(index)


@pytest.mark.parametrize("step", APPLY_STEPS)
def test_apply_killed_at_each_step_is_rolled_back_by_the_next_command(lib, tmp_path, exiftool, step):
    photos, db = tmp_path / "photos", tmp_path / "index.db"
    old = tree_state(photos)
    plan_json = json.dumps([c.to_dict() for c in lib.plan().changes])

    proc = run_driver("apply", db, lib.group.id, step, plan_json)

    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert len(pending(db)) == 1
    if step == "apply:tmp":
        assert temp_files(photos), "the crash left a temp file for recovery to clean"
    for name, digest in tree_state(photos).items():
        if "metasync-tmp" in name or old.get(name) == digest:
            continue
        assert "Paris" in (photos / name).read_text(encoding="utf-8"), f"{name}: half-written sidecar"

    with new_engine(db, exiftool) as engine:
        assert len(engine.recover()["rolled_back"]) == 1
        assert tree_state(photos) == old, "every sidecar wholly old again"
        assert temp_files(photos) == []
        assert engine.index.group(lib.group.id).status == "pending"
        if step == APPLY_STEPS[-1]:  # and the operation can now be done for real
            assert apply_plan(engine.index, exiftool, engine.settings, engine.index.group(lib.group.id),
                              lib.plan())["applied"] > 0
    assert pending(db) == []


@pytest.mark.parametrize("step", REVERT_STEPS)
def test_revert_killed_at_each_step_is_rolled_back_by_the_next_command(lib, tmp_path, exiftool, step):
    photos, db = tmp_path / "photos", tmp_path / "index.db"
    old = tree_state(photos)
    lib.apply_plan(lib.group, lib.plan())
    applied = tree_state(photos)
    lib.close()

    proc = run_cli(step, "revert", str(lib.group.id), "--db", str(db))

    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert_each_file_old_or_new(photos, applied, old)
    if step == "revert:tmp":
        assert temp_files(photos)

    # the next command (here: history) finds the unfinished revert and rolls it back
    with new_engine(db, exiftool) as engine:
        kinds = [v["kind"] for v in engine.history(lib.targets[0])]
        assert kinds == ["apply"]
        assert tree_state(photos) == applied
        assert temp_files(photos) == []
        assert engine.index.group(lib.group.id).status == "applied"
        revert_group(engine.index, lib.group.id)
        assert tree_state(photos) == old


def test_crash_during_recovery_is_recovered_again(lib, tmp_path):
    photos, db = tmp_path / "photos", tmp_path / "index.db"
    old = tree_state(photos)
    plan_json = json.dumps([c.to_dict() for c in lib.plan().changes])
    assert run_driver("apply", db, lib.group.id, "apply:write@2", plan_json).returncode == -signal.SIGKILL

    proc = run_driver("recover", db, lib.group.id, "rollback:tmp")

    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert run_driver("recover", db, lib.group.id, None).returncode == 0
    assert tree_state(photos) == old
    assert temp_files(photos) == []
    assert pending(db) == []


def test_cli_apply_killed_mid_write_then_cli_history_recovers(lib, tmp_path):
    photos, db = tmp_path / "photos", str(tmp_path / "index.db")
    old = tree_state(photos)

    assert run_cli("apply:write@1", "apply", str(lib.group.id), "--db", db).returncode == -signal.SIGKILL
    assert tree_state(photos) != old

    proc = run_cli(None, "history", lib.targets[0], "--db", db, "--json")

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    assert tree_state(photos) == old
    assert pending(Path(db)) == []
    assert temp_files(photos) == []
