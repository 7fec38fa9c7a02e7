--[[ Library > Plug-in Extras > metasync: Suggest… — preview, confirm, apply, push into the catalog. ]]
local LrApplication = import "LrApplication"
local LrTasks = import "LrTasks"
local LrDialogs = import "LrDialogs"
local LrProgressScope = import "LrProgressScope"
local LrFunctionContext = import "LrFunctionContext"
local LrView = import "LrView"
local LrPrefs = import "LrPrefs"
local LrDate = import "LrDate"

local Client = require "MetasyncClient"

local function fmt(v)
  if Client.is_null(v) then return "–" end
  if type(v) == "table" then return table.concat(v, ", ") end
  return tostring(v)
end

local function preview_text(groups)
  local lines = {}
  for _, g in ipairs(groups) do
    lines[#lines + 1] = string.format("Group %d — %d%% (%s)", g.id, math.floor((g.confidence or 0) * 100 + 0.5), g.band or "")
    for _, c in ipairs(g.detail.changes or {}) do
      lines[#lines + 1] = string.format("   %s  %s: %s → %s%s — %s", c.path:match("[^/\\]+$") or c.path, c.field,
        fmt(c.old), fmt(c.new), c.conflict and " [conflict]" or "", c.reason or "")
    end
  end
  return table.concat(lines, "\n")
end

local function run(context)
  local catalog = LrApplication.activeCatalog()
  local photos = catalog:getTargetPhotos()
  if #photos == 0 then
    LrDialogs.message("metasync: select photos first.", nil, "info")
    return
  end
  local by_path, previous, query = {}, {}, {}
  for i, photo in ipairs(photos) do
    local path = photo:getRawMetadata("path")
    by_path[path] = photo
    query[i] = "path=" .. Client.url_encode(path)
  end

  local progress = LrProgressScope { title = "metasync: looking for suggestions", functionContext = context }
  local groups, err = Client.request("GET", "/api/metadata-sync/suggestions?" .. table.concat(query, "&"))
  if groups and groups.suggestions then groups = groups.suggestions end
  if not groups then
    progress:done()
    LrDialogs.message(err, nil, "critical")
    return
  end
  for i, g in ipairs(groups) do
    progress:setPortionComplete(i - 1, #groups)
    local detail, derr = Client.request("GET", "/api/metadata-sync/groups/" .. g.id)
    if not detail then
      progress:done()
      LrDialogs.message(derr, nil, "critical")
      return
    end
    g.detail = detail
    for _, c in ipairs(detail.changes or {}) do
      previous[c.path] = previous[c.path] or {}
      if c.field == "datetime_original" then previous[c.path].datetime_original = c.old end
    end
  end
  progress:done()
  if #groups == 0 then
    LrDialogs.message("metasync: nothing to suggest for these photos.", nil, "info")
    return
  end

  local f = LrView.osFactory()
  local answer = LrDialogs.presentModalDialog {
    title = "metasync: preview",
    contents = f:column { f:static_text { title = preview_text(groups), width_in_chars = 90, height_in_lines = 20 } },
    actionVerb = "Apply",
  }
  if answer ~= "ok" then return end

  -- what the catalog held before (for Revert), saved after every group so a failure half-way stays revertible
  local prefs = LrPrefs.prefsForPlugin()
  local applied, notes, undo = {}, {}, {}
  for _, g in ipairs(groups) do
    local result, aerr = Client.request("POST", "/api/metadata-sync/groups/" .. g.id .. "/apply",
      { host = "lightroom", min_confidence = 0.7 })
    if not result then
      LrDialogs.message(aerr, #applied > 0 and ("Groups applied before the error: " .. table.concat(applied, ",")
        .. " (metasync: Revert last… takes them back).") or nil, "critical")
      return
    end
    applied[#applied + 1] = g.id
    for _, s in ipairs(Client.push_to_catalog(catalog, by_path, result.files, previous, undo)) do
      local text = Client.shift_text(s.old, s.new)
      if text then notes[#notes + 1] = (s.path:match("[^/\\]+$") or s.path) .. ": " .. text end
    end
    prefs.last_groups = table.concat(applied, ",")
    prefs.last_undo = undo
    prefs.last_applied_at = LrDate.currentTime()
  end
  local info = nil
  if #notes > 0 then
    info = "Capture time cannot be set by a plug-in. In Metadata › Edit Capture Time:\n" .. table.concat(notes, "\n")
  end
  LrDialogs.message(string.format("Applied %d group(s).", #applied), info, "info")
end

LrTasks.startAsyncTask(function()
  LrFunctionContext.callWithContext("metasync.suggest", run)
end, "metasync suggest")
