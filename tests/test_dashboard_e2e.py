"""End to end in a real browser: Playwright drives Debian's Chromium (headless, no browser download) through the
dashboard of a generated library served by `metasync serve`: auto-detect, open a group, apply, check the sidecar,
revert, check the bytes are back. A screenshot lands in test-artifacts/dashboard.png."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.bridge import serve

CHROMIUM = os.environ.get("METASYNC_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TIMEOUT_MS = 30_000

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed "
                               "(pip install playwright; no browser download needed)")


@pytest.fixture(scope="module")
def browser():
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set METASYNC_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    context.close()


def sidecar_of(photo: str) -> Path:
    return Path(photo + ".xmp")


def read(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def test_detect_apply_revert_in_the_dashboard(page, library, tmp_path):
    lib = library.root
    with serve(lib, tmp_path / "index.db", tmp_path / "config") as srv:
        page.goto(f"{srv.url}/?token={srv.token}")
        assert page.title() == "metasync"

        # 3. auto-detection, with progress, then its suggestions and their reasons
        page.click("nav button[data-tab=detect]")
        page.click("#detect-run")
        page.wait_for_selector("[data-testid=suggestion]")
        first = page.locator("[data-testid=suggestion]").first
        assert first.locator(".reasons li").count() > 0
        assert first.locator("[data-testid=confidence]").count() == 1
        assert "local" in page.locator("[data-testid=suggestion] .reasons .analyzer").all_inner_texts()  # scene verdict

        # 1. the groups list: open a group, read its first change
        page.click("nav button[data-tab=groups]")
        card = page.locator("[data-testid=group]").first
        card.wait_for()
        group_id = card.get_attribute("data-group")
        card.locator("[data-action=open]").click()
        change = card.locator("[data-testid=changes] tbody tr").first
        change.wait_for()
        first_change = page.evaluate(
            "async ([id]) => (await (await fetch(`/api/metadata-sync/groups/${id}`, {headers: "
            "{'X-Metasync-Token': document.querySelector('meta[name=metasync-token]').content}})).json())"
            ".changes[0]", [group_id])
        target = first_change["path"]
        before = read(sidecar_of(target))

        # apply through the confirm dialog; the sidecar is written
        card.locator("[data-action=apply]").click()
        page.click("#confirm-ok")
        applied = page.locator(f"[data-testid=group][data-group='{group_id}'] [data-testid=status]")
        sync_api.expect(applied).to_have_text("applied")
        after = read(sidecar_of(target))
        assert after is not None and after != before and b"x:xmpmeta" in after

        # 4. detail panel of the changed photo: original vs current, history
        page.evaluate("([p]) => openDetail(p)", [target])
        changed = page.locator(f"#detail:not([hidden]) #detail-meta tr[data-field={first_change['field']}]")
        changed.wait_for()
        assert changed.get_attribute("class") in {"added", "changed"}  # + green, or - red / + green
        assert page.locator("#detail-meta tr.same").count() > 0  # = blue
        assert page.locator("#detail-history li").count() >= 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        # revert from the groups list: the bytes are back
        page.click("#detail-close")
        page.locator(f"[data-testid=group][data-group='{group_id}'] [data-action=revert]").click()
        page.click("#confirm-ok")
        sync_api.expect(applied).to_have_text("reverted")
        assert read(sidecar_of(target)) == before
    assert not page.errors, page.errors


def test_group_creator_browses_folders_with_thumbnails_and_the_locked_page(page, library, tmp_path):
    lib = library.root
    with serve(lib, tmp_path / "index.db", tmp_path / "config") as srv:
        page.goto(f"{srv.url}/?token={srv.token}")
        page.click("nav button[data-tab=create]")
        page.locator("[data-testid=folder]").first.click()  # the library root
        page.locator("[data-testid=folder]").first.click()  # the event
        page.locator("[data-testid=folder]", has_text="phone").click()
        photo = page.locator("[data-testid=photo]").first
        photo.wait_for()
        page.wait_for_function("() => document.querySelector('[data-testid=photo] img.thumb').src.startsWith('blob:')")
        photo.click()
        assert "target" in photo.get_attribute("class")
        photo.click()
        assert "source" in photo.get_attribute("class")
        assert page.locator("#selection-count").inner_text().startswith("1 selected")

        # 2. the group creator: a camera photo as target, preview, discard
        page.click("#browse-up")
        page.locator("[data-testid=folder]", has_text="camera").click()
        page.wait_for_function("() => document.querySelector('#browse-dir').textContent.endsWith('/camera')")
        page.locator("[data-testid=photo]").first.click()
        page.click("#create-preview")
        page.wait_for_selector("#create-result [data-testid=changes] tbody tr")
        assert "DSC" in page.inner_text("#create-result") or "_MG" in page.inner_text("#create-result")
        page.click("#create-result button:has-text('Discard')")
        page.wait_for_selector("#create-result:empty", state="attached")
        assert "discarded" in page.inner_text("#message")
        assert srv.session().get(srv.url + "/api/metadata-sync/groups", timeout=10).json()["groups"] == []
        assert not page.errors, page.errors

        # without the token in its URL the page explains where to find it, and does not contain it
        resp = page.goto(srv.url + "/")
        assert resp.status == 401 and "token" in page.inner_text("main")
        assert srv.token not in page.content()
