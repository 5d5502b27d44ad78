-- sm.errors: how a command fails.  A usage error prints one line and exits 2;
-- any other error raised as sm.errors.fail(...) prints one line and exits 1.
-- Anything else escaping a command is a bug and shows a traceback.
local M = {}

local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(e) return e.msg end

local function prefix(cmd) return cmd and ("sm " .. cmd .. ": ") or "sm: " end

function M.usage(cmd, msg)
  io.stderr:write(prefix(cmd), msg, "\n")
  return 2
end

-- Raise a failure the user can act on: M.fail("what failed — how to fix it").
function M.fail(msg, code)
  error(setmetatable({ msg = msg, code = code or 1 }, Failure), 0)
end

function M.usage_error(msg) M.fail(msg, 2) end

function M.is_failure(e) return getmetatable(e) == Failure end

-- fn(...)'s results; a failure it raises (other than a usage error) exits
-- with `code` instead of 1: sm boot, restore and exec keep 1..124 for the
-- workload's own status and report their own failures as 125.
function M.with_exit_code(code, fn, ...)
  local res = table.pack(pcall(fn, ...))
  if res[1] then return table.unpack(res, 2, res.n) end
  local e = res[2]
  if M.is_failure(e) and e.code ~= 2 then e.code = code end
  error(e, 0)
end

function M.protect(cmd, fn, ...)
  local ok, res = xpcall(fn, function(e)
    if M.is_failure(e) then return e end
    return debug.traceback(tostring(e), 2)
  end, ...)
  if ok then return res or 0 end
  if M.is_failure(res) then
    io.stderr:write(prefix(cmd), res.msg, "\n")
    return res.code
  end
  io.stderr:write(prefix(cmd), "internal error: ", res, "\n")
  return 70
end

return M
