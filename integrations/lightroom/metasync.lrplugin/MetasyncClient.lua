--[[ HTTP client for the local metasync bridge, shared by the menu scripts (Lua 5.1, Lightroom SDK). ]]
local LrHttp = import "LrHttp"
local LrPrefs = import "LrPrefs"
local LrPathUtils = import "LrPathUtils"
local LrFileUtils = import "LrFileUtils"

local json = require "metasync_json"
local answer = require "metasync_answer"

local Client = {}

local function prefs()
  local p = LrPrefs.prefsForPlugin()
  if not p.bridge_url or p.bridge_url == "" then p.bridge_url = "http://127.0.0.1:8765" end
  return p
end

--- The token: the plugin preference, else the file `metasync serve` writes in the user's config dir.
function Client.token()
  local p = prefs()
  if p.token and p.token ~= "" then return p.token end
  local candidates = {}
  if WIN_ENV then
    candidates[1] = LrPathUtils.child(LrPathUtils.getStandardFilePath("appData"), "metasync/token")
  end
  candidates[#candidates + 1] = LrPathUtils.child(LrPathUtils.getStandardFilePath("home"), ".config/metasync/token")
  for _, path in ipairs(candidates) do
    if LrFileUtils.exists(path) then
      local text = LrFileUtils.readFile(path)
      if text then return (text:gsub("%s+$", "")) end
    end
  end
  return ""
end

local function url_encode(s)
  return (s:gsub("[^%w%-_%.~/]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
Client.url_encode = url_encode

--- Calls the bridge; returns the decoded answer, or nil and one message for the user.
function Client.request(method, route, body)
  local url = prefs().bridge_url:gsub("/+$", "") .. route
  local headers = {
    { field = "X-Metasync-Token", value = Client.token() },
    { field = "Content-Type", value = "application/json" },
  }
  local text, resp
  if method == "GET" then
    text, resp = LrHttp.get(url, headers, 60)
  else
    text, resp = LrHttp.post(url, json.encode(body or json.object()), headers, method, 60)
  end
  if text == nil then
    local code = resp and resp.error and resp.error.errorCode or "cannotConnectToHost"
    if code == "timedOut" then return nil, "metasync did not answer in time (" .. url .. ")" end
    return nil, "metasync bridge is not running at " .. prefs().bridge_url .. ": start it with 'metasync serve'"
  end
  return answer.read(resp and tonumber(resp.status) or 200, text, "the plug-in's token setting")
end

function Client.is_null(v) return v == nil or v == json.null end

local function keywords_of(photo)
  local by_name = {}
  for _, kw in ipairs(photo:getRawMetadata("keywords") or {}) do by_name[kw:getName()] = kw end
  return by_name
end

local function or_false(v)
  if v == nil or v == "" then return false end
  return v
end

--- What the catalog holds for a photo before Apply touches it. Plug-in preferences cannot hold nil: false = empty.
-- (city and country are only readable as formatted metadata.)
function Client.snapshot(photo)
  local gps = photo:getRawMetadata("gps")
  return {
    gps = gps and { latitude = gps.latitude, longitude = gps.longitude } or false,
    gpsAltitude = or_false(photo:getRawMetadata("gpsAltitude")),
    city = or_false(photo:getFormattedMetadata("city")),
    country = or_false(photo:getFormattedMetadata("country")),
    keywords_added = {},
  }
end

--- Pushes the bridge's resulting values into the catalog (Lightroom trusts its catalog over files).
-- `undo` (optional, by path) receives what each photo held before the first push and the keywords the push added,
-- for Revert. `opts.keywords == false` leaves keywords alone.
-- Capture time cannot be set through the SDK: the returned list tells the user which shift to enter.
function Client.push_to_catalog(catalog, photos_by_path, files, previous, undo, opts)
  local shifts = {}
  local add_keywords = not (opts and opts.keywords == false)
  catalog:withWriteAccessDo("metasync", function()
    for path, fields in pairs(files or {}) do
      local photo = photos_by_path[path]
      if photo then
        local record
        if undo then
          undo[path] = undo[path] or Client.snapshot(photo)
          record = undo[path]
        end
        local lat, lon = fields.gps_latitude, fields.gps_longitude
        if Client.is_null(lat) or Client.is_null(lon) then
          photo:setRawMetadata("gps", nil)
        else
          photo:setRawMetadata("gps", { latitude = lat, longitude = lon })
        end
        if not Client.is_null(fields.gps_altitude) then photo:setRawMetadata("gpsAltitude", fields.gps_altitude) end
        photo:setRawMetadata("city", Client.is_null(fields.city) and "" or fields.city)
        photo:setRawMetadata("country", Client.is_null(fields.country) and "" or fields.country)
        if add_keywords then
          local had = keywords_of(photo)
          for _, name in ipairs(Client.is_null(fields.tags) and {} or fields.tags) do
            if not had[name] then
              photo:addKeyword(catalog:createKeyword(name, {}, true, nil, true))
              had[name] = true
              if record then record.keywords_added[#record.keywords_added + 1] = name end
            end
          end
        end
        local before = previous and previous[path]
        if before and before.datetime_original ~= fields.datetime_original then
          shifts[#shifts + 1] = { path = path, old = before.datetime_original, new = fields.datetime_original }
        end
      end
    end
  end, { timeout = 30 })
  return shifts
end

--- Puts back what `push_to_catalog` recorded in `undo`: GPS, altitude, city, country as they were, and removes
-- only the keywords Apply added (keywords the photo had before stay). Returns the set of paths restored.
function Client.restore_catalog(catalog, undo)
  local restored = {}
  catalog:withWriteAccessDo("metasync revert", function()
    for path, before in pairs(undo or {}) do
      local photo = catalog:findPhotoByPath(path)
      if photo then
        photo:setRawMetadata("gps", before.gps or nil)
        photo:setRawMetadata("gpsAltitude", before.gpsAltitude or nil)
        photo:setRawMetadata("city", before.city or "")
        photo:setRawMetadata("country", before.country or "")
        local have = keywords_of(photo)
        for _, name in ipairs(before.keywords_added or {}) do
          if have[name] then photo:removeKeyword(have[name]) end
        end
        restored[path] = true
      end
    end
  end, { timeout = 30 })
  return restored
end

-- days since 1970-01-01 of a proleptic Gregorian date (plain arithmetic: time zones do not matter for a difference)
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

--- "shift by +1:03:20" between two ISO times (same offset assumed), for Metadata > Edit Capture Time.
function Client.shift_text(old, new)
  local function secs(iso)
    if Client.is_null(iso) then return nil end
    local y, mo, d, h, mi, s = tostring(iso):match("^(%d+)-(%d+)-(%d+)[T ](%d+):(%d+):(%d+)")
    if not y then return nil end
    return days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
      + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
  end
  local a, b = secs(old), secs(new)
  if not a or not b then return nil end
  local delta = b - a
  local sign = delta < 0 and "−" or "+"
  delta = math.abs(delta)
  return string.format("shift by %s%d:%02d:%02d", sign, math.floor(delta / 3600), math.floor(delta / 60) % 60, delta % 60)
end

return Client
