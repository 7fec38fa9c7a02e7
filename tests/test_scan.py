"""scan.py: incremental indexing of a generated library (new / unchanged / changed / removed / moved / bad)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.photos import make_bad_files, make_dslr, make_phone, make_stripped, scene_image, write_sidecar

from metasync.config import Settings
from metasync.detect.scene.local import LocalAnalyzer
from metasync.engine import Engine
from metasync.naming import RAW_EXTENSIONS
from metasync.scan.exif import ExifTool
from metasync.scan.phash import thumbnail_image
from metasync.scan.pixels import LOCAL, SIZE, pixel_features
from metasync.scan.walk import scan_library

SUMMARY_KEYS = {"photos", "new", "changed", "unchanged", "removed", "with_gps", "with_datetime", "errors"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, exiftool: ExifTool) -> Path:
    """A small library made once: 2 phone, 2 DSLR, 1 stripped copy, in two folders (one upper-case .JPG)."""
    root = tmp_path_factory.mktemp("template")
    make_phone(root / "day1" / "IMG_0001.jpg", exiftool, seed=1)
    make_phone(root / "day1" / "IMG_0002.jpg", exiftool, seed=2, **{"EXIF:DateTimeOriginal": "2024:05:12 14:05:00"})
    make_dslr(root / "day1" / "dslr" / "_MG_1001.JPG", exiftool, seed=1)
    make_dslr(root / "day2" / "_MG_2001.jpg", exiftool, seed=3)
    make_stripped(root / "day2" / "IMG-20240512-WA0003.jpg", seed=1)
    return root


@pytest.fixture()
def library(template: Path, tmp_path: Path) -> Path:
    lib = tmp_path / "lib"
    shutil.copytree(template, lib)
    return lib


@pytest.fixture()
def engine(tmp_path: Path):
    with Engine(Settings(db_path=tmp_path / "index.db")) as eng:
        yield eng


def rescan(db: Path, lib: Path) -> tuple[dict, ExifTool]:
    """Scan with a fresh engine (as a new CLI run would) and return its summary and the ExifTool it had."""
    with ExifTool() as exif, Engine(Settings(db_path=db), exif=exif) as eng:
        return eng.scan([lib]), exif


def show(db: Path, photo: Path) -> dict:
    with Engine(Settings(db_path=db)) as eng:
        return eng.show(photo)


def test_first_scan_counts(library: Path, engine: Engine) -> None:
    s = engine.scan([library])
    assert set(s) == SUMMARY_KEYS
    assert (s["photos"], s["new"], s["changed"], s["unchanged"], s["removed"]) == (5, 5, 0, 0, 0)
    assert (s["with_gps"], s["with_datetime"], s["errors"]) == (2, 4, [])
    paths = [p.path for p in engine.index.photos()]
    assert all(os.path.isabs(p) and Path(p).resolve() == Path(p) for p in paths)
    assert str((library / "day1" / "dslr" / "_MG_1001.JPG").resolve()) in paths
    assert all(p.phash is not None and p.content_hash for p in engine.index.photos())


def test_unchanged_rescan_reads_nothing_and_never_starts_exiftool(library: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    rescan(db, library)
    s, exif = rescan(db, library)
    assert (s["unchanged"], s["new"], s["changed"], s["photos"]) == (5, 0, 0, 5)
    assert exif.starts == 0


def test_modified_file_is_reread(library: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    rescan(db, library)
    target = library / "day2" / "_MG_2001.jpg"
    with ExifTool() as et:
        et.write_tags(target, {"EXIF:Model": "Canon EOS R6"})
    s, _ = rescan(db, library)
    assert (s["changed"], s["unchanged"], s["new"]) == (1, 4, 0)
    assert show(db, target)["model"] == "Canon EOS R6"


def test_new_or_edited_sidecar_counts_as_change(library: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    rescan(db, library)
    photo = library / "day1" / "IMG_0001.jpg"
    sidecar = write_sidecar(library / "day1" / "IMG_0001.jpg.xmp", city="Marseille")
    s, _ = rescan(db, library)
    assert s["changed"] == 1
    write_sidecar(sidecar, city="Nice")
    os.utime(sidecar, ns=(1, os.stat(sidecar).st_mtime_ns + 1_000_000_000))
    s, _ = rescan(db, library)
    assert s["changed"] == 1
    assert show(db, photo)["city"] == "Nice"


def test_sidecar_only_change_keeps_the_pixel_hash(library: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    rescan(db, library)
    photo = library / "day1" / "IMG_0001.jpg"
    before = show(db, photo)["phash"]
    st = photo.stat()
    data = bytearray(photo.read_bytes())
    data[-2000:-2] = bytes(1998)  # scramble pixel data, same size and mtime: only a rehash would notice
    photo.write_bytes(bytes(data))
    os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns))
    write_sidecar(library / "day1" / "IMG_0001.jpg.xmp", city="Nice")
    s, _ = rescan(db, library)
    assert s["changed"] == 1
    shown = show(db, photo)
    assert shown["city"] == "Nice" and shown["phash"] == before


def test_removed_file_is_noticed(library: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    rescan(db, library)
    gone = library / "day2" / "IMG-20240512-WA0003.jpg"
    gone.unlink()
    s, _ = rescan(db, library)
    assert (s["removed"], s["photos"]) == (1, 4)
    with Engine(Settings(db_path=db)) as eng:
        assert str(gone.resolve()) not in {p.path for p in eng.index.photos(with_errors=True)}


def test_moved_file_keeps_its_row(library: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    rescan(db, library)
    old = (library / "day1" / "IMG_0002.jpg").resolve()
    with Engine(Settings(db_path=db)) as eng:
        row_id = eng.index.photo_by_path(str(old)).id
    new = library / "day2" / "moved" / "IMG_0002.jpg"
    new.parent.mkdir()
    old.rename(new)
    s, exif = rescan(db, library)
    assert (s["new"], s["removed"], s["photos"]) == (0, 0, 5)
    assert exif.starts == 0  # a move is recognised by its fingerprint, not by reading it again
    with Engine(Settings(db_path=db)) as eng:
        assert eng.index.photo_by_path(str(new.resolve())).id == row_id


def test_bad_files_are_reported_not_fatal(library: Path, engine: Engine) -> None:
    bad = make_bad_files(library / "bad")
    s = engine.scan([library])
    assert s["photos"] == 5
    reported = {e["path"]: e["error"] for e in s["errors"]}
    assert set(reported) == {str(p.resolve()) for p in bad.values()}
    assert "empty" in reported[str(bad["zero"].resolve())]
    assert "not an image" in reported[str(bad["text"].resolve())]
    assert "truncated" in reported[str(bad["truncated"].resolve())].lower()
    again = engine.scan([library])  # errors stay listed, and are not reread
    assert again["errors"] == s["errors"] and again["unchanged"] == 9


def test_walk_skips_hidden_and_sidecars_and_survives_symlink_loops(library: Path, engine: Engine) -> None:
    hidden = library / ".thumbnails"
    hidden.mkdir()
    make_stripped(hidden / "thumb.jpg")
    make_stripped(library / "day1" / ".hidden.jpg")
    write_sidecar(library / "day1" / "IMG_0002.jpg.xmp")
    (library / "notes.txt").write_text("not a photo")
    (library / "day1" / "dslr" / "loop").symlink_to(library, target_is_directory=True)
    s = engine.scan([library])
    assert s["photos"] == 5
    assert [e["error"] for e in s["errors"]] == ["symlink loop or second link to a folder already scanned; skipped"]


def test_symlinked_folder_is_followed_with_resolved_paths(library: Path, tmp_path: Path, engine: Engine) -> None:
    outside = tmp_path / "outside"
    make_stripped(outside / "elsewhere.jpg", seed=9)
    (library / "linked").symlink_to(outside, target_is_directory=True)
    s = engine.scan([library])
    assert s["photos"] == 6 and s["errors"] == []
    assert str((outside / "elsewhere.jpg").resolve()) in {p.path for p in engine.index.photos()}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their permissions")
def test_permission_denied_folder_is_reported(library: Path, engine: Engine) -> None:
    locked = library / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        s = engine.scan([library])
    finally:
        locked.chmod(0o755)
    assert {"path": str(locked), "error": "permission denied"} in s["errors"] and s["photos"] == 5


def test_progress_events(library: Path, engine: Engine) -> None:
    events: list[tuple[str, int, int]] = []
    with ExifTool() as exif:
        scan_library(engine.index, exif, [library], progress=lambda *e: events.append(e))
    assert events[0] == ("scan", 0, 5) and events[-1] == ("scan", 5, 5)


def test_single_file_and_missing_path(library: Path, engine: Engine) -> None:
    s = engine.scan([library / "day1" / "IMG_0001.jpg"])
    assert (s["photos"], s["new"]) == (1, 1)
    from metasync.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="no such file"):
        engine.scan([library / "nope"])


def test_corpus_scan(corpus: Path, tmp_path: Path, engine: Engine) -> None:
    """Real camera files (HEIC, DNG, CR2, NEF, broken ones) scan without a crash; known values are read."""
    lib = tmp_path / "corpus"
    shutil.copytree(corpus / "images", lib)
    shutil.copy(corpus / "sidecars" / "digikam" / "20240107_110258.jpg.xmp", lib)
    s = engine.scan([lib])
    n = len(list(lib.glob("*.*"))) - 1  # minus the sidecar
    assert s["new"] == n and s["photos"] + len(s["errors"]) == n
    assert {Path(e["path"]).name for e in s["errors"]} == {"broken_jpeg_corrupted_city.JPG"}
    show = engine.show
    assert show(lib / "nikon_coolpix-p6000_gps_DSCN0010.jpg")["gps_latitude"] == pytest.approx(43.4674, abs=1e-3)
    assert show(lib / "20240107_110258.jpg")["tags"] == ["Výlet", "Travel"]
    assert show(lib / "canon_eos_6d.dng")["phash"] is not None  # from its embedded preview
    assert show(lib / "IMG_5195.HEIC")["model"] == "iPhone 11 Pro Max"
    assert show(lib / "nikon_d70_stripped.nef")["make"] == "NIKON CORPORATION"


def test_scanning_one_file_keeps_the_rest_of_the_index(tmp_path: Path) -> None:
    """Regression: a scan of single files (a plugin's selection) used to drop every other indexed photo."""
    from demokit.library import scenario_phone_and_dslr
    from metasync.config import Settings
    from metasync.engine import Engine

    truth = scenario_phone_and_dslr(tmp_path / "lib")
    with Engine(Settings(db_path=tmp_path / "i.db")) as engine:
        assert engine.scan([truth.root])["photos"] == 2
        one = engine.scan([truth.root / truth.roles["dslr"]])
        assert one["removed"] == 0 and one["unchanged"] == 1
        assert len(engine.index.photos()) == 2


# -- scene features from the hashing pass ------------------------------------------------------------------------
class OwnFeatures:
    """A scene cache that starts empty and keeps what the analyzer computes itself."""

    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def scene_cache_get(self, analyzer: str, keys) -> dict:
        return {}

    def scene_cache_put(self, analyzer: str, items) -> None:
        self.items.update(items)


def test_after_a_scan_scene_analysis_decodes_nothing(library: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    rescan(db, library)
    with Engine(Settings(db_path=db)) as eng:  # a later run, as `suggest` after `scan` is
        photos = eng.index.photos()
        analyzer = LocalAnalyzer(eng.settings, cache=eng.index)
        descriptors = analyzer.describe(photos)
        assert analyzer.computed == 0
        assert len(photos) == 5 and all(d.histogram and d.layout and d.brightness is not None
                                         for d in descriptors.values())


def test_scan_features_are_scene_analysis_own(corpus: Path, tmp_path: Path, engine: Engine) -> None:
    """The features the scan stores equal those scene analysis computes itself from the same file (real camera
    files, plus decodes that take other paths: rotated, 1200x900 DCT scale, grayscale, CMYK, RGBA PNG)."""
    lib = tmp_path / "lib"
    shutil.copytree(corpus / "images", lib)
    exif = Image.Exif()
    exif[0x0112] = 6
    scene_image(21, (1200, 900)).save(lib / "rotated_1200x900.jpg", exif=exif)
    scene_image(22, (640, 480)).convert("L").save(lib / "gray.jpg")
    scene_image(23, (640, 480)).convert("CMYK").save(lib / "cmyk.jpg")
    scene_image(24, (300, 200)).convert("RGBA").save(lib / "alpha.png")
    engine.scan([lib])
    photos = engine.index.photos()
    stored = engine.index.scene_cache_get(LOCAL, [p.content_hash for p in photos])
    pictures = [p for p in photos if Path(p.path).suffix.lower() not in RAW_EXTENSIONS]
    own = OwnFeatures()
    analyzer = LocalAnalyzer(Settings(), cache=own)
    analyzer.describe(pictures)
    assert analyzer.computed == len(pictures) == len(own.items) >= 25
    assert {h: stored.get(h) for h in own.items} == own.items
    # raw files: scene analysis cannot decode them, the scan uses the embedded preview it hashes
    raws = [p.path for p in photos if Path(p.path).suffix.lower() in RAW_EXTENSIONS]
    previews = engine.previews(raws)
    with_preview = [p for p in photos if previews.get(p.path)]
    assert with_preview
    for p in with_preview:
        data, orientation = previews[p.path]
        assert stored[p.content_hash] == pixel_features(np.asarray(thumbnail_image(data, SIZE, orientation)))


def test_every_raw_format_we_write_sidecars_for_is_scanned(tmp_path: Path) -> None:
    from metasync.naming import RAW_EXTENSIONS
    from metasync.scan.walk import walk

    for ext in sorted(RAW_EXTENSIONS):
        (tmp_path / f"shot{ext.upper()}").write_bytes(b"raw")
    found, errors = walk([tmp_path])
    assert not errors
    assert {Path(p).suffix.lower() for p in found} == set(RAW_EXTENSIONS)  # .pef and .srw were left out
