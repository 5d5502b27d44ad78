-- sm.errors: how sm fails, one rule per layer.
--
--   sm.core (C)      returns nil, "what: why", errno — never raises for an
--                    operational failure (a wrong argument type raises, as
--                    in Lua's own library).  The errno is the failure's kind.
--                    docs/lua-core.md lists every group and function;
--                    spec/core_contract_spec.lua holds each to this rule.
--   friendly layer   (sm.vm, sm.oci, sm.agent, sm.bake, sm.run, sm.daemon)
--                    raises M.fail("what failed — how to fix it") when a
--                    request cannot be carried out as asked (bad input, a
--                    missing image or snapshot, a failed step of the job);
--                    returns nil, message[, errno] from operations a caller
--                    is expected to handle — waits, probes, I/O that may time
--                    out or be retried.
--   commands         parse arguments, call the friendly layer, and decide by
--                    M.kind(errno) — never by the message's text.
--
-- A usage error prints one line and exits 2; any other failure raised with
-- M.fail prints one line and exits 1 (or the command's code, with_exit_code).
-- Anything else escaping a command is a bug and shows a traceback.
local M = {}

-- The kind of a failure, from the errno sm.core returned with it (built on
-- first use: plain-Lua specs load this module without sm.core).
local KINDS
local function kinds()
  local E = require("sm.core").sys.errno
  return {
    [E.EBADMSG] = "unsafe", [E.EFBIG] = "unsafe",	-- an image or file that breaks its format's rules
    [E.ENOENT] = "not_found",
    [E.ENETUNREACH] = "network", [E.ECONNREFUSED] = "network", [E.ETIMEDOUT] = "network",
    [E.EACCES] = "denied", [E.EPERM] = "denied",
    [E.EINVAL] = "invalid",
    [E.ENOSPC] = "no_space",
  }
end

-- "unsafe" | "not_found" | "network" | "denied" | "invalid" | "no_space" | nil
function M.kind(errno)
  if not errno then return nil end
  KINDS = KINDS or kinds()
  return KINDS[errno]
end

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
