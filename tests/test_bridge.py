"""The bridge through Flask's test client: every endpoint, every error code, and every security check."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from PIL import Image
from support.bridge import DARKTABLE_HISTORY, TOKEN, photos_under

from metasync.bridge import close_app, create_app
from metasync.bridge.security import load_or_create_token
from metasync.config import Settings

AUTH = {"X-Metasync-Token": TOKEN}


@pytest.fixture()
def lib(library) -> Path:
    return library.root


@pytest.fixture()
def app(lib: Path, tmp_path: Path):
    app = create_app(Settings(db_path=tmp_path / "index.db", library_roots=(lib,)), token=TOKEN,
                     background_above=1000)
    yield app
    close_app(app)


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory):
    """One client over an empty library for the checks that never reach a photo (they change nothing)."""
    base = tmp_path_factory.mktemp("bare")
    (base / "empty").mkdir()
    app = create_app(Settings(db_path=base / "index.db", library_roots=(base / "empty",)), token=TOKEN)
    yield app.test_client()
    close_app(app)


def get(client, url, **kw):
    return client.get(url, headers={**AUTH, **kw.pop("headers", {})}, **kw)


def post(client, url, body=None, **kw):
    data = kw.pop("data", None)
    return client.post(url, headers={**AUTH, **kw.pop("headers", {})},
                       data=data if data is not None else json.dumps(body if body is not None else {}),
                       content_type="application/json", **kw)


def error_code(resp) -> str:
    assert resp.is_json, resp.data[:200]
    return resp.get_json()["error"]["code"]


def detect(client, lib: Path) -> list[dict]:
    resp = post(client, "/api/metadata-sync/auto-detect", {"path": str(lib)})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["suggestions"]


# -- token --------------------------------------------------------------------------------------------------
def test_token_is_created_once_with_mode_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    first = load_or_create_token()
    path = tmp_path / "cfg" / "metasync" / "token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32 and load_or_create_token() == first
    os.chmod(path, 0o644)
    assert load_or_create_token() == first and stat.S_IMODE(path.stat().st_mode) == 0o600


PROTECTED = [("GET", "/api/metadata-sync/groups"), ("POST", "/api/metadata-sync/groups"),
             ("GET", "/api/metadata-sync/groups/1"), ("DELETE", "/api/metadata-sync/groups/1"),
             ("POST", "/api/metadata-sync/groups/1/apply"), ("POST", "/api/metadata-sync/groups/1/revert"),
             ("GET", "/api/metadata-sync/suggestions"), ("POST", "/api/metadata-sync/auto-detect"),
             ("GET", "/api/jobs/abc"), ("GET", "/api/files/history?path=x"),
             ("GET", "/api/files/thumbnail?path=x"), ("GET", "/api/files"), ("GET", "/api/openapi.json"),
             ("GET", "/api/no-such-thing")]


@pytest.mark.parametrize("method,url", PROTECTED, ids=[f"{m} {u}" for m, u in PROTECTED])
@pytest.mark.parametrize("token", [None, "wrong", TOKEN[:-1]], ids=["missing", "wrong", "prefix"])
def test_every_endpoint_but_health_needs_the_token(bare, method, url, token):
    headers = {"X-Metasync-Token": token} if token else {}
    resp = bare.open(url, method=method, headers=headers)
    assert resp.status_code == 401 and error_code(resp) == "unauthorized"


def test_health_needs_no_token(client, lib):
    resp = client.get("/api/health")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok" and body["version"] and body["exiftool"].startswith("1")
    assert body["library_roots"] == [str(lib)]


# -- host and origin ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "localhost.evil.example", "127.0.0.1.nip.io",
                                  "10.0.0.5:8765", ""])
def test_foreign_host_is_refused_even_for_health(bare, host):
    resp = bare.get("/api/health", headers={"Host": host})
    assert resp.status_code == 403 and error_code(resp) == "forbidden_host"
    assert post(bare, "/api/metadata-sync/auto-detect", headers={"Host": host}).status_code == 403


@pytest.mark.parametrize("host", ["localhost", "localhost:8765", "127.0.0.1:8765", "[::1]:8765"])
def test_loopback_hosts_are_served(bare, host):
    assert bare.get("/api/health", headers={"Host": host}).status_code == 200


def test_extra_host_is_served_only_when_configured(lib, tmp_path):
    app = create_app(Settings(db_path=tmp_path / "x.db", library_roots=(lib,)), token=TOKEN,
                     extra_hosts=["192.168.1.20"])
    try:
        assert app.test_client().get("/api/health", headers={"Host": "192.168.1.20:8765"}).status_code == 200
        assert app.test_client().get("/api/health", headers={"Host": "192.168.1.21:8765"}).status_code == 403
    finally:
        close_app(app)


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Origin": "http://localhost:9999"},
                                     {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}],
                         ids=["foreign", "null", "other-port", "cross-site", "same-site"])
def test_cross_origin_writes_are_refused(bare, headers):
    resp = post(bare, "/api/metadata-sync/auto-detect", {"path": "/"}, headers=headers)
    assert resp.status_code == 403 and error_code(resp) == "forbidden_origin"
    resp = bare.delete("/api/metadata-sync/groups/1", headers={**AUTH, **headers})
    assert resp.status_code == 403


def test_same_origin_write_and_cross_origin_read_pass_the_origin_check(bare):
    resp = post(bare, "/api/metadata-sync/groups/999/revert",
                headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert resp.status_code == 404  # past the checks, the group does not exist
    resp = get(bare, "/api/metadata-sync/groups", headers={"Origin": "http://evil.example"})
    assert resp.status_code == 200
    assert "Access-Control-Allow-Origin" not in resp.headers  # no CORS: the page cannot read it


# -- paths --------------------------------------------------------------------------------------------------
def test_dotdot_escape_is_403(client, lib):
    outside = f"{lib}/../../../../etc/passwd"
    for url in (f"/api/files/history?path={outside}", f"/api/files/thumbnail?path={outside}",
                f"/api/files?dir={lib}/..", f"/api/metadata-sync/suggestions?path={lib}/.."):
        resp = get(client, url)
        assert resp.status_code == 403 and error_code(resp) == "outside_library", url
    resp = post(client, "/api/metadata-sync/groups", {"files": [outside]})
    assert resp.status_code == 403
    resp = post(client, "/api/metadata-sync/auto-detect", {"path": f"{lib}/../"})
    assert resp.status_code == 403


def test_symlink_escape_is_403_and_hidden_from_the_browser(client, lib, tmp_path):
    secret = tmp_path / "outside"
    secret.mkdir()
    Image.new("RGB", (8, 8)).save(secret / "private.jpg")
    (lib / "link.jpg").symlink_to(secret / "private.jpg")
    (lib / "linkdir").symlink_to(secret)
    for url in (f"/api/files/thumbnail?path={lib}/link.jpg", f"/api/files?dir={lib}/linkdir",
                f"/api/files/history?path={lib}/linkdir/private.jpg"):
        resp = get(client, url)
        assert resp.status_code == 403 and error_code(resp) == "outside_library", url
    resp = post(client, "/api/metadata-sync/auto-detect", {"path": f"{lib}/linkdir"})
    assert resp.status_code == 403
    names = [e["name"] for k in ("folders", "photos") for e in get(client, f"/api/files?dir={lib}").get_json()[k]]
    assert "link.jpg" not in names and "linkdir" not in names and names


def test_no_library_roots_means_every_path_is_refused(tmp_path, lib):
    app = create_app(Settings(db_path=tmp_path / "x.db"), token=TOKEN)
    try:
        resp = app.test_client().get(f"/api/files/history?path={lib}", headers=AUTH)
        assert resp.status_code == 403
    finally:
        close_app(app)


# -- malformed input ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("data,message", [("{bad", "malformed JSON"), ("[1, 2]", "JSON object"),
                                          (b"\xff\xfe", "malformed JSON")])
def test_malformed_json_is_400_with_a_message(bare, data, message):
    resp = post(bare, "/api/metadata-sync/auto-detect", data=data)
    assert resp.status_code == 400 and error_code(resp) == "invalid_request"
    assert message in resp.get_json()["error"]["message"]


@pytest.mark.parametrize("body", [{}, {"files": []}, {"files": "a.jpg"}, {"files": [1]},
                                  {"files": ["x"], "sources": "y"}, {"files": ["x"], "options": []}])
def test_create_group_validates_its_body(client, lib, body):
    if body.get("files") == ["x"]:
        body["files"] = [str(photos_under(lib)[0])]
    resp = post(client, "/api/metadata-sync/groups", body)
    assert resp.status_code == 400 and error_code(resp) == "invalid_request"


@pytest.mark.parametrize("body", [{"min_confidence": 2}, {"min_confidence": "high"}, {"min_confidence": True},
                                  {"include_conflicts": "yes"}, {"host": 3}, {"overrides": {"a": 1}},
                                  {"overrides": [{"path": "x", "field": "nope", "value": 1}]}])
def test_apply_validates_its_body(bare, body):
    resp = post(bare, "/api/metadata-sync/groups/1/apply", body)
    assert resp.status_code == 400 and error_code(resp) == "invalid_request"


def test_request_size_is_limited(bare):
    resp = post(bare, "/api/metadata-sync/groups", data='{"files": ["' + "a" * (2 << 20) + '"]}')
    assert resp.status_code == 413 and error_code(resp) == "request_entity_too_large"


def test_unknown_route_and_method_are_json_errors(bare):
    resp = get(bare, "/api/nope")
    assert resp.status_code == 404 and error_code(resp) == "not_found"
    resp = bare.put("/api/metadata-sync/groups", headers=AUTH)
    assert resp.status_code == 405 and error_code(resp) == "method_not_allowed"


@pytest.mark.parametrize("url", ["/api/metadata-sync/groups/0", f"/api/metadata-sync/groups/{2**70}",
                                 "/api/metadata-sync/groups/424242"])
def test_missing_group_is_404(bare, url):
    for resp in (get(bare, url), post(bare, url + "/apply"), post(bare, url + "/revert"),
                 bare.delete(url, headers=AUTH)):
        assert resp.status_code == 404 and error_code(resp) == "group_not_found"


def test_missing_query_parameter_is_400(bare):
    for url in ("/api/files/history", "/api/files/thumbnail"):
        resp = get(bare, url)
        assert resp.status_code == 400 and "'path'" in resp.get_json()["error"]["message"]


# -- files --------------------------------------------------------------------------------------------------
def test_folder_browser_lists_roots_folders_and_photos(client, lib):
    top = get(client, "/api/files").get_json()
    assert top["folders"] == [{"name": str(lib), "path": str(lib)}] and top["dir"] is None
    events = get(client, f"/api/files?dir={lib}").get_json()
    assert events["parent"] is None or events["parent"] == str(lib)
    assert [f["name"] for f in events["folders"]] == sorted(p.name for p in lib.iterdir() if p.is_dir())
    assert not events["photos"]
    phone = get(client, f"/api/files?dir={events['folders'][0]['path']}/phone").get_json()
    assert phone["photos"] and all(p["name"].lower().endswith(".jpg") for p in phone["photos"])
    assert phone["parent"] == events["folders"][0]["path"]
    assert get(client, f"/api/files?dir={lib}/nope").status_code == 404
    assert get(client, f"/api/files?dir={phone['photos'][0]['path']}").status_code == 400


def test_thumbnail_is_a_small_cached_jpeg(client, app, lib, tmp_path):
    photo = photos_under(lib)[0]
    resp = get(client, f"/api/files/thumbnail?path={photo}&size=64")
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg"
    from io import BytesIO
    with Image.open(BytesIO(resp.data)) as img:
        assert max(img.size) == 64
    cached = list((tmp_path / "index.db.d" / "thumbs").rglob("*.jpg"))
    assert len(cached) == 1 and cached[0].read_bytes() == resp.data
    assert get(client, f"/api/files/thumbnail?path={photo}&size=64").data == resp.data
    for size in ("8", "4096", "big"):
        assert get(client, f"/api/files/thumbnail?path={photo}&size={size}").status_code == 400
    (lib / "notes.jpg").write_text("not an image")
    resp = get(client, f"/api/files/thumbnail?path={lib}/notes.jpg")
    assert resp.status_code == 422 and error_code(resp) == "thumbnail"
    assert get(client, f"/api/files/thumbnail?path={lib}/gone.jpg").status_code == 404


# -- the workflow -------------------------------------------------------------------------------------------
def test_auto_detect_suggestions_and_group_listing(client, lib):
    found = detect(client, lib)
    assert found and all({"id", "confidence", "files", "reasons"} <= set(s) for s in found)
    listed = get(client, "/api/metadata-sync/groups").get_json()["groups"]
    assert {g["id"] for g in listed} >= {s["id"] for s in found}
    folder = Path(found[0]["files"][0]["path"]).parent
    some = get(client, f"/api/metadata-sync/suggestions?path={folder}").get_json()["suggestions"]
    assert some and {s["id"] for s in some} <= {g["id"] for g in get(client, "/api/metadata-sync/groups")
                                               .get_json()["groups"]}


def test_auto_detect_in_the_background_reports_progress(client, lib):
    resp = post(client, "/api/metadata-sync/auto-detect", {"path": str(lib), "background": True})
    assert resp.status_code == 202
    job = resp.get_json()["job"]
    for _ in range(600):
        job = get(client, f"/api/jobs/{job['id']}").get_json()
        if job["status"] in {"done", "failed"}:
            break
        import time
        time.sleep(0.05)
    assert job["status"] == "done", job
    assert job["total"] > 0 and job["done"] == job["total"]
    assert job["result"]["suggestions"]
    assert error_code(get(client, "/api/jobs/nope")) == "job_not_found"


def test_auto_detect_refuses_a_file(client, lib):
    resp = post(client, "/api/metadata-sync/auto-detect", {"path": str(photos_under(lib)[0])})
    assert resp.status_code == 400
    assert post(client, "/api/metadata-sync/auto-detect", {}).status_code == 400


def test_detail_apply_history_revert_delete(client, lib):
    group = detect(client, lib)[0]
    detail = get(client, f"/api/metadata-sync/groups/{group['id']}").get_json()
    assert detail["id"] == group["id"] and detail["changes"]
    target = detail["changes"][0]["path"]
    sidecar = Path(target + ".xmp")
    before = sidecar.read_bytes() if sidecar.exists() else None
    assert post(client, f"/api/metadata-sync/groups/{group['id']}/revert").status_code == 409  # nothing applied

    applied = post(client, f"/api/metadata-sync/groups/{group['id']}/apply", {"host": "darktable"})
    assert applied.status_code == 200, applied.get_json()
    assert target in applied.get_json()["files"]
    assert sidecar.exists() and sidecar.read_bytes() != before
    status = {g["id"]: g["status"] for g in get(client, "/api/metadata-sync/groups").get_json()["groups"]}
    assert status[group["id"]] == "applied"

    hist = get(client, f"/api/files/history?path={target}").get_json()
    assert hist["path"] == target and hist["current"]["path"] == target
    kinds = [h["kind"] for h in hist["history"]]
    assert kinds in (["apply"], ["time_shift"]) and hist["history"][0]["group"] == group["id"]

    reverted = post(client, f"/api/metadata-sync/groups/{group['id']}/revert")
    assert reverted.status_code == 200, reverted.get_json()
    assert (sidecar.read_bytes() if sidecar.exists() else None) == before
    assert [h["kind"] for h in get(client, f"/api/files/history?path={target}").get_json()["history"]] == \
        kinds + ["revert"]

    assert client.delete(f"/api/metadata-sync/groups/{group['id']}", headers=AUTH).get_json() == \
        {"deleted": group["id"]}
    assert get(client, f"/api/metadata-sync/groups/{group['id']}").status_code == 404


def test_create_group_from_selected_files(client, lib):
    event = sorted(p for p in lib.iterdir() if p.is_dir())[0]
    phones = photos_under(event / "phone")
    cameras = photos_under(event / "camera")
    resp = post(client, "/api/metadata-sync/groups",
                {"files": [str(p) for p in phones[:1] + cameras], "sources": [str(phones[0])]})
    assert resp.status_code == 201, resp.get_json()
    detail = resp.get_json()
    assert detail["user_created"] in (True, 1)
    assert {c["path"] for c in detail["changes"]} <= {str(p) for p in cameras}
    again = get(client, f"/api/metadata-sync/groups/{detail['id']}").get_json()
    assert again["changes"] == detail["changes"]


def test_history_of_an_unindexed_photo_is_404(client, lib):
    resp = get(client, f"/api/files/history?path={photos_under(lib)[0]}")
    assert resp.status_code == 404 and error_code(resp) == "not_indexed"


# -- the document -------------------------------------------------------------------------------------------
def test_openapi_documents_exactly_the_routes(client, app):
    doc = get(client, "/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
            routed |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed
    assert doc["paths"]["/api/health"]["get"]["security"] == []
    for ops in doc["paths"].values():
        for op in ops.values():
            for r in op["responses"].values():
                for media in r["content"].values():
                    ref = media["schema"].get("$ref")
                    assert ref is None or ref.rsplit("/", 1)[1] in doc["components"]["schemas"]


# -- the dashboard page -------------------------------------------------------------------------------------
def test_dashboard_page_needs_the_token_in_its_url(client):
    locked = client.get("/")
    assert locked.status_code == 401 and TOKEN.encode() not in locked.data
    assert client.get("/?token=wrong").status_code == 401
    page = client.get(f"/?token={TOKEN}")
    assert page.status_code == 200 and f'content="{TOKEN}"'.encode() in page.data
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["X-Frame-Options"] == "DENY"
    js = client.get("/static/dashboard.js")
    assert js.status_code == 200 and b"X-Metasync-Token" in js.data
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 403


# -- metasync serve: refusals before anything listens ---------------------------------------------------------
@pytest.mark.parametrize("args,message", [
    (["--host", "0.0.0.0"], "--allow-remote"),
    (["--host", "192.168.1.20"], "--allow-remote"),
    ([], "no library folder"),
    (["--root", "/nonexistent/photos"], "not found"),
], ids=["wildcard", "lan", "no-root", "missing-root"])
def test_serve_refuses_unsafe_or_missing_settings(tmp_path, capsys, args, message):
    from metasync.cli import main

    assert main(["serve", "--db", str(tmp_path / "x.db"), *args]) == 1
    assert message in capsys.readouterr().err


def test_a_damaged_journal_is_the_servers_fault_a_5xx_not_a_400(client, lib, app):
    group = detect(client, lib)[0]
    target = get(client, f"/api/metadata-sync/groups/{group['id']}").get_json()["changes"][0]["path"]
    Path(target + ".xmp").write_text(DARKTABLE_HISTORY, encoding="utf-8")  # a host's sidecar: revert needs its bytes
    assert post(client, f"/api/metadata-sync/groups/{group['id']}/apply", {"host": "darktable"}).status_code == 200
    blobs = list((app.extensions["metasync"].engine.index.data_dir / "blobs").rglob("*"))
    for blob in (b for b in blobs if b.is_file()):
        blob.write_bytes(b"damaged")
    resp = post(client, f"/api/metadata-sync/groups/{group['id']}/revert")
    assert resp.status_code == 500 and error_code(resp) == "journal", resp.get_json()


# -- messages the plugins show in their dialogs ---------------------------------------------------------------
def test_messages_for_plugin_dialogs_name_no_command_line_flag(lib, paris_london, tmp_path):
    """darktable, Lightroom and digiKam show the bridge's messages as they are: none may say `--some-flag`."""
    remote_ai = create_app(Settings(db_path=tmp_path / "remote.db", library_roots=(lib,), ai="ollama",
                                    ai_url="http://192.0.2.10:11434"), token=TOKEN, background_above=1000)
    try:
        refused = post(remote_ai.test_client(), "/api/metadata-sync/auto-detect", {"path": str(lib)})
    finally:
        close_app(remote_ai)
    assert refused.status_code == 403 and error_code(refused) == "remote_ai_refused", refused.get_json()
    message = refused.get_json()["error"]["message"]
    assert "allow_remote_ai" in message and "--" not in message

    conflicted = create_app(Settings(db_path=tmp_path / "conflict.db", library_roots=(paris_london.root,)),
                            token=TOKEN, background_above=1000)
    try:
        client = conflicted.test_client()
        group = detect(client, paris_london.root)[0]
        applied = post(client, f"/api/metadata-sync/groups/{group['id']}/apply", {})
    finally:
        close_app(conflicted)
    assert applied.status_code == 200, applied.get_json()
    reasons = [s["reason"] for s in applied.get_json()["skipped"]]
    assert any("conflicting sources" in r for r in reasons), reasons
    assert not any("--" in r for r in reasons), reasons


def test_messages_for_plugin_dialogs_name_no_command(client, lib):
    """A plugin's user has no terminal: 'run metasync scan' would send them to one. The CLI adds such hints."""
    missing = get(client, "/api/metadata-sync/groups/9999")
    assert missing.status_code == 404 and missing.get_json()["error"]["message"] == "no group 9999"
    unscanned = lib / "unscanned.jpg"
    unscanned.write_bytes(next(lib.rglob("*.jpg")).read_bytes())
    outside = get(client, f"/api/files/history?path={unscanned}")
    message = outside.get_json()["error"]["message"]
    assert outside.status_code == 404 and "scan its folder first" in message, outside.get_json()
    assert "metasync " not in message and "--" not in message
