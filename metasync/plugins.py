"""Installs the host integrations (darktable, Lightroom Classic, digiKam) where each host looks for them."""
from __future__ import annotations

import os
import platform
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidRequestError, MetasyncError

INTEGRATIONS = Path(__file__).resolve().parent.parent / "integrations"
LUA_LIBS = [INTEGRATIONS / "lua" / "metasync_json.lua", INTEGRATIONS / "lua" / "metasync_answer.lua"]
HOSTS = ("darktable", "lightroom", "digikam")


@dataclass(frozen=True)
class Installed:
    host: str
    dest: Path
    files: tuple[Path, ...]
    next_steps: str


def default_dest(host: str) -> Path:
    home = Path.home()
    if host == "darktable":
        base = Path(os.environ.get("APPDATA", "")) / "darktable" if platform.system() == "Windows" \
            else Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "darktable"
        return base / "lua" / "contrib"
    if host == "lightroom":
        if platform.system() == "Windows":
            return Path(os.environ.get("APPDATA", "")) / "Adobe" / "Lightroom" / "Modules"
        return home / "Library" / "Application Support" / "Adobe" / "Lightroom" / "Modules"
    return Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "metasync" / "digikam"


def install(host: str, dest: Path | None = None) -> Installed:
    if host not in HOSTS:
        raise InvalidRequestError(f"unknown host {host!r}; choose one of {', '.join(HOSTS)}")
    if not INTEGRATIONS.is_dir():
        raise MetasyncError(f"integration files not found at {INTEGRATIONS}; install metasync from its source tree")
    dest = Path(dest) if dest else default_dest(host)
    if host == "darktable":
        # helpers as *.lua.inc: darktable's script manager lists every *.lua under lua/ as a script
        for lib in LUA_LIBS:
            (dest / lib.name).unlink(missing_ok=True)  # left by an older install; it would be listed too
        files = _copy([INTEGRATIONS / "darktable" / "metasync.lua"], dest) + _copy(LUA_LIBS, dest, ".inc")
        steps = (f"darktable: restart it, open lighttable › scripts (script manager) and start 'metasync' "
                 "(or add `require \"contrib/metasync\"` to darktable's luarc). "
                 "The module appears in the right panel. Start the bridge first: metasync serve --root YOUR_PHOTOS")
    elif host == "lightroom":
        plugin = dest / "metasync.lrplugin"
        src = INTEGRATIONS / "lightroom" / "metasync.lrplugin"
        files = _copy(sorted(src.glob("*.lua")) + LUA_LIBS, plugin)
        steps = (f"Lightroom Classic: File › Plug-in Manager › Add › {plugin}; then Library › Plug-in Extras › "
                 "'metasync: Suggest…'. Start the bridge first: metasync serve --root YOUR_PHOTOS")
    else:
        files = _copy([INTEGRATIONS / "digikam" / "metasync-bqm.sh", INTEGRATIONS / "digikam" / "metasync-bqm.bat",
                       INTEGRATIONS / "digikam" / "README.md"], dest)
        script = dest / ("metasync-bqm.bat" if platform.system() == "Windows" else "metasync-bqm.sh")
        # digiKam replaces $INPUT/$OUTPUT with `"path"` and runs `sh -c` (bash on newer versions): the variables
        # must stay unquoted; only the script's own path is quoted here
        quoted = f'"{script}"' if platform.system() == "Windows" else shlex.quote(str(script))
        steps = ("digiKam: Tools › Batch Queue Manager › Base Tools › Custom Script, script: "
                 f"{quoted} $INPUT $OUTPUT (exactly so: digiKam adds the quotes around $INPUT and $OUTPUT itself); "
                 "Settings › Metadata › Sidecars: tick "
                 "'Read from sidecar files'; after the queue: Item › Reread Metadata from Image. "
                 f"Details: {dest / 'README.md'}")
    return Installed(host, dest, tuple(files), steps)


def _copy(sources: list[Path], dest: Path, suffix: str = "") -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sources:
        target = dest / (src.name + suffix)
        shutil.copy2(src, target)
        out.append(target)
    return out
