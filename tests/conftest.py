"""Shared fixtures. Generated libraries are made once per session and copied before any write."""
from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest
from support.apply import Library, build_library
from support.bridge import Server, detected
from support.photos import beach_then_dinner

from demokit.library import SCENARIOS, Truth, generate_library
from metasync.models import Photo
from metasync.scan.exif import ExifTool

REPO = Path(__file__).resolve().parent.parent

# metasync's cache (the gazetteer the engine reads from its dataset) goes to a folder of this session, never the
# user's ~/.cache: the default settings.cache_dir, and the CLI and bridge processes the tests start, read
# METASYNC_CACHE_DIR. Set on import, before any test module makes its Settings.
_CACHE_DIR = tempfile.mkdtemp(prefix="metasync-test-cache-")
os.environ["METASYNC_CACHE_DIR"] = _CACHE_DIR


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_CACHE_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The real-world corpus beside the checkout (../shared/corpus, or $METASYNC_CORPUS)."""
    root = Path(os.environ.get("METASYNC_CORPUS", REPO.parent / "shared" / "corpus"))
    if not (root / "MANIFEST.md").exists():
        pytest.skip(f"real-world corpus not found at {root} (set METASYNC_CORPUS)")
    return root


@pytest.fixture()
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "index.db"
    monkeypatch.setenv("METASYNC_DB", str(path))
    return path


# -- generated libraries (demokit.library) ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def exiftool() -> Iterator[ExifTool]:
    """One ExifTool process for the session (generated libraries, apply tests): starting one costs about a second."""
    with ExifTool() as et:
        yield et


@pytest.fixture(scope="session")
def demo_library(tmp_path_factory: pytest.TempPathFactory, exiftool) -> Truth:
    """A small generated library (3 events x 6 photos at 640x480, plus WhatsApp copies), made once per session.

    Read-only: tests that write (sidecars, index next to it) use `library`, a private copy.
    """
    return generate_library(tmp_path_factory.mktemp("demo-library"), seed=7, events=3, photos_per_event=6,
                            size=(640, 480), exiftool=exiftool)


@pytest.fixture()
def library(demo_library: Truth, tmp_path: Path) -> Truth:
    """A private copy of `demo_library` in tmp_path (Truth.root points at the copy)."""
    return demo_library.copy_to(tmp_path / "library")


@pytest.fixture(scope="session")
def _scenario_originals(tmp_path_factory: pytest.TempPathFactory, exiftool) -> Callable[[str], Truth]:
    """Scenario libraries, each generated on first use and kept for the session (never written to)."""
    made: dict[str, Truth] = {}

    def get(name: str) -> Truth:
        if name not in made:
            made[name] = SCENARIOS[name](tmp_path_factory.mktemp(f"scenario-{name}"), exiftool=exiftool)
        return made[name]

    return get


@pytest.fixture()
def scenario(_scenario_originals: Callable[[str], Truth], tmp_path: Path) -> Callable[[str], Truth]:
    """Factory: `scenario("birthday_party")` -> a private copy of that scenario (see demokit.library.SCENARIOS).

    `truth.path("dslr")` is a role's file, `truth.expected` what the engine should conclude.
    """
    made = itertools.count(1)
    return lambda name: _scenario_originals(name).copy_to(tmp_path / f"scenario-{name}-{next(made)}")


def _named_scenario(name: str):
    def fixture(scenario: Callable[[str], Truth]) -> Truth:
        return scenario(name)

    fixture.__doc__ = f"A private copy of scenario {name!r}: {SCENARIOS[name].__doc__.splitlines()[0]}"
    return pytest.fixture(name=name)(fixture)


# one fixture per scenario: phone_and_dslr, birthday_party, paris_london, two_events_same_day, dst_camera
for _name in SCENARIOS:
    globals()[f"_scenario_{_name}"] = _named_scenario(_name)


@pytest.fixture(scope="module")
def two_events(tmp_path_factory: pytest.TempPathFactory) -> list[Photo]:
    """Beach then dinner, time-chained (see support.photos.beach_then_dinner): real files, rows as indexed."""
    return beach_then_dinner(tmp_path_factory.mktemp("two_events"))


@pytest.fixture()
def lib(tmp_path: Path, exiftool: ExifTool) -> Iterator[Library]:
    """The apply tests' library (support.apply.build_library): one source, two targets, one group, in tmp_path."""
    library = build_library(tmp_path / "photos", tmp_path / "index.db", exiftool)
    yield library
    library.close()


@pytest.fixture()
def bridge(phone_and_dslr: Truth, tmp_path: Path) -> Iterator[tuple[Server, Truth]]:
    """Scenario phone_and_dslr behind a real `metasync serve` that has auto-detected it (the plugins' view)."""
    with detected(phone_and_dslr.root, tmp_path) as srv:
        yield srv, phone_and_dslr
