"""A first Suggest for a few selected photos sees the whole library, and group ids survive rescans."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from support.bridge import TOKEN

from demokit.library import Truth
from metasync.bridge import close_app, create_app
from metasync.config import Settings

AUTH = {"X-Metasync-Token": TOKEN}


@pytest.fixture()
def client(library: Truth, tmp_path: Path):
    app = create_app(Settings(db_path=tmp_path / "index.db", library_roots=(library.root,)), token=TOKEN)
    yield app.test_client()
    close_app(app)


def _camera(truth: Truth) -> list[str]:
    return [str(truth.path(p).resolve()) for p in truth.photos if p.kind == "dslr"]


def _suggest(client, paths: list[str]) -> list[dict]:
    query = "&".join("path=" + quote(p) for p in paths)
    resp = client.get(f"/api/metadata-sync/suggestions?{query}", headers=AUTH)
    assert resp.status_code == 200, resp.data[:300]
    return resp.get_json()["suggestions"]


def _gps_targets(client, groups: list[dict]) -> set[str]:
    out = set()
    for g in groups:
        detail = client.get(f"/api/metadata-sync/groups/{g['id']}", headers=AUTH).get_json()
        out |= {c["path"] for c in detail["changes"] if c["field"] == "gps_latitude"}
    return out


def test_first_suggest_of_a_selection_on_a_never_scanned_library_borrows_from_the_phones(client, library):
    camera = _camera(library)
    groups = _suggest(client, camera[:2])
    assert groups, "the phones' GPS lies outside the selection and must still be found"
    assert set(camera[:2]) <= _gps_targets(client, groups)
    kinds = {client.get(f"/api/metadata-sync/groups/{g['id']}", headers=AUTH).get_json()["kind"] for g in groups}
    assert "time_shift" in kinds, "the selected camera's clock correction is among the suggestions"


def test_group_ids_stay_the_same_across_gets_and_rescans(client, library):
    first = _suggest(client, _camera(library))
    again = _suggest(client, _camera(library))
    assert [(g["id"], g["changes"]) for g in first] == [(g["id"], g["changes"]) for g in again]
    # a new photo in the library: a rescan and a new detection, the known groups keep their ids
    phone = next(p for p in library.photos if p.kind == "phone")
    shutil.copy2(library.path(phone), library.path(phone).with_name("copy of " + library.path(phone).name))
    third = _suggest(client, _camera(library))
    assert {g["id"] for g in first} <= {g["id"] for g in third}
    assert all(client.get(f"/api/metadata-sync/groups/{g['id']}", headers=AUTH).status_code == 200 for g in first)


def test_cli_suggest_one_file_with_root_sees_the_library(library, tmp_path):
    target = _camera(library)[0]
    run = subprocess.run([sys.executable, "-m", "metasync", "suggest", target, "--root", str(library.root),
                          "--db", str(tmp_path / "cli.db"), "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    groups = json.loads(run.stdout)
    assert groups and any(f["path"] == target and f["role"] == "target" for g in groups for f in g["files"])
