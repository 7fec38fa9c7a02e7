-- An emulated Lightroom Classic SDK for tests (Lua 5.1): LrHttp is real HTTP through Python,
-- dialogs answer from a script, the catalog records every write.
local host = ...
local sdk, prefs = {}, {}
local catalog = { photos = {}, writes = {}, keywords = {} }

function catalog:getTargetPhotos() return self.photos end
function catalog:withWriteAccessDo(name, f, params) return f() end
function catalog:createKeyword(name, synonyms, include, parent, return_existing)
  self.keywords[name] = self.keywords[name] or { name = name }
  return self.keywords[name]
end

function sdk.add_photo(path)
  local photo = { path = path, raw = { path = path }, keywords = {} }
  function photo:getRawMetadata(key) return self.raw[key] end
  function photo:setRawMetadata(key, value)
    catalog.writes[#catalog.writes + 1] = { path = self.path, key = key, value = value }
    self.raw[key] = value
  end
  function photo:addKeyword(kw)
    catalog.writes[#catalog.writes + 1] = { path = self.path, key = "keyword", value = kw.name }
    self.keywords[kw.name] = true
  end
  catalog.photos[#catalog.photos + 1] = photo
  return photo
end

function sdk.set_prefs(url, token) prefs.bridge_url, prefs.token = url, token end
sdk.catalog, sdk.prefs = catalog, prefs

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
    message = function(title, text, style) host.dialog("message", title, text) end,
    confirm = function(title, text) return host.dialog("confirm", title, text) end,
    presentModalDialog = function(args)
      return host.dialog("modal", args.title, args.contents[1].title)
    end,
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
