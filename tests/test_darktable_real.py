"""The darktable plugin in a real darktable (4.2+, headless under xvfb-run) against a real `metasync serve`.

darktable imports a generated library (phones with GPS, a DSLR whose clock runs ahead), the camera photos are
selected, and the plugin's Suggest → Apply runs; a rating makes darktable rewrite the sidecar from its database;
then Revert. The plugin is loaded two ways: a plain `require "contrib/metasync"` in luarc (no lua-scripts, so no
lib/dtutils) and through lua-scripts' script manager. Skips when darktable or xvfb-run is missing
(`bash scripts/ensure-system-deps.sh darktable` installs them).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from support.bridge import DARKTABLE_HISTORY, serve

from demokit.library import Truth, generate_library

REPO = Path(__file__).resolve().parents[1]
LUA_SCRIPTS = Path(os.environ.get("METASYNC_HOSTS") or REPO.parent / "shared" / "hosts") / "darktable" / "lua-scripts"

pytestmark = pytest.mark.skipif(
    not (shutil.which("darktable") and shutil.which("xvfb-run")),
    reason="real darktable test needs darktable and xvfb-run (bash scripts/ensure-system-deps.sh darktable)")

# Runs inside darktable after luarc: drives the plugin and records what darktable's library holds.
DRIVER = r'''
local dt = require "darktable"
local out_path, lib_root, url, token = ...
local log = {}
local messages = {}
local real_print = dt.print
dt.print = function(msg) messages[#messages + 1] = tostring(msg); real_print(msg) end
local function record(stage, images)
  local rows = {}
  for _, image in ipairs(images) do
    local tags = {}
    for _, tag in ipairs(dt.tags.get_tags(image)) do
      if not tostring(tag.name):match("^darktable|") then tags[#tags + 1] = tostring(tag.name) end
    end
    table.sort(tags)
    local function num(v) if v ~= v then return "nan" end return v end
    rows[#rows + 1] = string.format('{"file": "%s", "latitude": "%s", "longitude": "%s", "elevation": "%s", ' ..
      '"taken": "%s", "tags": "%s"}', image.filename, tostring(num(image.latitude)), tostring(num(image.longitude)),
      tostring(num(image.elevation)), tostring(image.exif_datetime_taken), table.concat(tags, "|"))
  end
  log[#log + 1] = string.format('"%s": [%s]', stage, table.concat(rows, ", "))
end
local function flush(extra)
  local f = assert(io.open(out_path, "w"))
  local m = {}
  for i, msg in ipairs(messages) do m[i] = string.format("%q", msg):gsub("\\\n", "\\n") end
  f:write("{" .. table.concat(log, ", ") .. ', "messages": [' .. table.concat(m, ", ") .. "]" .. (extra or "") .. "}")
  f:close()
end
local function stage(name)  -- progress, to tell where darktable stopped if it hangs
  local f = io.open(out_path .. ".stages", "a"); f:write(name .. "\n"); f:close()
end
local ok, err = pcall(function()
  stage("start")
  local sd = package.loaded["contrib/metasync"]
  if type(sd) ~= "table" then sd = require "contrib/metasync" end
  dt.preferences.write("metasync", "bridge_url", "string", url)
  dt.preferences.write("metasync", "token", "string", token)
  local cameras = {}
  local p = io.popen("find '" .. lib_root .. "' -name '*.JPG' -o -name '*.jpg' | sort")
  for path in p:lines() do
    local image = dt.database.import(path)
    if path:match("/camera/_MG_") then cameras[#cameras + 1] = image end
  end
  p:close()
  stage("imported")
  dt.gui.selection(cameras)
  stage("selected")
  record("before", cameras)
  sd.suggest()
  stage("suggested")
  log[#log + 1] = string.format('"groups": %d', #sd.state.groups)
  sd.apply()
  stage("applied")
  record("applied", cameras)
  for _, image in ipairs(cameras) do image.rating = 3 end
  flush()
  os.execute("cp '" .. cameras[1].sidecar .. "' '" .. out_path .. ".rated.xmp'")
  sd.revert()
  stage("reverted")
  record("reverted", cameras)
  os.execute("cp '" .. cameras[1].sidecar .. "' '" .. out_path .. ".reverted.xmp'")
end)
flush(ok and ', "ok": true' or (', "error": ' .. string.format("%q", tostring(err)):gsub("\\\n", "\\n")))
stage("quit")
dt.gui.action("global/quit", 0, "", "", 1.0)
'''


def darktable(configdir: Path, luacmd: str, log: Path, timeout: float = 60) -> bool:
    """Runs darktable headless; False when it hung (its whole process group is killed then)."""
    cmd = ["xvfb-run", "-a", "darktable", "--configdir", str(configdir), "--cachedir", str(configdir / "cache"),
           "--library", ":memory:", "--disable-opencl", "-d", "lua", "--luacmd", luacmd]
    env = {**os.environ, "HOME": str(configdir.parent), "LANG": "C.UTF-8"}
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            return False


def xmp(path: Path) -> dict:
    out = subprocess.run(["exiftool", "-j", "-n", "-XMP:all", str(path)], capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout)[0]


def run_scenario(base: Path, loader: str) -> tuple[list, Path, dict | None]:
    """Generates the library, scans it, serves it and runs darktable on it; `seen` is None if darktable hung."""
    # 3 events: enough DSLR shots for the engine to learn the Canon's clock error (+3800 s)
    truth: Truth = generate_library(base / "lib", seed=7, events=3, photos_per_event=6, size=(320, 240),
                                    whatsapp_per_event=0)
    lib, db = truth.root, base / "index.db"
    cameras = sorted((p for p in truth.photos if "/camera/_MG_" in p.path), key=lambda p: Path(p.path).name)
    assert len(cameras) >= 2
    # an edit made in darktable before: its history is in the sidecar darktable reads on import
    first = truth.path(cameras[0])
    first.with_name(first.name + ".xmp").write_text(DARKTABLE_HISTORY, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "metasync", "scan", str(lib), "--db", str(db)], check=True, timeout=120,
                   capture_output=True)
    configdir = base / "darktable"
    subprocess.run([sys.executable, "-m", "metasync", "plugin", "install", "darktable", "--dest",
                    str(configdir / "lua" / "contrib")], check=True, timeout=60, capture_output=True)
    assert sorted(p.name for p in (configdir / "lua").rglob("*.lua")) == ["metasync.lua"]
    if loader == "luarc":
        (configdir / "luarc").write_text('require "contrib/metasync"\n')
    else:
        for sub in ("lib", "tools"):
            (configdir / "lua" / sub).symlink_to(LUA_SCRIPTS / sub, target_is_directory=True)
        (configdir / "luarc").write_text(
            'require("darktable").preferences.write("script_manager", "contrib/metasync", "bool", true)\n'
            'require "tools/script_manager"\n')
    driver = base / "driver.lua"
    driver.write_text(DRIVER)
    out = base / "observed.json"

    with serve(lib, db, base / "config") as srv:
        luacmd = (f"assert(loadfile({json.dumps(str(driver))}))({json.dumps(str(out))}, "
                  f"{json.dumps(str(lib))}, {json.dumps(srv.url)}, {json.dumps(srv.token)})")
        finished = darktable(configdir, luacmd, base / "darktable.log")
    if not finished:
        return cameras, out, None
    log = (base / "darktable.log").read_text(errors="replace")
    assert out.exists(), log[-3000:]
    seen = json.loads(out.read_text())
    print(json.dumps(seen, indent=1))
    assert seen.get("ok"), (seen, log[-3000:])
    return cameras, out, seen


@pytest.mark.parametrize("loader", ["luarc", "script_manager"])
def test_real_darktable_suggest_apply_rating_revert(tmp_path: Path, loader: str) -> None:
    if loader == "script_manager" and not (LUA_SCRIPTS / "tools" / "script_manager.lua").exists():
        pytest.skip(f"lua-scripts not found at {LUA_SCRIPTS} (set METASYNC_HOSTS)")
    cameras, out, seen = run_scenario(tmp_path / "run1", loader)
    if seen is None:
        # darktable 4.2 sometimes deadlocks at startup (its Lua thread waits for the Lua lock inside a GTK main
        # context dispatch while the script thread waits in dt_lua_gtk_wrap_callback): darktable's bug, not the
        # plugin's; one fresh retry, and the stages reached the first time are in the report
        stages = (tmp_path / "run1" / "observed.json.stages")
        print("darktable hung; stages reached:", stages.read_text().split() if stages.exists() else [])
        cameras, out, seen = run_scenario(tmp_path / "run2", loader)
    assert seen is not None, "darktable hung twice"
    assert seen["groups"] >= 1


    assert len(seen["applied"]) == len(cameras)
    for before, applied, reverted, photo in zip(seen["before"], seen["applied"], seen["reverted"], cameras):
        assert applied["file"] == Path(photo.path).name
        assert before["latitude"] == "nil" and before["longitude"] == "nil"  # darktable: no GPS
        lat, lon = float(applied["latitude"]), float(applied["longitude"])
        assert 49.5 < lat < 50.5 and 14 < lon < 15, applied  # borrowed from the phones (Prague)
        shift = (datetime.strptime(before["taken"], "%Y:%m:%d %H:%M:%S")
                 - datetime.strptime(applied["taken"], "%Y:%m:%d %H:%M:%S")).total_seconds()
        assert abs(shift - 3800) < 120, (before, applied)  # the DSLR's clock ran 3800 s ahead: corrected
        assert reverted["latitude"] == "nil" and reverted["longitude"] == "nil", reverted
        assert reverted["taken"] == before["taken"], reverted

    rated = xmp(Path(str(out) + ".rated.xmp"))
    print(json.dumps(rated, indent=1))
    assert rated.get("Rating") == 3
    assert abs(float(rated["GPSLatitude"]) - float(seen["applied"][0]["latitude"])) < 1e-4
    assert abs(float(rated["GPSLongitude"]) - float(seen["applied"][0]["longitude"])) < 1e-4
    rated_text = Path(str(out) + ".rated.xmp").read_text(encoding="utf-8")
    assert 'darktable:operation="exposure"' in rated_text  # the foreign darktable history survived
    assert seen["messages"][-1].startswith("reverted: "), seen["messages"]
    reverted_text = Path(str(out) + ".reverted.xmp").read_text(encoding="utf-8")
    assert "GPSLatitude" not in reverted_text and 'darktable:operation="exposure"' in reverted_text
