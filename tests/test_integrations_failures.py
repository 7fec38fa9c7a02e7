"""Host plugins under emulated hosts: loading, and every failure path shown as one clear message."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from lupa import lua51

from tests.hosts.emulators import INTEGRATIONS, DarktableHost, LightroomHost


class CannedHandler(BaseHTTPRequestHandler):
    """Answers every request with the server's canned (status, body)."""

    def _answer(self) -> None:
        status, body = self.server.canned  # type: ignore[attr-defined]
        self.server.seen.append((self.command, self.path, self.headers.get("X-Metasync-Token")))  # type: ignore
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def canned() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), CannedHandler)
    server.canned = (200, "[]")  # type: ignore[attr-defined]
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def url_of(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


FAILURES = [
    pytest.param((401, '{"error": {"code": "unauthorized", "message": "bad token"}}'), "token", id="401"),
    pytest.param((500, '{"error": {"code": "internal", "message": "boom"}}'), "boom", id="500"),
    pytest.param((200, "{not json"), "unreadable", id="malformed-json"),
    pytest.param((200, "[]"), "nothing to suggest", id="no-suggestions"),
]


# -- darktable ------------------------------------------------------------------------------------
def test_darktable_plugin_registers_module_and_needs_a_selection(tmp_path: Path) -> None:
    host = DarktableHost(tmp_path)
    script = host.load_plugin("http://127.0.0.1:9", "t")
    assert script.metadata.name == "metasync"
    assert script.destroy_method == "hide"
    host.click("Suggest")
    assert host.messages[-1] == "select photos first"
    assert host.commands == []  # no HTTP without a selection


@pytest.mark.parametrize("answer, expected", FAILURES)
def test_darktable_failure_paths(tmp_path: Path, canned: ThreadingHTTPServer, answer: tuple[int, str],
                                 expected: str) -> None:
    canned.canned = answer  # type: ignore[attr-defined]
    host = DarktableHost(tmp_path)
    host.load_plugin(url_of(canned), "secret")
    host.add_image(tmp_path / "a.jpg")
    host.click("Suggest")
    assert expected in host.messages[-1].lower()
    assert "stack traceback" not in host.messages[-1]
    assert canned.seen[0][2] == "secret"  # type: ignore[attr-defined]
    assert canned.seen[0][1].startswith("/api/metadata-sync/suggestions?path=")  # type: ignore[attr-defined]
    assert not list(tmp_path.glob("metasync-*"))  # temp files cleaned up


def test_darktable_bridge_down(tmp_path: Path) -> None:
    host = DarktableHost(tmp_path)
    host.load_plugin(closed_port_url(), "t")
    host.add_image(tmp_path / "a.jpg")
    host.click("Suggest")
    assert "not running" in host.messages[-1] and "metasync serve" in host.messages[-1]


# -- Lightroom ------------------------------------------------------------------------------------
def test_lightroom_info_lua() -> None:
    info = LightroomHost().info()
    assert info.LrToolkitIdentifier == "dev.metasync.lightroom"
    assert info.LrPluginName == "metasync"
    assert info.LrSdkVersion >= 6
    items = [info.LrLibraryMenuItems[i] for i in (1, 2)]
    assert [i.title for i in items] == ["metasync: Suggest…", "metasync: Revert last…"]
    for item in items:
        assert (LightroomHost.PLUGIN / item.file).is_file()


@pytest.mark.parametrize("path", sorted(LightroomHost.PLUGIN.glob("*.lua")) + sorted((INTEGRATIONS / "lua").glob("*.lua")),
                         ids=lambda p: p.name)
def test_lightroom_files_are_lua51(path: Path) -> None:
    lua = lua51.LuaRuntime()
    ok, err = lua.eval("function(src, name) local f, e = loadstring(src, name); return f ~= nil, e end")(
        path.read_text(), path.name)
    assert ok, err


@pytest.mark.parametrize("answer, expected", FAILURES)
def test_lightroom_failure_paths(tmp_path: Path, canned: ThreadingHTTPServer, answer: tuple[int, str],
                                 expected: str) -> None:
    canned.canned = answer  # type: ignore[attr-defined]
    host = LightroomHost()
    host.add_photo(tmp_path / "a.jpg")
    host.run_menu("MetasyncSuggest.lua", url_of(canned), "secret")
    kind, text = host.messages[-1]
    assert kind == "message" and expected in text.lower()
    assert canned.seen[0][2] == "secret"  # type: ignore[attr-defined]


def test_lightroom_bridge_down(tmp_path: Path) -> None:
    host = LightroomHost()
    host.add_photo(tmp_path / "a.jpg")
    host.run_menu("MetasyncSuggest.lua", closed_port_url(), "t")
    assert "not running" in host.messages[-1][1]


# -- digiKam --------------------------------------------------------------------------------------
BQM = INTEGRATIONS / "digikam" / "metasync-bqm.sh"


def run_bqm(tmp_path: Path, url: str) -> subprocess.CompletedProcess[str]:
    src = tmp_path / "in.jpg"
    src.write_bytes(b"\xff\xd8fake")
    env = dict(os.environ, INPUT=str(src), OUTPUT=str(tmp_path / "out.jpg"), METASYNC_URL=url, METASYNC_TOKEN="t")
    return subprocess.run(["bash", str(BQM)], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("answer, expected", FAILURES[:3])
def test_digikam_failure_paths(tmp_path: Path, canned: ThreadingHTTPServer, answer: tuple[int, str],
                               expected: str) -> None:
    canned.canned = answer  # type: ignore[attr-defined]
    proc = run_bqm(tmp_path, url_of(canned))
    assert proc.returncode != 0
    assert expected in proc.stderr.lower()
    assert not (tmp_path / "out.jpg").exists()


def test_digikam_nothing_to_suggest_still_copies(tmp_path: Path, canned: ThreadingHTTPServer) -> None:
    proc = run_bqm(tmp_path, url_of(canned))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.jpg").read_bytes() == b"\xff\xd8fake"


def test_digikam_bridge_down(tmp_path: Path) -> None:
    proc = run_bqm(tmp_path, closed_port_url())
    assert proc.returncode != 0 and "not reachable" in proc.stderr


@pytest.mark.parametrize("host, plugin_dir", [("darktable", "."), ("lightroom", "metasync.lrplugin")])
def test_plugin_install_copies_everything_the_plugin_requires(tmp_path: Path, host: str, plugin_dir: str) -> None:
    from metasync.plugins import install

    done = install(host, tmp_path)
    installed = {p.name for p in (tmp_path / plugin_dir).iterdir()}
    # darktable's script manager offers every *.lua under lua/ as a script: its helpers are *.lua.inc
    ext = ".lua.inc" if host == "darktable" else ".lua"
    assert {f"metasync_json{ext}", f"metasync_answer{ext}"} <= installed
    if host == "darktable":
        assert [p.name for p in tmp_path.rglob("*.lua")] == ["metasync.lua"]
    for path in done.files:
        for required in re.findall(r'require "([\w_]+)"', path.read_text()):
            if required not in ("darktable", "lib/dtutils"):
                assert f"{required}{ext}" in installed, (path.name, required)
