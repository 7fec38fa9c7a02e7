"""The `metasync scan` / `metasync show` contract, through the installed console script."""
from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.photos import make_bad_files, make_dslr, make_phone, make_stripped

from metasync.models import CANONICAL_FIELDS
from metasync.progress import drawing, make_progress
from metasync.scan.exif import ExifTool

METASYNC = str(Path(sys.executable).with_name("metasync"))


def metasync(*args: str, env_db: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "METASYNC_DB": str(env_db)} if env_db else None
    return subprocess.run([METASYNC, *args], capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, exiftool: ExifTool) -> Path:
    root = tmp_path_factory.mktemp("cli-lib")
    make_phone(root / "IMG_0001.jpg", exiftool)
    make_dslr(root / "sub" / "_MG_0001.JPG", exiftool)
    make_stripped(root / "IMG-20240512-WA0003.jpg")
    make_bad_files(root / "bad")
    return root


def test_scan_json_contract_then_show(library: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    r = metasync("scan", str(library), "--db", str(db), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert list(out) == ["photos", "new", "changed", "unchanged", "removed", "with_gps", "with_datetime", "errors"]
    assert (out["photos"], out["new"], out["with_gps"], out["with_datetime"]) == (3, 7, 1, 2)
    assert all(set(e) == {"path", "error"} for e in out["errors"]) and len(out["errors"]) == 4
    assert "[" not in r.stderr  # no progress bar when not on a terminal

    r = metasync("show", str(library / "IMG_0001.jpg"), "--db", str(db), "--json")
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert set(shown) == set(CANONICAL_FIELDS) | {"path", "phash"}
    assert re.fullmatch(r"[0-9a-f]{16}", shown["phash"])
    assert shown["make"] == "Apple" and shown["gps_longitude"] < 0 and shown["tags"] == []
    assert shown["path"] == str((library / "IMG_0001.jpg").resolve())


def test_human_output_and_env_db(library: Path, tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    r = metasync("scan", str(library), env_db=db)
    assert r.returncode == 0 and db.exists()
    assert "3 photos indexed: 7 new" in r.stdout and "4 could not be read" in r.stdout
    r = metasync("show", str(library / "sub" / "_MG_0001.JPG"), env_db=db)
    assert r.returncode == 0 and re.search(r"serial_number\s+032021001234", r.stdout)
    assert "None" not in r.stdout  # absent fields are left out


def test_show_unindexed_file_fails_with_one_line(library: Path, tmp_path: Path) -> None:
    r = metasync("show", str(library / "IMG_0001.jpg"), "--db", str(tmp_path / "empty.db"), "--json")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "metasync scan" in r.stderr


def test_scan_missing_path_fails(tmp_path: Path) -> None:
    r = metasync("scan", str(tmp_path / "nope"), "--db", str(tmp_path / "x.db"), "--json")
    assert r.returncode == 1 and "no such file or folder" in r.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_for_more_than_a_few_files() -> None:
    assert make_progress(True, io.StringIO()) is None
    assert make_progress(False, Terminal()) is None
    term = Terminal()
    bar = make_progress(True, term)
    bar("scan", 1, 3)
    assert term.getvalue() == ""  # a few files: no bar
    bar("scan", 0, 100)
    bar("scan", 100, 100)
    assert term.getvalue().endswith("] 100/100\n") and term.getvalue().startswith("\rscan")


def test_warnings_go_above_the_bar() -> None:
    term = Terminal()
    with drawing(make_progress(True, term)) as bar:
        bar("scan", 0, 50)
        logging.getLogger("metasync.scan.exif").warning("x.jpg: ignoring GPS")
        bar("scan", 50, 50)
    assert term.getvalue() == ("\rscan     [..............................] 0/50\n"
                               "metasync: x.jpg: ignoring GPS\n"
                               "\rscan     [##############################] 50/50\n")
    assert logging.getLogger("metasync").propagate  # restored afterwards
