--[[ Library > Plug-in Extras > metasync: Revert last… — revert the groups applied last, update the catalog. ]]
local LrApplication = import "LrApplication"
local LrTasks = import "LrTasks"
local LrDialogs = import "LrDialogs"
local LrPrefs = import "LrPrefs"

local Client = require "MetasyncClient"

LrTasks.startAsyncTask(function()
  local prefs = LrPrefs.prefsForPlugin()
  local ids = prefs.last_groups or ""
  if ids == "" then
    LrDialogs.message("metasync", "Nothing to revert.", "info")
    return
  end
  if LrDialogs.confirm("metasync", "Revert the last applied suggestions (groups " .. ids .. ")?", "Revert") ~= "ok" then
    return
  end
  local catalog = LrApplication.activeCatalog()
  local by_path = {}
  for _, photo in ipairs(catalog:getTargetPhotos()) do by_path[photo:getRawMetadata("path")] = photo end
  for id in ids:gmatch("%d+") do
    local result, err = Client.request("POST", "/api/metadata-sync/groups/" .. id .. "/revert")
    if not result then
      LrDialogs.message("metasync", err, "critical")
      return
    end
    Client.push_to_catalog(catalog, by_path, result.files, nil)
  end
  prefs.last_groups = ""
  LrDialogs.message("metasync", "Reverted groups " .. ids .. ".", "info")
end, "metasync revert")
