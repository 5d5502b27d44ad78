-- sm ps: the running `sm run` daemons; stale pid files are swept.
local args = require "sm.args"
local errors = require "sm.errors"
local run = require "sm.run"
local cjson = require "cjson"

local M = {}

M.summary = "list running sm run daemons"
M.usage = [[
usage: sm ps [--format table|json]

Lists the daemons started by `sm run` (foreground or --detach): PORT, PID,
SNAPSHOT, WORKERS (live workers, from the daemon's /_health), HEALTH (its
workers' health checks: e.g. "2 healthy, 1 unhealthy"; "-" without checks,
docs/policies.md), RM (whether --rm will remove the snapshot when it stops)
and ENDPOINT.  The pid file of a daemon that is gone (killed, crashed) is
removed.  --format json prints one JSON array of the same fields, with
"pool": the per-worker entries of /_health (docs/router.md).
]]

-- "2 healthy, 1 unhealthy" from /_health's pool; "-" when no worker is checked.
function M.health_summary(pool)
  local n, order = {}, { "healthy", "starting", "unhealthy" }
  local known = { healthy = true, starting = true, unhealthy = true }   -- "none": not checked
  for _, w in ipairs(type(pool) == "table" and pool or {}) do
    if type(w) == "table" and known[w.health] then n[w.health] = (n[w.health] or 0) + 1 end
  end
  local parts = {}
  for _, k in ipairs(order) do if n[k] then parts[#parts + 1] = n[k] .. " " .. k end end
  return #parts > 0 and table.concat(parts, ", ") or "-"
end

function M.run(argv)
  local o, rest, pos = args.parse(argv, { { "format", arg = "FMT" } })
  if #rest > 0 or #pos > 0 then errors.usage_error("takes no arguments — see `sm ps --help`") end
  local fmt = o.format or "table"
  if fmt ~= "table" and fmt ~= "json" then errors.usage_error("--format must be table or json") end
  local rows = {}
  for _, d in ipairs(run.daemons()) do
    local h = run.health(d.port)
    rows[#rows + 1] = { port = d.port, pid = d.pid, snapshot = d.snapshot or "?", rm = d.rm,
      workers = h and h.workers and math.tointeger(h.workers.live) or cjson.null,
      health = h and M.health_summary(h.pool) or cjson.null, pool = h and h.pool or cjson.null,
      endpoint = require("sm.tls").endpoint(d.port, run.tls_of(d.port)) }
  end
  if fmt == "json" then
    io.stdout:write(#rows == 0 and "[]" or cjson.encode(rows), "\n")
    return 0
  end
  local fmt_row = "%-5s  %-7s  %-24s  %-7s  %-22s  %-3s  %s\n"
  io.stdout:write(string.format(fmt_row, "PORT", "PID", "SNAPSHOT", "WORKERS", "HEALTH", "RM", "ENDPOINT"))
  for _, r in ipairs(rows) do
    io.stdout:write(string.format(fmt_row, r.port, r.pid, r.snapshot, r.workers == cjson.null and "?" or tostring(r.workers),
      r.health == cjson.null and "?" or r.health, r.rm and "yes" or "no", r.endpoint))
  end
  return 0
end

return M
