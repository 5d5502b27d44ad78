-- sm.util: the few helpers every friendly module needs, once.
local M = {}

-- $name when set and not empty, else nil.
function M.env(name)
  local v = os.getenv(name)
  if v ~= nil and v ~= "" then return v end
end

-- A whole file, or nil when it cannot be read.
function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- $XDG_DATA_HOME, else ~/.local/share (XDG base directories).
function M.data_home()
  local home = M.env("HOME")
  return M.env("XDG_DATA_HOME") or (home and home .. "/.local/share") or error("HOME is not set", 0)
end

return M
