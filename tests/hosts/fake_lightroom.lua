-- An emulated Lightroom Classic SDK for tests (Lua 5.1): LrHttp is real HTTP through Python,
-- dialogs answer from a script, the catalog records every write.
local host = ...
local sdk, prefs = {}, {}
local catalog = { photos = {}, writes = {}, keywords = {} }

-- Lightroom refuses catalog writes outside withWriteAccessDo; so does the emulation
local writing = false
local function must_write(what)
  if not writing then error(what .. " outside catalog:withWriteAccessDo", 3) end
end

function catalog:getTargetPhotos() return self.photos end
function catalog:withWriteAccessDo(name, f, params)
  assert(type(name) == "string" and type(f) == "function", "withWriteAccessDo(actionName, func, params)")
  writing = true
  local ok, err = pcall(f)
  writing = false
  if not ok then error(err, 0) end
end
function catalog:createKeyword(name, synonyms, include, parent, return_existing)
  must_write("createKeyword")
  if not self.keywords[name] then
    local kw = { name = name }
    function kw:getName() return self.name end
    self.keywords[name] = kw
  end
  return self.keywords[name]
end
function catalog:findPhotoByPath(path)
  for _, photo in ipairs(self.photos) do
    if photo.path == path then return photo end
  end
  return nil
end

local function is_keyword(kw) return type(kw) == "table" and type(kw.getName) == "function" end

-- add_photo(path[, raw fields already in the catalog[, keyword names the user already has]])
function sdk.add_photo(path, fields, keyword_names)
  local photo = { path = path, raw = { path = path }, keywords = {} }
  for k, v in pairs(fields or {}) do photo.raw[k] = v end
  function photo:getRawMetadata(key)
    if key == "keywords" then
      local list = {}
      for name in pairs(self.keywords) do list[#list + 1] = catalog.keywords[name] end
      table.sort(list, function(a, b) return a.name < b.name end)
      return list
    end
    return self.raw[key]
  end
  function photo:getFormattedMetadata(key) return self.raw[key] end
  function photo:setRawMetadata(key, value)
    must_write("setRawMetadata")
    catalog.writes[#catalog.writes + 1] = { path = self.path, key = key, value = value }
    self.raw[key] = value
  end
  local function keyword_method(name, key, present)
    return function(self, kw)
      must_write(name)
      if not is_keyword(kw) then error(name .. " takes an LrKeyword", 2) end
      catalog.writes[#catalog.writes + 1] = { path = self.path, key = key, value = kw.name }
      self.keywords[kw.name] = present
    end
  end
  photo.addKeyword = keyword_method("addKeyword", "keyword", true)
  photo.removeKeyword = keyword_method("removeKeyword", "removeKeyword", nil)
  writing = true
  for _, name in ipairs(keyword_names or {}) do photo.keywords[catalog:createKeyword(name).name] = true end
  writing = false
  catalog.photos[#catalog.photos + 1] = photo
  return photo
end

function sdk.set_prefs(url, token) prefs.bridge_url, prefs.token = url, token end
sdk.catalog, sdk.prefs = catalog, prefs

local function check_text(fn, name, v)
  if type(v) ~= "string" or v == "" then
    error(string.format("LrDialogs.%s: %s must be a non-empty string, got %s", fn, name, type(v)), 3)
  end
  if v == "metasync" then
    error(string.format("LrDialogs.%s: the first argument is the message itself, not a title (got %q)", fn, v), 3)
  end
end
local function check_optional(fn, name, v)
  if v ~= nil and type(v) ~= "string" then
    error(string.format("LrDialogs.%s: %s must be a string or nil, got %s", fn, name, type(v)), 3)
  end
end

-- plug-ins must use LrDate, not os.time: the emulation keeps it for itself and takes it away from the plug-in
local real_os_time = os.time
os.time = nil

local namespaces = {
  LrHttp = {
    get = function(url, headers, timeout) return host.http("GET", url, nil, headers, timeout) end,
    post = function(url, body, headers, method, timeout)
      return host.http(method or "POST", url, body, headers, timeout)
    end,
  },
  LrTasks = { startAsyncTask = function(f) return f() end, sleep = function() end, pcall = pcall },
  LrApplication = { activeCatalog = function() return catalog end },
  LrDialogs = {
    -- LrDialogs.message(message, info, style) and confirm(message, info, actionVerb, cancelVerb, otherVerb):
    -- the main text comes first, there is no title argument
    message = function(message, info, style)
      check_text("message", "message", message)
      check_optional("message", "info", info)
      if style ~= nil and style ~= "info" and style ~= "warning" and style ~= "critical" then
        error("LrDialogs.message: style must be nil, 'info', 'warning' or 'critical', got " .. tostring(style), 2)
      end
      host.dialog("message", message, info, style)
    end,
    confirm = function(message, info, actionVerb, cancelVerb, otherVerb)
      check_text("confirm", "message", message)
      check_optional("confirm", "info", info)
      check_optional("confirm", "actionVerb", actionVerb)
      check_optional("confirm", "cancelVerb", cancelVerb)
      check_optional("confirm", "otherVerb", otherVerb)
      return host.dialog("confirm", message, info, actionVerb, cancelVerb, otherVerb)
    end,
    presentModalDialog = function(args)
      return host.dialog("modal", args.contents[1].title, args.title)
    end,
  },
  LrDate = {
    -- seconds since 2001-01-01 UTC (Cocoa reference date), like Lightroom
    currentTime = function() return real_os_time() - 978307200 end,
  },
  LrProgressScope = setmetatable({}, { __call = function(_, args)
    return { setPortionComplete = function() end, setCaption = function() end, isCanceled = function() return false end,
             done = function() end }
  end }),
  LrFunctionContext = { callWithContext = function(name, f) return f({}) end },
  LrView = { osFactory = function()
    return { column = function(self, t) return t end, static_text = function(self, t) return t end }
  end },
  LrPrefs = { prefsForPlugin = function() return prefs end },
  LrPathUtils = { child = function(a, b) return a .. "/" .. b end, getStandardFilePath = function() return "/nonexistent" end },
  LrFileUtils = { exists = function() return false end, readFile = function() return nil end },
}

function sdk.import(name)
  local ns = namespaces[name]
  if not ns then error("unknown SDK namespace " .. tostring(name)) end
  return ns
end

function sdk.LOC(key) return (key:match("=(.*)$")) or key end
return sdk
