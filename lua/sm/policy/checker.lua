-- sm.policy.checker: one worker's health checks (docs/policies.md,
-- "Health"), in the worker's own coroutine on the daemon's loop: after
-- start_period, every interval, the check runs guarded (a raise or a
-- timeout is a failure, logged); `retries` failures in a row make the
-- worker unhealthy and the loop ends (the supervisor drains it).
--
--   checker.run(w, h, hooks)
--     w: { id =, agent = sm.policy.agent handle, ready_at = monotime }
--     h: the checked o.health (sm.policy.options)
--     hooks: { alive = fn(w) -> bool, health = fn(w, "healthy"), unhealthy = fn(w, why), log = fn(fmt, ...) }
local core = require "sm.core"
local guard = require "sm.policy.guard"
local loop = require "sm.loop"
local policy = require "sm.policy"

local M = {}

M.LAST = 10   -- results kept in ctx.last (oldest first)

local function remember(last, r)
  last[#last + 1] = r
  if #last > M.LAST then table.remove(last, 1) end
end

-- One check: healthy (bool), why (string or nil).
local function check(w, h, ctx)
  ctx.uptime = core.sys.monotime() - w.ready_at
  local ok, healthy, why = guard.call(h.name, h.timeout, h.fn, ctx, h)
  if not ok then return false, policy.oneline(healthy) end          -- guard's "name: why"
  if healthy then return true end
  return false, policy.oneline(h.name .. ": " .. (why ~= nil and tostring(why) or "said unhealthy"))
end

function M.run(w, h, hooks)
  local ctx = { vm = w.agent, worker = w.id, last = {}, uptime = 0 }
  w.health_last = ctx.last
  if h.start_period > 0 then loop.sleep(h.start_period) end
  local fails = 0
  while hooks.alive(w) do
    local healthy, why = check(w, h, ctx)
    if not hooks.alive(w) then return end
    remember(ctx.last, { ok = healthy, why = why, at = core.sys.monotime() })
    if healthy then
      if fails > 0 or w.health ~= "healthy" then hooks.health(w, "healthy") end
      fails = 0
    else
      fails = fails + 1
      hooks.log("worker %d health check failed (%d/%d): %s", w.id, fails, h.retries, why)
      if fails >= h.retries then return hooks.unhealthy(w, why) end
    end
    loop.sleep(h.interval)
  end
end

return M
