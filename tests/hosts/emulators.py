"""Host emulators under lupa: darktable (Lua 5.4) and Lightroom Classic (Lua 5.1). Everything but the host is real."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from lupa import lua51, lua54

REPO = Path(__file__).resolve().parents[2]
INTEGRATIONS = REPO / "integrations"
HERE = Path(__file__).resolve().parent


class DarktableHost:
    """Loads integrations/darktable/metasync.lua into an emulated darktable."""

    def __init__(self, tmp_dir: Path, api_version: str = "9.4.0") -> None:
        self.lua = lua54.LuaRuntime(unpack_returned_tuples=True)
        self.commands: list[str] = []
        self.tmp_dir = str(tmp_dir)
        self.api_version = api_version
        self.lua.execute(f'package.path = "{INTEGRATIONS}/lua/?.lua;" .. package.path')
        self.dt = self.lua.execute((HERE / "fake_darktable.lua").read_text(), self)
        self.lua.globals()["__dt"] = self.dt
        self.lua.execute(
            'package.preload["darktable"] = function() return __dt end\n'
            'package.preload["lib/dtutils"] = function() return { check_min_api_version = function() end } end')

    def execute(self, cmd: str) -> int:
        self.commands.append(cmd)
        return subprocess.run(["sh", "-c", cmd], timeout=120).returncode

    def load_plugin(self, url: str, token: str) -> Any:
        script = INTEGRATIONS / "darktable" / "metasync.lua"
        chunk = self.lua.eval(f'function(path) return assert(loadfile(path)) end')(str(script))
        self.script = chunk()
        self.dt.preferences.write("metasync", "bridge_url", "string", url)
        self.dt.preferences.write("metasync", "token", "string", token)
        return self.script

    def add_image(self, path: Path, fields: dict[str, Any] | None = None, apply_sidecar: bool = False) -> Any:
        image = self.dt.new_image(str(path.parent), path.name, self.lua.table_from(fields or {}), apply_sidecar)
        images = self.dt.gui.action_images
        images[len(images) + 1] = image
        return image

    def click(self, label: str) -> None:
        self.dt.click("metasync", label)

    @property
    def text(self) -> str:
        return str(self.dt.widget_text("metasync"))

    @property
    def messages(self) -> list[str]:
        return list(self.dt.messages.values())

    def writes(self) -> list[tuple[str, str, Any]]:
        return [(w.image, w.key, w.value) for w in self.dt.writes.values()]


class LightroomHost:
    """Evaluates the Lightroom plugin under Lua 5.1 with a global `import` giving the SDK namespaces."""

    PLUGIN = INTEGRATIONS / "lightroom" / "metasync.lrplugin"

    def __init__(self, dialog_answers: list[str] | None = None) -> None:
        self.lua = lua51.LuaRuntime(unpack_returned_tuples=True)
        self.dialog_answers = list(dialog_answers or [])
        self.messages: list[tuple[str, str]] = []  # (kind, main text)
        self.dialogs: list[tuple[Any, ...]] = []  # (kind, *arguments in the SDK's order)
        self.lua.execute(f'package.path = "{self.PLUGIN}/?.lua;{INTEGRATIONS}/lua/?.lua;" .. package.path')
        self.sdk = self.lua.execute((HERE / "fake_lightroom.lua").read_text(), self)
        g = self.lua.globals()
        g["import"] = self.sdk["import"]
        g["LOC"] = self.sdk["LOC"]
        g["WIN_ENV"], g["MAC_ENV"] = False, True

    # called from Lua --------------------------------------------------------------------------
    def http(self, method: str, url: str, body: Any, headers: Any, timeout: Any) -> Any:
        import requests

        hdrs = {h["field"]: h["value"] for h in headers.values()} if headers else {}
        try:
            r = requests.request(method, url, data=body, headers=hdrs, timeout=float(timeout or 60))
        except requests.Timeout:
            return None, self.lua.table_from({"error": {"errorCode": "timedOut"}}, recursive=True)
        except requests.ConnectionError:
            return None, self.lua.table_from({"error": {"errorCode": "cannotConnectToHost"}}, recursive=True)
        return r.text, self.lua.table_from({"status": r.status_code})

    def dialog(self, kind: str, message: str, *rest: Any) -> str:
        """message: (message, info, style); confirm: (message, info, actionVerb, cancelVerb, otherVerb);
        modal: (contents text, title). The Lua side has checked the types."""
        self.dialogs.append((kind, message, *rest))
        self.messages.append((kind, str(message)))
        return self.dialog_answers.pop(0) if self.dialog_answers and kind in ("modal", "confirm") else "ok"

    # used by tests ----------------------------------------------------------------------------
    def info(self) -> Any:
        return self.lua.execute((self.PLUGIN / "Info.lua").read_text())

    def add_photo(self, path: Path, fields: dict[str, Any] | None = None, keywords: list[str] | None = None) -> Any:
        """A catalog photo; `fields` are raw metadata it already has (gps as {"latitude", "longitude"}),
        `keywords` the names the user already gave it."""
        return self.sdk.add_photo(str(path), self.lua.table_from(fields or {}, recursive=True),
                                  self.lua.table_from(keywords or []))

    def keywords(self, photo: Any) -> set[str]:
        return {str(name) for name, on in photo.keywords.items() if on}

    def run_menu(self, script: str, url: str, token: str) -> None:
        self.sdk.set_prefs(url, token)
        self.lua.execute((self.PLUGIN / script).read_text())
