-- sm.policy.guard: every policy, health check and hook runs through here
-- (docs/policies.md, "Containment").  The call gets its own coroutine on
-- the daemon's loop, so it may wait (exec in the guest, sleep) without
-- holding anything up; an error or a timeout becomes a result, never a
-- daemon crash.  A function that computes without yielding cannot be
-- preempted by a timer, so an instruction-count hook stops it once it has
-- run SLICE_S seconds since its last resume (C code it calls is not
-- interrupted: a blocking C call is still a blocking call).
--
--   ok, ... = guard.call(name, timeout_s, fn, ...)   -- inside a loop coroutine
--   -- true, fn's results | false, "name: why" (raised, timed out, ran too long)
local core = require "sm.core"
local loop = require "sm.loop"

local M = {}

M.SLICE_S = 0.2        -- the longest a guarded function may run between yields
M.HOOK_EVERY = 1000    -- VM instructions between the hook's clock checks

local function limit(co, st)
  debug.sethook(co, function()
    if st.abandoned then error("abandoned: it outlived its timeout", 0) end
    local ran = core.sys.monotime() - (loop.resumed_at or 0)
    if ran > M.SLICE_S then
      error(string.format("ran %.2f s without yielding (more than %g s): stopped", ran, M.SLICE_S), 0)
    end
  end, "", M.HOOK_EVERY)
end

function M.call(name, timeout, fn, ...)
  local done, st, args = loop.event(), {}, table.pack(...)
  local co = coroutine.create(function()
    local r = table.pack(pcall(fn, table.unpack(args, 1, args.n)))
    if not st.abandoned then done:set(r) end
  end)
  limit(co, st)
  loop.resume(co)
  local r = done:wait(timeout)
  if type(r) ~= "table" then
    st.abandoned = true
    return false, string.format("%s: no answer within %g s", name, timeout)
  end
  if not r[1] then return false, name .. ": " .. tostring(r[2]) end
  return true, table.unpack(r, 2, r.n)
end

return M
