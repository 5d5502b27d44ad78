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

-- One "sm run: trace: ..." line on stderr when SM_RUN_TRACE=1 (the bake's
-- and the daemon's phases, docs/run.md).
function M.run_trace(fmt, ...)
  if M.env("SM_RUN_TRACE") == "1" then io.stderr:write("sm run: trace: ", string.format(fmt, ...), "\n") end
end

-- The last n lines of s (trailing blank space dropped).
function M.tail_lines(s, n)
  s = (s or ""):gsub("%s+$", "")
  local lines = {}
  for l in s:gmatch("[^\n]+") do lines[#lines + 1] = l end
  return table.concat(lines, "\n", math.max(1, #lines - n + 1))
end

return M
