-- Reads a metasync bridge answer the same way in every host plugin (Lua 5.1 subset).
local json = require "metasync_json"

local answer = {}

--- Decoded JSON for a 2xx answer, else nil and one message for the user.
-- `token_hint` says where this host keeps the token, for the 401 message.
function answer.read(status, text, token_hint)
  if status == 401 then return nil, "metasync refused the token: check " .. token_hint end
  local ok, data = pcall(json.decode, text or "")
  if not ok then return nil, "metasync sent an unreadable answer (HTTP " .. status .. ")" end
  if status >= 400 then
    local err = type(data) == "table" and data.error or nil
    return nil, "metasync: " .. ((type(err) == "table" and err.message) or ("HTTP " .. status))
  end
  return data
end

return answer
