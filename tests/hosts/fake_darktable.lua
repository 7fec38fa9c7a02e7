-- An emulated darktable Lua API (9.x) for tests: images are tables whose writes are recorded,
-- dt.control.execute runs the real shell command (real curl), widgets are plain tables.
local host = ...            -- Python object: execute(cmd) -> rc, tmp_dir
local dt = { configuration = { tmp_dir = host.tmp_dir, running_os = "linux", api_version_string = host.api_version,
                               api_version_major = 9, api_version_minor = 4, api_version_patch = 0 } }
dt.messages, dt.writes, dt.libs_registered = {}, {}, {}
dt.print = function(msg) dt.messages[#dt.messages + 1] = msg end
dt.print_error, dt.print_log = dt.print, function() end
dt.gettext = { gettext = function(s) return s end }

local prefs = {}
dt.preferences = {
  register = function(script, name, kind, label, tooltip, default) prefs[script .. "/" .. name] = default end,
  read = function(script, name, kind) return prefs[script .. "/" .. name] end,
  write = function(script, name, kind, value) prefs[script .. "/" .. name] = value end,
}

dt.gui = { views = { lighttable = { id = "lighttable" } }, action_images = {}, libs = {} }
dt.gui.current_view = function() return dt.gui.views.lighttable end
dt.register_event = function() end
dt.register_lib = function(name, label, expandable, resettable, containers, widget)
  dt.libs_registered[name] = widget
  dt.gui.libs[name] = { visible = true }
end
dt.new_widget = function(kind)
  return function(props)
    props.kind = kind
    return props
  end
end
dt.control = { execute = function(cmd) return host.execute(cmd) end }

-- tags
local tags_by_name, image_tags = {}, {}
dt.tags = {
  create = function(name)
    tags_by_name[name] = tags_by_name[name] or { name = name }
    return tags_by_name[name]
  end,
  find = function(name) return tags_by_name[name] end,
  attach = function(tag, image) image_tags[image][tag.name] = tag end,
  detach = function(tag, image) image_tags[image][tag.name] = nil end,
  get_tags = function(image)
    local out = {}
    for _, t in pairs(image_tags[image]) do out[#out + 1] = t end
    table.sort(out, function(a, b) return a.name < b.name end)
    return out
  end,
}

-- images: reads come from a backing table, writes are recorded then stored
dt.new_image = function(dir, filename, fields, with_apply_sidecar)
  local backing = { path = dir, filename = filename, sidecar = dir .. "/" .. filename .. ".xmp" }
  for k, v in pairs(fields or {}) do backing[k] = v end
  local known = { path = true, filename = true, sidecar = true, latitude = true, longitude = true,
                  elevation = true, exif_datetime_taken = true, rating = true, apply_sidecar = with_apply_sidecar }
  local image = setmetatable({}, {
    -- like darktable: reading a field the image type does not have raises
    __index = function(t, k)
      if backing[k] ~= nil or known[k] then return backing[k] end
      error('field "' .. tostring(k) .. '" not found for type dt_lua_image_t', 2)
    end,
    __newindex = function(t, k, v)
      dt.writes[#dt.writes + 1] = { image = backing.filename, key = k, value = v }
      backing[k] = v
    end,
  })
  if with_apply_sidecar then
    backing.apply_sidecar = function(self, file)
      dt.writes[#dt.writes + 1] = { image = backing.filename, key = "apply_sidecar", value = file }
    end
  end
  image_tags[image] = {}
  return image
end

-- find a button of the registered module by its label and click it
dt.click = function(module, label)
  for _, w in ipairs(dt.libs_registered[module]) do
    if w.kind == "button" and w.label == label then return w.clicked_callback(w) end
  end
  error("no button " .. label)
end

dt.widget_text = function(module)
  local parts = {}
  for _, w in ipairs(dt.libs_registered[module]) do
    if w.kind == "text_view" then parts[#parts + 1] = w.text end
    if w.kind == "label" then parts[#parts + 1] = w.label end
  end
  return table.concat(parts, "\n")
end
return dt
