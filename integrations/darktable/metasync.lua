--[[
  metasync for darktable: suggest, preview, apply and revert metadata borrowed from nearby photos.

  A lighttable module (right panel) that talks to the local metasync bridge (`metasync serve`) over HTTP
  with curl, run through dt.control.execute so the UI never freezes. After apply/revert the resulting
  values are pushed into darktable's library, so its database and the sidecar agree.

  Install: `metasync plugin install darktable`, then enable "metasync" in the script manager.
]]
local dt = require "darktable"
local MODULE = "metasync"

-- lib/dtutils comes with lua-scripts; a plain `require "contrib/metasync"` in luarc works without it
local has_du, du = pcall(require, "lib/dtutils")
if has_du and type(du) == "table" and du.check_min_api_version then
  du.check_min_api_version("9.0.0", MODULE)
elseif (tonumber(dt.configuration.api_version_major) or 0) < 9 then
  error(MODULE .. " needs darktable Lua API 9.0.0 or newer, this is " ..
    tostring(dt.configuration.api_version_string))
end

-- helpers are installed next to this file as *.lua.inc, so the script manager (which lists every *.lua)
-- does not offer them as scripts; from the source tree they are ../lua/*.lua
local script_dir = debug.getinfo(1, "S").source:sub(2):match("^(.*)[/\\]") or "."
package.path = script_dir .. "/?.lua.inc;" .. script_dir .. "/../lua/?.lua;" .. script_dir .. "/?.lua;" .. package.path
local json = require "metasync_json"
local answer = require "metasync_answer"

local function _(s) return dt.gettext and dt.gettext.gettext(s) or s end

local script_data = {}
script_data.metadata = {
  name = "metasync",
  purpose = _("fill missing GPS, capture time, camera and place from nearby photos"),
  author = "metasync developers",
  help = "https://github.com/metasync/metasync#darktable",
}

-- preferences -----------------------------------------------------------------------------------
dt.preferences.register(MODULE, "bridge_url", "string", _("metasync: bridge URL"),
  _("address of `metasync serve`"), "http://127.0.0.1:8765")
dt.preferences.register(MODULE, "token", "string", _("metasync: token"),
  _("leave empty to read the token file that `metasync serve` writes"), "")
dt.preferences.register(MODULE, "min_confidence", "float", _("metasync: minimum confidence"),
  _("changes below this confidence are not applied"), 0.7, 0.0, 1.0, 0.05)

local function path_sep() return dt.configuration.running_os == "windows" and "\\" or "/" end

local function token_file()
  local home = os.getenv("XDG_CONFIG_HOME")
  if not home or home == "" then
    home = (os.getenv("HOME") or os.getenv("USERPROFILE") or ".") .. path_sep() .. ".config"
  end
  return home .. path_sep() .. "metasync" .. path_sep() .. "token"
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("*a")
  f:close()
  return data
end

local function write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

local function bridge_token()
  local t = dt.preferences.read(MODULE, "token", "string")
  if t and t ~= "" then return t end
  local data = read_file(token_file())
  return data and data:gsub("%s+$", "") or ""
end

local function shell_quote(s)
  if dt.configuration.running_os == "windows" then return '"' .. s:gsub('"', '""') .. '"' end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function url_encode(s)
  return (s:gsub("[^%w%-_%.~/]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- HTTP through curl -----------------------------------------------------------------------------
local counter = 0

--- Calls the bridge; returns the decoded JSON, or nil and one message a user can act on.
local function request(method, route, body)
  counter = counter + 1
  local base = dt.configuration.tmp_dir .. path_sep() .. "metasync-" .. tostring(os.time()) .. "-" .. counter
  local out, status_file, in_file = base .. ".out", base .. ".status", base .. ".in"
  local url = dt.preferences.read(MODULE, "bridge_url", "string"):gsub("/+$", "") .. route
  local cmd = { "curl", "-sS", "--max-time", "60", "-X", method, "-o", shell_quote(out),
                "-w", shell_quote("%{http_code}"),
                "-H", shell_quote("X-Metasync-Token: " .. bridge_token()) }
  if body ~= nil then
    write_file(in_file, json.encode(body))
    cmd[#cmd + 1] = "-H"
    cmd[#cmd + 1] = shell_quote("Content-Type: application/json")
    cmd[#cmd + 1] = "--data-binary"
    cmd[#cmd + 1] = shell_quote("@" .. in_file)
  end
  cmd[#cmd + 1] = shell_quote(url)
  local rc = dt.control.execute(table.concat(cmd, " ") .. " > " .. shell_quote(status_file) .. " 2>&1")
  local status = tonumber((read_file(status_file) or ""):match("(%d%d%d)%s*$") or "")
  local text = read_file(out)
  os.remove(out); os.remove(status_file); os.remove(in_file)
  if rc ~= 0 or not status or status == 0 then
    return nil, _("metasync bridge is not running at ") .. url:match("^(https?://[^/]+)") ..
      _(" — start it with `metasync serve`")
  end
  return answer.read(status, text, _("the token preference or the token file"))
end

-- pushing results into darktable's library ------------------------------------------------------
local function image_path(image) return image.path .. path_sep() .. image.filename end

local function exif_datetime(iso)
  local y, mo, d, h, mi, s = tostring(iso):match("^(%d%d%d%d)-(%d%d)-(%d%d)[T ](%d%d):(%d%d):(%d%d)")
  if not y then return nil end
  return string.format("%s:%s:%s %s:%s:%s", y, mo, d, h, mi, s)
end

local function value(v) if v == json.null then return nil end return v end

--- Makes darktable's database agree with the sidecar the bridge wrote.
local function push_values(image, fields)
  -- API >= 9.5 re-reads the sidecar itself; older darktable raises on reading the unknown field, so the
  -- whole access stays inside pcall and we fall back to assigning the values one by one
  if pcall(function() image:apply_sidecar(image.sidecar) end) then
    return
  end
  local nan = 0 / 0
  local lat, lon = value(fields.gps_latitude), value(fields.gps_longitude)
  image.latitude = lat or nan
  image.longitude = lon or nan
  image.elevation = value(fields.gps_altitude) or nan
  local when = exif_datetime(value(fields.datetime_original))
  if when then image.exif_datetime_taken = when end
  local wanted = {}
  for _, name in ipairs(value(fields.tags) or {}) do wanted[name] = true end
  for _, tag in ipairs(dt.tags.get_tags(image)) do
    if not tostring(tag.name):match("^darktable|") and not wanted[tag.name] then dt.tags.detach(tag, image) end
    wanted[tag.name] = nil
  end
  for name in pairs(wanted) do dt.tags.attach(dt.tags.create(name), image) end
end

local function push_results(images, result)
  local by_path = {}
  for _, image in ipairs(images) do by_path[image_path(image)] = image end
  local n = 0
  for path, fields in pairs(result.files or {}) do
    local image = by_path[path]
    if image then push_values(image, fields); n = n + 1 end
  end
  return n
end

-- the module ------------------------------------------------------------------------------------
local state = { groups = {}, images = {}, applied = nil }
local preview_view = dt.new_widget("text_view"){ text = "", editable = false }
local status_label = dt.new_widget("label"){ label = _("select photos, then Suggest") }

local function show(msg)
  status_label.label = msg
  dt.print(msg)
end

local function fmt(v)
  if v == nil or v == json.null then return "–" end
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = tostring(x) end
    return table.concat(parts, ", ")
  end
  return tostring(v)
end

local function render_preview(groups)
  local lines = {}
  for _, g in ipairs(groups) do
    local detail = g.detail or {}
    lines[#lines + 1] = string.format("group %d  %d%% (%s)", g.id, math.floor((g.confidence or 0) * 100 + 0.5),
      g.band or "")
    for _, c in ipairs(detail.changes or {}) do
      lines[#lines + 1] = string.format("  %s  %s: %s → %s%s\n      %s (%d%%)", c.path:match("[^/\\]+$") or c.path,
        c.field, fmt(c.old), fmt(c.new), c.conflict and "  [conflict]" or "", c.reason or "",
        math.floor((c.confidence or 0) * 100 + 0.5))
    end
  end
  return table.concat(lines, "\n")
end

local function suggest()
  local images = dt.gui.action_images
  if #images == 0 then return show(_("select photos first")) end
  local query = {}
  for i, image in ipairs(images) do query[i] = "path=" .. url_encode(image_path(image)) end
  local groups, err = request("GET", "/api/metadata-sync/suggestions?" .. table.concat(query, "&"))
  if not groups then return show(err) end
  if groups.suggestions then groups = groups.suggestions end
  if #groups == 0 then
    state.groups = {}
    preview_view.text = ""
    return show(_("nothing to suggest for these photos"))
  end
  for _, g in ipairs(groups) do
    local detail, derr = request("GET", "/api/metadata-sync/groups/" .. g.id)
    if not detail then return show(derr) end
    g.detail = detail
  end
  state.groups, state.images = groups, images
  preview_view.text = render_preview(groups)
  show(string.format(_("%d suggestion(s): review, then Apply"), #groups))
end

local function apply()
  if #state.groups == 0 then return show(_("nothing to apply: Suggest first")) end
  local total, applied = 0, {}
  for _, g in ipairs(state.groups) do
    local result, err = request("POST", "/api/metadata-sync/groups/" .. g.id .. "/apply", {
      min_confidence = dt.preferences.read(MODULE, "min_confidence", "float"), host = "darktable" })
    if not result then return show(err) end
    total = total + push_results(state.images, result)
    -- a group whose apply changed nothing (all skipped, or already done by another group) has nothing to revert
    if result.applied ~= 0 then applied[#applied + 1] = g.id end
  end
  state.applied = applied
  show(string.format(_("applied: %d photo(s) updated"), total))
end

local function revert()
  if not state.applied or #state.applied == 0 then return show(_("nothing to revert")) end
  local total = 0
  for _, id in ipairs(state.applied) do
    local result, err = request("POST", "/api/metadata-sync/groups/" .. id .. "/revert", json.object())
    if not result then return show(err) end
    total = total + push_results(state.images, result)
  end
  state.applied = nil
  show(string.format(_("reverted: %d photo(s) restored"), total))
end

local widget = dt.new_widget("box"){
  orientation = "vertical",
  dt.new_widget("button"){ label = _("Suggest"), clicked_callback = function() suggest() end },
  dt.new_widget("button"){ label = _("Apply"), clicked_callback = function() apply() end },
  dt.new_widget("button"){ label = _("Revert"), clicked_callback = function() revert() end },
  status_label,
  preview_view,
}

local registered = false
local function install_module()
  if registered then return end
  dt.register_lib(MODULE, "metasync", true, false,
    { [dt.gui.views.lighttable] = { "DT_UI_CONTAINER_PANEL_RIGHT_CENTER", 100 } }, widget, nil, nil)
  registered = true
end

if dt.gui.current_view().id == "lighttable" then
  install_module()
else
  dt.register_event(MODULE, "view-changed", function(_, _, new_view)
    if new_view.id == "lighttable" then install_module() end
  end)
end

script_data.destroy = function() dt.gui.libs[MODULE].visible = false end
script_data.destroy_method = "hide"
script_data.restart = function() dt.gui.libs[MODULE].visible = true end
script_data.show = script_data.restart

-- exposed for tests and for other scripts
script_data.suggest, script_data.apply, script_data.revert = suggest, apply, revert
script_data.state = state
return script_data
