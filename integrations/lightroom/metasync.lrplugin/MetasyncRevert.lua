--[[ Library > Plug-in Extras > metasync: Revert last… — revert the groups applied last (files through the bridge),
     then put back in the catalog every value Apply set: GPS, altitude, city, country, and remove the keywords
     Apply added (only those). ]]
local LrApplication = import "LrApplication"
local LrTasks = import "LrTasks"
local LrDialogs = import "LrDialogs"
local LrPrefs = import "LrPrefs"

local Client = require "MetasyncClient"

LrTasks.startAsyncTask(function()
  local prefs = LrPrefs.prefsForPlugin()
  local ids = prefs.last_groups or ""
  if ids == "" then
    LrDialogs.message("metasync: nothing to revert.", "No suggestions were applied since the last revert.", "info")
    return
  end
  if LrDialogs.confirm("Revert the last applied metasync suggestions?",
      "Groups " .. ids .. ": the sidecars are restored and the catalog gets back its previous GPS, place and "
      .. "keywords.", "Revert", "Cancel") ~= "ok" then
    return
  end
  local catalog = LrApplication.activeCatalog()
  local undo = prefs.last_undo or {}
  local by_path = {}
  for _, photo in ipairs(catalog:getTargetPhotos()) do by_path[photo:getRawMetadata("path")] = photo end
  local list = {}
  for id in ids:gmatch("%d+") do list[#list + 1] = id end
  for i = #list, 1, -1 do  -- latest first, the reverse of Apply
    local id = list[i]
    local result, err = Client.request("POST", "/api/metadata-sync/groups/" .. id .. "/revert")
    if not result then
      LrDialogs.message(err, "The catalog is put back once every group is reverted: run Revert again when the "
        .. "bridge answers.", "critical")
      return
    end
    prefs.last_groups = table.concat(list, ",", 1, i - 1)  -- a later retry does not revert this group twice
    -- photos Apply did not record (older plug-in version): take the files' values, leave keywords alone
    local unrecorded = {}
    for path, fields in pairs(result.files or {}) do
      if not undo[path] then
        unrecorded[path] = fields
        by_path[path] = by_path[path] or catalog:findPhotoByPath(path)
      end
    end
    Client.push_to_catalog(catalog, by_path, unrecorded, nil, nil, { keywords = false })
  end
  Client.restore_catalog(catalog, undo)
  prefs.last_groups = ""
  prefs.last_undo = nil
  LrDialogs.message("Reverted groups " .. ids .. ".", nil, "info")
end, "metasync revert")
