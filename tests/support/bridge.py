"""Helpers shared by the bridge tests: a small generated library and a real `metasync serve` on loopback."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import requests

TOKEN = "test-token-0123456789"

# An exposure edit made in darktable 4.2 (valid exposure v6 params: +0.5 EV; auto presets already applied, so
# darktable keeps this history as it is rather than replacing it with its defaults): a history we must never lose.
DARKTABLE_HISTORY = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:darktable="http://darktable.sf.net/"
    darktable:xmp_version="5" darktable:auto_presets_applied="1" darktable:history_end="1">
   <darktable:history>
    <rdf:Seq>
     <rdf:li darktable:num="0" darktable:operation="exposure" darktable:enabled="1" darktable:modversion="6"
       darktable:params="00000000000000000000003f00004842000080c000000000" darktable:multi_name=""
       darktable:multi_priority="0"/>
    </rdf:Seq>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def photos_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg"})


@dataclass
class Server:
    url: str
    token: str
    proc: subprocess.Popen

    def session(self) -> requests.Session:
        s = requests.Session()
        s.headers["X-Metasync-Token"] = self.token
        return s


@contextmanager
def serve(root: Path, db: Path, config_home: Path, extra: tuple[str, ...] = ()) -> Iterator[Server]:
    """`metasync serve --port 0` in a subprocess; the URL (with the real port and token) is read from stdout."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home), "PYTHONUNBUFFERED": "1"}
    config_home.mkdir(parents=True, exist_ok=True)
    log = config_home / "serve.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "metasync", "serve", "--root", str(root), "--db", str(db),
                                 "--port", "0", *extra], stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            m = re.search(r"(http://[^/\s]+)/\?token=(\S+)", line)
            if m:
                break
            if not line and proc.poll() is not None:
                raise RuntimeError(f"metasync serve exited {proc.returncode}: {log.read_text()}")
        else:
            raise RuntimeError(f"metasync serve printed no URL: {line!r}")
        server = Server(m.group(1), m.group(2), proc)
        while requests.get(server.url + "/api/health", timeout=5).status_code != 200:
            time.sleep(0.05)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def detected(root: Path, tmp_path: Path) -> Iterator[Server]:
    """A bridge over `root` whose user has pointed metasync at the library once (dashboard auto-detect)."""
    with serve(root, tmp_path / "index.db", tmp_path / "config") as srv:
        resp = srv.session().post(srv.url + "/api/metadata-sync/auto-detect", json={"path": str(root)}, timeout=60)
        assert resp.status_code == 200, resp.text
        yield srv
