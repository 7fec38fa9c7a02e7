"""Which sidecar a photo gets: the existing one always wins; never two for one photo."""
from __future__ import annotations

from pathlib import Path

import pytest

from metasync.naming import find_existing_sidecar, sidecar_path_for


@pytest.mark.parametrize("name, naming, host, expected", [
    pytest.param("a.jpg", "ext", None, "a.jpg.xmp", id="darktable-digikam-default"),
    pytest.param("a.jpg", "base", None, "a.xmp", id="configured-base"),
    pytest.param("a.CR2", "ext", "lightroom", "a.xmp", id="lightroom-raw"),
    pytest.param("a.jpg", "ext", "lightroom", "a.jpg.xmp", id="lightroom-jpeg-keeps-default"),
    pytest.param("a.NEF", "ext", "darktable", "a.NEF.xmp", id="darktable-raw"),
])
def test_new_sidecar_name(tmp_path: Path, name: str, naming: str, host: str | None, expected: str) -> None:
    assert sidecar_path_for(tmp_path / name, naming, host) == tmp_path / expected


@pytest.mark.parametrize("existing", ["a.jpg.xmp", "a.xmp", "a.JPG.XMP"])
def test_existing_sidecar_wins_whatever_the_setting(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_text("<x/>")
    photo = tmp_path / ("a.JPG" if "JPG" in existing else "a.jpg")
    assert find_existing_sidecar(photo) == tmp_path / existing
    for naming, host in (("ext", None), ("base", None), ("ext", "lightroom")):
        assert sidecar_path_for(photo, naming, host) == tmp_path / existing
