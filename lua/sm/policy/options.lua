-- sm.policy.options: the daemon's policy options (docs/policies.md), checked
-- once when it starts: a wrong one is one clear error naming the field.
--
--   p = options.check(o)  -- raises "health.interval: ..." etc.
--   p = { health = nil | { fn =, name =, interval =, timeout =, retries =, start_period =,
--                          path =, port =, cmd = },
--         restart = { fn =, name = }, after_restore = fn|nil, before_stop = fn|nil,
--         hook_timeout = s, policy_timeout = s }
local agent = require "sm.policy.agent"
local policy = require "sm.policy"

local M = {}

M.HEALTH_DEFAULTS = { interval = 30, timeout = 5, retries = 3, start_period = 0 }
M.HOOK_TIMEOUT_S = 30
M.POLICY_TIMEOUT_S = 1
local HEALTH_FIELDS = { check = true, path = true, port = true, cmd = true, interval = true, timeout = true,
  retries = true, start_period = true }

local function bad(fmt, ...) error(string.format(fmt, ...), 0) end

local function seconds(t, k, lo, hi)
  local v = t[k]
  if type(v) ~= "number" or v ~= v or v < lo or v > hi then
    bad("health.%s = %s: must be %g..%g seconds", k, tostring(v), lo, hi)
  end
  return v
end

local function health(h)
  if type(h) ~= "table" then bad("health: expected a table, got %s", type(h)) end
  for k in pairs(h) do
    if not HEALTH_FIELDS[k] then bad("health.%s: unknown field (known: check, path, port, cmd, interval, timeout, retries, start_period)", tostring(k)) end
  end
  local fn, name = policy.health(h.check or (h.cmd and "cmd") or "http")
  if not fn then bad("health.check: %s", name) end
  local c = { fn = fn, name = name, path = h.path, port = h.port, cmd = h.cmd }
  for k, v in pairs(M.HEALTH_DEFAULTS) do c[k] = h[k] == nil and v or h[k] end
  seconds(c, "interval", 0.05, 86400)
  seconds(c, "timeout", 0.05, 3600)
  seconds(c, "start_period", 0, 86400)
  if math.type(c.retries) ~= "integer" or c.retries < 1 or c.retries > 100 then
    bad("health.retries = %s: must be a whole number 1..100", tostring(c.retries))
  end
  if c.port ~= nil and (math.type(c.port) ~= "integer" or c.port < 1 or c.port > 65535) then
    bad("health.port = %s: must be 1..65535", tostring(c.port))
  end
  if c.path ~= nil and not agent.valid_path(c.path) then
    bad("health.path = %q: must start with / and hold visible ASCII only", tostring(c.path))
  end
  if name == "health/cmd" and type(c.cmd) ~= "string" and type(c.cmd) ~= "table" then
    bad("health.cmd: the cmd check needs a command (a shell string or an argv table)")
  end
  return c
end

local function hook(o, k)
  if o[k] ~= nil and type(o[k]) ~= "function" then bad("%s: expected a function, got %s", k, type(o[k])) end
  return o[k]
end

function M.check(o)
  local p = { after_restore = hook(o, "after_restore"), before_stop = hook(o, "before_stop"),
    hook_timeout = o.hook_timeout or M.HOOK_TIMEOUT_S, policy_timeout = o.policy_timeout or M.POLICY_TIMEOUT_S }
  if o.health ~= nil then p.health = health(o.health) end
  local fn, name = policy.restart(o.restart or "no")
  if not fn then bad("restart: %s", name) end
  p.restart = { fn = fn, name = name }
  return p
end

return M
