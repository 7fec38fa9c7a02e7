"""The same essentials against the real server: `metasync serve` (waitress) in a subprocess on a loopback port."""
from __future__ import annotations

import http.client
import os
import stat
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from support.bridge import photos_under, serve

from demokit.library import generate_library


@pytest.fixture(scope="module")
def server(demo_library, tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("served")
    lib = demo_library.copy_to(base / "library").root
    with serve(lib, base / "index.db", base / "config") as srv:
        srv.lib, srv.config = lib, base / "config"
        yield srv


def raw_request(server, method: str, path: str, headers: dict[str, str], body: bytes | None = None):
    """http.client, so the Host header is sent exactly as given (requests would normalise it)."""
    u = urlsplit(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_serve_prints_the_url_with_the_token_it_stored(server):
    token_file = server.config / "metasync" / "token"
    assert token_file.read_text().strip() == server.token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert urlsplit(server.url).hostname == "127.0.0.1"
    page = requests.get(f"{server.url}/?token={server.token}", timeout=10)
    assert page.status_code == 200 and server.token in page.text
    assert requests.get(server.url + "/", timeout=10).status_code == 401


def test_token_missing_or_wrong_is_401(server):
    assert requests.get(server.url + "/api/health", timeout=10).json()["status"] == "ok"
    for headers in ({}, {"X-Metasync-Token": "wrong"}):
        resp = requests.get(server.url + "/api/metadata-sync/groups", headers=headers, timeout=10)
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized"


def test_foreign_host_is_403(server):
    port = urlsplit(server.url).port
    status, body = raw_request(server, "GET", "/api/health", {"Host": f"evil.example:{port}"})
    assert status == 403 and b"forbidden_host" in body
    status, _ = raw_request(server, "GET", "/api/health", {"Host": f"localhost:{port}"})
    assert status == 200


def test_foreign_origin_write_is_403(server):
    resp = server.session().post(server.url + "/api/metadata-sync/auto-detect", json={"path": str(server.lib)},
                                 headers={"Origin": "http://evil.example"}, timeout=10)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden_origin"


def test_dotdot_and_symlink_escapes_are_403(server, tmp_path):
    s = server.session()
    resp = s.get(server.url + "/api/files/thumbnail", params={"path": f"{server.lib}/../../etc/passwd"}, timeout=10)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "outside_library"
    (tmp_path / "secret.jpg").write_bytes(photos_under(server.lib)[0].read_bytes())
    link = server.lib / "escape.jpg"
    link.symlink_to(tmp_path / "secret.jpg")
    try:
        resp = s.get(server.url + "/api/files/thumbnail", params={"path": str(link)}, timeout=10)
        assert resp.status_code == 403
    finally:
        link.unlink()


def test_malformed_and_oversized_bodies(server):
    s = server.session()
    resp = s.post(server.url + "/api/metadata-sync/groups", data=b"{nope", timeout=10,
                  headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and "malformed JSON" in resp.json()["error"]["message"]
    resp = s.post(server.url + "/api/metadata-sync/groups", data=b"x" * (2 << 20), timeout=10,
                  headers={"Content-Type": "application/json"})
    assert resp.status_code == 413


def test_thumbnail_over_http(server):
    resp = server.session().get(server.url + "/api/files/thumbnail",
                                params={"path": str(photos_under(server.lib)[0]), "size": 64}, timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/jpeg" and resp.content[:2] == b"\xff\xd8"


def test_detect_apply_revert_over_http(server):
    s, url = server.session(), server.url + "/api/metadata-sync"
    started = s.post(url + "/auto-detect", json={"path": str(server.lib), "background": True}, timeout=10)
    assert started.status_code == 202
    job = started.json()["job"]
    deadline = time.monotonic() + 60
    while job["status"] not in {"done", "failed"} and time.monotonic() < deadline:
        time.sleep(0.1)
        job = s.get(f"{server.url}/api/jobs/{job['id']}", timeout=10).json()
    assert job["status"] == "done", job
    group = job["result"]["suggestions"][0]
    detail = s.get(f"{url}/groups/{group['id']}", timeout=10).json()
    target = Path(detail["changes"][0]["path"])
    sidecar = target.with_name(target.name + ".xmp")
    before = sidecar.read_bytes() if sidecar.exists() else None
    applied = s.post(f"{url}/groups/{group['id']}/apply", json={}, timeout=30)
    assert applied.status_code == 200, applied.text
    assert sidecar.exists() and sidecar.read_bytes() != before
    assert s.post(f"{url}/groups/{group['id']}/apply", json={}, timeout=30).status_code in (200, 409)
    reverted = s.post(f"{url}/groups/{group['id']}/revert", json={}, timeout=30)
    assert reverted.status_code == 200, reverted.text
    assert (sidecar.read_bytes() if sidecar.exists() else None) == before
    assert s.post(f"{url}/groups/{group['id']}/revert", json={}, timeout=30).status_code == 409
    assert s.delete(f"{url}/groups/{group['id']}", timeout=10).status_code == 200
    assert s.get(f"{url}/groups/{group['id']}", timeout=10).status_code == 404


@pytest.mark.slow
def test_group_detail_latency_for_50_photos(tmp_path):
    """Benchmark (prints, asserts nothing about time): GET /groups/{id} of a 50-photo group on waitress.
    A light run by default; METASYNC_BENCH_REQUESTS=200 for the numbers worth reporting."""
    lib = generate_library(tmp_path / "library", seed=3, events=1, photos_per_event=50, whatsapp_per_event=0,
                           size=(320, 240)).root
    n = int(os.environ.get("METASYNC_BENCH_REQUESTS", "30"))
    with serve(lib, tmp_path / "index.db", tmp_path / "config") as srv:
        s = srv.session()
        assert s.post(srv.url + "/api/metadata-sync/auto-detect", json={"path": str(lib)}, timeout=120).ok
        files = [str(p) for p in photos_under(lib)][:50]
        assert len(files) == 50
        made = s.post(srv.url + "/api/metadata-sync/groups", json={"files": files}, timeout=60)
        assert made.status_code == 201, made.text
        url = f"{srv.url}/api/metadata-sync/groups/{made.json()['id']}"
        s.get(url, timeout=30)  # warm-up
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            resp = s.get(url, timeout=30)
            times.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200
        times.sort()
        p50, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
        print(f"\nGET /api/metadata-sync/groups/{{id}} (50 photos, {len(resp.json()['changes'])} changes), "
              f"{n} requests: p50 {p50:.1f} ms, p95 {p95:.1f} ms (load average {os.getloadavg()[0]:.1f})")
