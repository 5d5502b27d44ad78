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
SNAPSHOT, WORKERS (live workers, from the daemon's /_health), RM (whether
--rm will remove the snapshot when it stops) and ENDPOINT.  The pid file
of a daemon that is gone (killed, crashed) is removed.
--format json prints one JSON array of the same fields.
]]

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
      endpoint = string.format("http://127.0.0.1:%d/", d.port) }
  end
  if fmt == "json" then
    io.stdout:write(#rows == 0 and "[]" or cjson.encode(rows), "\n")
    return 0
  end
  io.stdout:write(string.format("%-5s  %-7s  %-24s  %-7s  %-3s  %s\n", "PORT", "PID", "SNAPSHOT", "WORKERS", "RM", "ENDPOINT"))
  for _, r in ipairs(rows) do
    io.stdout:write(string.format("%-5d  %-7d  %-24s  %-7s  %-3s  %s\n", r.port, r.pid, r.snapshot,
      r.workers == cjson.null and "?" or tostring(r.workers), r.rm and "yes" or "no", r.endpoint))
  end
  return 0
end

return M
