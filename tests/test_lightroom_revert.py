"""Lightroom Classic: Revert… takes back in the catalog every value Apply set (GPS, altitude, city, country and the
keywords Apply added, nothing else), and the plug-in calls the SDK's dialogs with the main text first."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from lupa.lua51 import LuaError
from support.bridge import Server

from demokit.library import Truth
from tests.hosts.emulators import LightroomHost

BEFORE = {"gps": {"latitude": 1.25, "longitude": -2.5}, "gpsAltitude": 7, "city": "Oldtown", "country": "Nowhere"}


def state(photo: Any) -> dict[str, Any]:
    gps = photo.raw["gps"]
    return {"gps": None if gps is None else {"latitude": gps.latitude, "longitude": gps.longitude},
            "gpsAltitude": photo.raw["gpsAltitude"], "city": photo.raw["city"], "country": photo.raw["country"]}


def test_revert_restores_what_the_catalog_had(bridge: tuple[Server, Truth]) -> None:
    srv, truth = bridge
    dslr, phone = truth.path("dslr").resolve(), truth.path("phone").resolve()
    want = truth.photo("phone").meta
    host = LightroomHost(dialog_answers=["ok", "ok"])  # preview: Apply; confirm: Revert
    # the catalog already had (wrong) values the user typed in Lightroom, and a keyword of the user's
    photo = host.add_photo(dslr, BEFORE, ["family"])
    host.add_photo(phone)

    host.run_menu("MetasyncSuggest.lua", srv.url, srv.token)
    assert host.dialogs[-1] == ("message", "Applied 1 group(s).", None, "info")
    now = state(photo)
    assert now["gps"]["latitude"] == pytest.approx(want["gps_latitude"], abs=1e-6)
    assert now["city"] != "Oldtown" and now["country"] != "Nowhere"
    assert host.sdk.prefs.last_applied_at > 7e8  # LrDate.currentTime(): seconds since 2001

    host.run_menu("MetasyncRevert.lua", srv.url, srv.token)
    kind, message, info, verb, cancel, other = host.dialogs[-2]
    assert (kind, verb, cancel, other) == ("confirm", "Revert", "Cancel", None)
    assert message.startswith("Revert the last applied metasync suggestions") and "Groups " in info
    assert host.dialogs[-1][:2] == ("message", "Reverted groups 1.")
    assert state(photo) == BEFORE
    assert host.keywords(photo) == {"family"}
    assert not dslr.with_name(dslr.name + ".xmp").exists()
    assert host.sdk.prefs.last_groups == ""

    host.run_menu("MetasyncRevert.lua", srv.url, srv.token)
    assert host.dialogs[-1] == ("message", "metasync: nothing to revert.",
                                "No suggestions were applied since the last revert.", "info")


# -- keywords: a canned bridge whose apply adds tags -------------------------------------------------
class Canned(BaseHTTPRequestHandler):
    path_of_photo = ""

    def log_message(self, *args: Any) -> None:
        pass

    def answer(self, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        p = self.path_of_photo
        if self.path.startswith("/api/metadata-sync/suggestions"):
            self.answer({"suggestions": [{"id": 3, "confidence": 0.95, "band": "high"}]})
        else:
            self.answer({"id": 3, "changes": [{"path": p, "field": "tags", "old": ["family"],
                                                "new": ["family", "beach", "Berlin"], "reason": "same event"}]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        p = self.path_of_photo
        if self.path.endswith("/apply"):
            self.answer({"applied": 3, "files": {p: {"gps_latitude": 52.5, "gps_longitude": 13.35, "gps_altitude": 35,
                                                     "city": "Berlin", "country": "Germany",
                                                     "tags": ["family", "beach", "Berlin"]}}})
        else:
            self.answer({"reverted": 3, "files": {p: {"gps_latitude": None, "gps_longitude": None,
                                                      "city": None, "country": None, "tags": ["family"]}}})


@pytest.fixture()
def canned_bridge(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    photo = tmp_path / "a b.jpg"
    Canned.path_of_photo = str(photo)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", photo
    finally:
        server.shutdown()
        server.server_close()


def test_revert_removes_only_the_keywords_apply_added(canned_bridge: tuple[str, Path]) -> None:
    url, path = canned_bridge
    host = LightroomHost(dialog_answers=["ok", "ok"])
    photo = host.add_photo(path, {"city": "Oldtown"}, ["family", "holiday"])
    host.run_menu("MetasyncSuggest.lua", url, "t")
    assert host.keywords(photo) == {"family", "holiday", "beach", "Berlin"}
    assert photo.raw["city"] == "Berlin"

    host.run_menu("MetasyncRevert.lua", url, "t")
    assert host.keywords(photo) == {"family", "holiday"}  # the user's keywords stay, even one Apply also sent
    removed = sorted(w.value for w in host.sdk.catalog.writes.values() if w.key == "removeKeyword")
    assert removed == ["Berlin", "beach"]
    assert photo.raw["city"] == "Oldtown" and photo.raw["gps"] is None and photo.raw["gpsAltitude"] is None


# -- dialogs and the SDK's rules ---------------------------------------------------------------------
def test_every_dialog_takes_the_message_first(tmp_path: Path) -> None:
    host = LightroomHost()
    host.run_menu("MetasyncSuggest.lua", "http://127.0.0.1:9", "t")  # no photos selected
    assert host.dialogs == [("message", "metasync: select photos first.", None, "info")]


@pytest.mark.parametrize("call", [
    'LrDialogs.message("metasync", "Nothing to revert.", "info")',  # title first: the old mistake
    'LrDialogs.message("text", 3)',
    'LrDialogs.message("text", nil, "loud")',
    'LrDialogs.confirm("metasync", "Revert?", "Revert")',
    'LrDialogs.confirm("Revert?", nil, 1)',
    'LrDialogs.message(nil)',
])
def test_emulated_dialogs_reject_wrong_calls(call: str) -> None:
    host = LightroomHost()
    with pytest.raises(LuaError, match="LrDialogs"):
        host.lua.execute(f'local LrDialogs = import "LrDialogs"; {call}')
    assert host.dialogs == []


def test_no_os_time_in_the_plugin() -> None:
    for path in LightroomHost.PLUGIN.glob("*.lua"):
        assert "os.time" not in path.read_text(), path.name
    host = LightroomHost()
    assert host.lua.eval("os.time") is None  # the emulation takes it away, like a reminder
    assert host.lua.execute('return (import "LrDate").currentTime()') > 7e8


def test_catalog_writes_need_write_access(tmp_path: Path) -> None:
    host = LightroomHost()
    host.add_photo(tmp_path / "a.jpg")
    with pytest.raises(LuaError, match="withWriteAccessDo"):
        host.lua.execute('local c = (import "LrApplication").activeCatalog(); '
                         'c:getTargetPhotos()[1]:setRawMetadata("city", "x")')
