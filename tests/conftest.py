"""Shared fixtures. Generated libraries are made once per session and copied before any write."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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
