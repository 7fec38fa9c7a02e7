"""digiKam's Batch Queue Manager runs the Custom Script exactly as shared/hosts/digikam/userscript.cpp does:
`$INPUT`/`$OUTPUT` replaced by the path wrapped in double quotes, then `/bin/sh -c LINE` (newer digiKam: bash).
The line `metasync plugin install digikam` prints must survive that for paths with spaces, a single quote and
non-ASCII, against a real `metasync serve`."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest
from support.bridge import Server, serve

from demokit.library import Truth
from metasync.plugins import install
from tests.hosts.emulators import INTEGRATIONS

USERSCRIPT = INTEGRATIONS.parents[1] / "shared" / "hosts" / "digikam" / "userscript.cpp"
SHELLS = [s for s in ("/bin/sh", "/bin/bash") if Path(s).exists()]
# space, single quote, non-ASCII (NFC and a combining accent) in the folder every photo lives in
AWKWARD = "Été 2024 d'Ana – Ålesund"


def substitute(line: str, input_path: Path, output_path: Path) -> str:
    """userscript.cpp: script.replace("$INPUT", '"' + input + '"') and the same for $OUTPUT (case sensitive)."""
    if USERSCRIPT.is_file():  # keep this reimplementation honest: the rule is still what digiKam does
        src = USERSCRIPT.read_text(encoding="utf-8", errors="replace")
        assert re.search(r'script\.replace\(QLatin1String\("\$INPUT"\),\s*QLatin1Char\(\'"\'\)\s*\+', src), \
            "digiKam's $INPUT substitution changed"
        assert 'QLatin1String("/bin/sh")' in src and "waitForFinished(60000)" in src
    return line.replace("$INPUT", f'"{input_path}"').replace("$OUTPUT", f'"{output_path}"')


def digikam_run(shell: str, line: str, input_path: Path, output_path: Path, env: dict[str, str]
                ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([shell, "-c", substitute(line, input_path, output_path)], env=env, capture_output=True,
                          text=True, timeout=60)  # digiKam's own limit per image


def installed_line(dest: Path) -> str:
    steps = install("digikam", dest).next_steps
    m = re.search(r"script: (.+? \$INPUT \$OUTPUT)", steps)
    assert m, steps
    return m.group(1)


def exiv2_xmp(sidecar: Path) -> dict[str, str]:
    proc = subprocess.run(["exiv2", "-PXkv", str(sidecar)], capture_output=True, text=True, timeout=30)
    out: dict[str, str] = {}
    for row in proc.stdout.splitlines():
        key, _, value = row.partition(" ")
        out[key] = value.strip()
    return out


def dms_to_deg(text: str) -> float:
    """XMP GPS coordinate "51,30.123456N" or "51,30,7.4N" -> degrees."""
    m = re.fullmatch(r"(\d+),(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?([NSEW])", text)
    assert m, text
    deg = int(m.group(1)) + float(m.group(2)) / 60 + float(m.group(3) or 0) / 3600
    return -deg if m.group(4) in "SW" else deg


@pytest.fixture()
def awkward_library(_scenario_originals: Callable[[str], Truth], tmp_path: Path) -> Truth:
    return _scenario_originals("phone_and_dslr").copy_to(tmp_path / AWKWARD / "library")


@contextmanager
def start(truth: Truth, tmp_path: Path, naming: str) -> Iterator[Server]:
    extra: tuple[str, ...] = ()
    if naming == "base":
        cfg = tmp_path / "settings.toml"
        cfg.write_text('sidecar_naming = "base"\n', encoding="utf-8")
        extra = ("--config", str(cfg))
    with serve(truth.root, tmp_path / "index.db", tmp_path / "config", extra) as srv:
        resp = srv.session().post(srv.url + "/api/metadata-sync/auto-detect", json={"path": str(truth.root)},
                                  timeout=60)
        assert resp.status_code == 200, resp.text
        yield srv


@pytest.mark.skipif(not SHELLS, reason="no /bin/sh")
@pytest.mark.parametrize("naming", ["ext", "base"])
def test_bqm_line_as_digikam_runs_it(awkward_library: Truth, tmp_path: Path, naming: str) -> None:
    truth = awkward_library
    # the script itself installed under a folder with a space (macOS-like "Application Support")
    line = installed_line(tmp_path / "Application Support" / "metasync digikam")
    assert line.endswith(" $INPUT $OUTPUT") and '"$INPUT"' not in line
    dslr = truth.path("dslr").resolve()
    phone_meta = truth.photo("phone").meta
    with start(truth, tmp_path, naming) as srv:
        env = dict(os.environ, METASYNC_URL=srv.url, METASYNC_TOKEN=srv.token, METASYNC_MIN_CONFIDENCE="0.5")
        env.pop("INPUT", None), env.pop("OUTPUT", None)
        stdouts = []
        for i, shell in enumerate(SHELLS):
            # BQM's temp output in the target album: same awkward folder, its own awkward name
            out = dslr.parent / f"BatchTool-{i} l'été.digikamtempfile.JPG"
            proc = digikam_run(shell, line, dslr, out, env)
            assert proc.returncode == 0, (shell, proc.stderr)
            assert out.read_bytes() == dslr.read_bytes(), shell
            out.unlink()
            stdouts.append(proc.stdout)
        assert "applied" in stdouts[0], stdouts  # the first run applies; a second one finds nothing left to do

    sidecar = dslr.with_name(dslr.name + ".xmp") if naming == "ext" else dslr.with_suffix(".xmp")
    other = dslr.with_suffix(".xmp") if naming == "ext" else dslr.with_name(dslr.name + ".xmp")
    assert sidecar.is_file(), sorted(p.name for p in dslr.parent.iterdir())
    assert not other.exists()
    text = sidecar.read_text(encoding="utf-8")
    assert "GPSLatitude" in text and "GPSLongitude" in text

    if shutil.which("exiv2") is None:
        pytest.skip("exiv2 is not installed: sidecar not cross-checked with exiv2")
    got = exiv2_xmp(sidecar)
    assert dms_to_deg(got["Xmp.exif.GPSLatitude"]) == pytest.approx(phone_meta["gps_latitude"], abs=1e-5)
    assert dms_to_deg(got["Xmp.exif.GPSLongitude"]) == pytest.approx(phone_meta["gps_longitude"], abs=1e-5)


@pytest.mark.skipif(not SHELLS, reason="no /bin/sh")
@pytest.mark.parametrize("shell", SHELLS)
def test_bqm_bridge_down_fails_with_one_line(tmp_path: Path, shell: str) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tmp_path / AWKWARD
    folder.mkdir()
    src = folder / "a b'c.jpg"
    src.write_bytes(b"\xff\xd8fake")
    out = folder / "out l'été.jpg"
    env = dict(os.environ, METASYNC_URL=f"http://127.0.0.1:{port}", METASYNC_TOKEN="t")
    env.pop("INPUT", None), env.pop("OUTPUT", None)
    proc = digikam_run(shell, installed_line(tmp_path / "inst"), src, out, env)
    assert proc.returncode != 0
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "not reachable" in lines[0], proc.stderr
    assert not out.exists()


def test_bqm_still_reads_environment(tmp_path: Path) -> None:
    """Older setups passed INPUT/OUTPUT in the environment: still accepted when there are no arguments."""
    proc = subprocess.run(["bash", str(INTEGRATIONS / "digikam" / "metasync-bqm.sh")],
                          env=dict(os.environ, INPUT=str(tmp_path / "missing.jpg"), OUTPUT=str(tmp_path / "o.jpg")),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and proc.stderr.strip() == f"metasync: no such file: {tmp_path / 'missing.jpg'}"


def test_bqm_wrongly_quoted_line_fails_clearly(tmp_path: Path) -> None:
    """The old advice `INPUT="$INPUT" ...` under digiKam's quoting splits a path with a space: one clear line."""
    src = tmp_path / "a b.jpg"
    src.write_bytes(b"\xff\xd8")
    line = f'INPUT="$INPUT" OUTPUT="$OUTPUT" {INTEGRATIONS / "digikam" / "metasync-bqm.sh"}'
    proc = digikam_run("/bin/sh", line, src, tmp_path / "o.jpg", dict(os.environ))
    assert proc.returncode != 0
