"""The three host plugins end to end against the real bridge (`metasync serve` on loopback) over a generated
library: Suggest → preview → Apply → the host sees the new values → Revert → the old values are back."""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests
from support.bridge import DARKTABLE_HISTORY, Server

from demokit.library import Truth
from metasync.scan.exif import ExifTool
from tests.hosts.emulators import INTEGRATIONS, DarktableHost, LightroomHost


def sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def photo(truth: Truth, role: str) -> Path:
    return (truth.root / truth.roles[role]).resolve()


# -- darktable --------------------------------------------------------------------------------------
DARKTABLE_REWRITE = DARKTABLE_HISTORY


def darktable_rewrite(sidecar: Path, lat: float, lon: float) -> None:
    """What darktable does when it syncs its database to the sidecar: it re-reads the file, replaces its own
    keys (history) and writes GPS from its database in its own "%d,%08f" form; foreign keys survive."""
    text = sidecar.read_text(encoding="utf-8")

    def dt_gps(value: float, pos: str, neg: str) -> str:
        deg = int(abs(value))
        return f"{deg},{(abs(value) - deg) * 60:08f}{pos if value >= 0 else neg}"

    text = re.sub(r'exif:GPSLatitude="[^"]*"', f'exif:GPSLatitude="{dt_gps(lat, "N", "S")}"', text)
    text = re.sub(r'exif:GPSLongitude="[^"]*"', f'exif:GPSLongitude="{dt_gps(lon, "E", "W")}"', text)
    history = DARKTABLE_REWRITE.split("<rdf:Description", 1)[1].split("</rdf:Description>", 1)[0]
    text = text.replace("</rdf:RDF>", "<rdf:Description" + history + "</rdf:Description>\n </rdf:RDF>", 1)
    sidecar.write_text(text, encoding="utf-8")


def test_darktable_suggest_apply_rewrite_revert(bridge: tuple[Server, Truth], tmp_path: Path) -> None:
    srv, truth = bridge
    phone, dslr = photo(truth, "phone"), photo(truth, "dslr")
    sidecar = dslr.with_name(dslr.name + ".xmp")
    assert not sidecar.exists()

    host = DarktableHost(tmp_path)
    host.load_plugin(srv.url, srv.token)
    image = host.add_image(dslr, {"exif_maker": "Canon"})
    host.add_image(phone, {"latitude": truth.photo(truth.roles["phone"]).meta["gps_latitude"]})

    host.click("Suggest")
    assert "gps_latitude" in host.text and "_MG_1234.JPG" in host.text
    assert "review, then Apply" in host.messages[-1]

    host.click("Apply")
    assert host.messages[-1].startswith("applied: ")
    assert sidecar.exists()
    want = truth.photo(truth.roles["phone"]).meta
    writes = {(img, key): value for img, key, value in host.writes()}
    assert writes[(dslr.name, "latitude")] == pytest.approx(want["gps_latitude"], abs=1e-6)
    assert writes[(dslr.name, "longitude")] == pytest.approx(want["gps_longitude"], abs=1e-6)
    assert image.latitude == pytest.approx(want["gps_latitude"], abs=1e-6)
    history = srv.session().get(srv.url + "/api/files/history", params={"path": str(dslr)}, timeout=10).json()
    assert history  # the apply is in the journal

    # darktable syncs its (updated) database into the sidecar: adds its history, rewrites GPS in its own form
    darktable_rewrite(sidecar, image.latitude, image.longitude)
    with ExifTool() as et:
        assert et.read_metadata([dslr])[str(dslr)].gps_latitude == pytest.approx(want["gps_latitude"], abs=1e-5)

    host.click("Revert")
    assert host.messages[-1].startswith("reverted: ")
    # the host's history survives our revert; our GPS is gone again
    text = sidecar.read_text(encoding="utf-8") if sidecar.exists() else ""
    assert 'darktable:operation="exposure"' in text
    assert "GPSLatitude" not in text
    assert image.latitude != image.latitude  # NaN: darktable's way of clearing GPS


def test_darktable_prefers_apply_sidecar_when_available(bridge: tuple[Server, Truth], tmp_path: Path) -> None:
    srv, truth = bridge
    dslr = photo(truth, "dslr")
    host = DarktableHost(tmp_path, api_version="9.5.0")
    host.load_plugin(srv.url, srv.token)
    host.add_image(dslr, apply_sidecar=True)
    host.add_image(photo(truth, "phone"))
    host.click("Suggest")
    host.click("Apply")
    keys = [key for img, key, _ in host.writes() if img == dslr.name]
    assert keys == ["apply_sidecar"]  # re-read the sidecar, no field-by-field writes


# -- Lightroom Classic -------------------------------------------------------------------------------
def test_darktable_api_9_0_falls_back_to_field_writes(bridge: tuple[Server, Truth], tmp_path: Path) -> None:
    """darktable 4.2 (API 9.0) has no image:apply_sidecar and raises on reading it: the values still arrive."""
    srv, truth = bridge
    dslr = photo(truth, "dslr")
    host = DarktableHost(tmp_path, api_version="9.0.0")
    host.load_plugin(srv.url, srv.token)
    image = host.add_image(dslr)
    host.add_image(photo(truth, "phone"))
    with pytest.raises(Exception, match='field "apply_sidecar" not found for type dt_lua_image_t'):
        host.lua.eval("function(i) return i.apply_sidecar end")(image)
    host.click("Suggest")
    host.click("Apply")
    assert host.messages[-1].startswith("applied: ")
    want = truth.photo(truth.roles["phone"]).meta
    keys = {key for img, key, _ in host.writes() if img == dslr.name}
    assert "apply_sidecar" not in keys and {"latitude", "longitude"} <= keys
    assert image.latitude == pytest.approx(want["gps_latitude"], abs=1e-6)
    assert image.longitude == pytest.approx(want["gps_longitude"], abs=1e-6)


def test_lightroom_suggest_apply_revert(bridge: tuple[Server, Truth]) -> None:
    srv, truth = bridge
    phone, dslr = photo(truth, "phone"), photo(truth, "dslr")
    host = LightroomHost(dialog_answers=["ok", "ok"])  # preview dialog: Apply; revert confirm: Revert
    host.add_photo(dslr)
    host.add_photo(phone)

    host.run_menu("MetasyncSuggest.lua", srv.url, srv.token)
    modal = [text for kind, text in host.messages if kind == "modal"]
    assert modal and "gps_latitude" in modal[0] and "_MG_1234.JPG" in modal[0]
    assert host.messages[-1][1].startswith("Applied 1 group")
    writes = [(w.path, w.key, w.value) for w in host.sdk.catalog.writes.values()]
    gps = [v for p, k, v in writes if p == str(dslr) and k == "gps"]
    want = truth.photo(truth.roles["phone"]).meta
    assert gps and gps[-1].latitude == pytest.approx(want["gps_latitude"], abs=1e-6)
    # Lightroom ignores photo.jpg.xmp for JPEGs; the sidecar is still written for the other hosts
    assert dslr.with_name(dslr.name + ".xmp").exists()

    host.run_menu("MetasyncRevert.lua", srv.url, srv.token)
    assert host.messages[-1][1].startswith("Reverted groups")
    writes = [(w.path, w.key, w.value) for w in host.sdk.catalog.writes.values()]
    assert [v for p, k, v in writes if p == str(dslr) and k == "gps"][-1] is None
    assert not dslr.with_name(dslr.name + ".xmp").exists()


def test_lightroom_tells_the_capture_time_shift() -> None:
    host = LightroomHost()
    client = host.lua.execute('return require "MetasyncClient"')
    assert client.shift_text("2024-05-12T15:06:27", "2024-05-12T14:03:07") == "shift by −1:03:20"
    assert client.shift_text("2024-05-12T14:03:07", "2024-05-12T14:03:37") == "shift by +0:00:30"


# -- digiKam ---------------------------------------------------------------------------------------
def test_digikam_bqm_applies_and_copies(bridge: tuple[Server, Truth], tmp_path: Path) -> None:
    srv, truth = bridge
    dslr = photo(truth, "dslr")
    out = tmp_path / "BatchTool-1.digikamtempfile.JPG"
    env = dict(os.environ, INPUT=str(dslr), OUTPUT=str(out), METASYNC_URL=srv.url, METASYNC_TOKEN=srv.token,
               METASYNC_MIN_CONFIDENCE="0.5")
    before = sha(dslr)
    proc = subprocess.run(["bash", str(INTEGRATIONS / "digikam" / "metasync-bqm.sh")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "applied" in proc.stdout
    assert sha(out) == before == sha(dslr)  # the original is untouched, BQM gets its copy
    with ExifTool() as et:
        got = et.read_metadata([dslr])[str(dslr)]
    assert got.gps_latitude == pytest.approx(truth.photo(truth.roles["phone"]).meta["gps_latitude"], abs=1e-5)


def test_digikam_wrong_token_stops_the_queue(bridge: tuple[Server, Truth], tmp_path: Path) -> None:
    srv, truth = bridge
    env = dict(os.environ, INPUT=str(photo(truth, "dslr")), OUTPUT=str(tmp_path / "o.jpg"), METASYNC_URL=srv.url,
               METASYNC_TOKEN="wrong")
    proc = subprocess.run(["bash", str(INTEGRATIONS / "digikam" / "metasync-bqm.sh")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "token" in proc.stderr
    assert requests.get(srv.url + "/api/health", timeout=5).status_code == 200
