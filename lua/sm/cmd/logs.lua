-- sm logs: what an `sm run` daemon's workers printed, or the router's own log.
local args = require "sm.args"
local core = require "sm.core"
local errors = require "sm.errors"
local run = require "sm.run"
local target = require "sm.target"

local M = {}

M.summary = "show a daemon's workload output (or its router log)"
M.usage = [[
usage: sm logs [TARGET] [-f] [--router]

Prints the output of the workers of the `sm run` daemon TARGET (a port,
a snapshot name or an image; omitted: the only daemon running): every
worker's workload stdout/stderr and guest console, each line tagged with
its worker ([w1] ...).  The log outlives the daemon: a stopped daemon's
last log stays until the next daemon on the same port.

options:
  -f, --follow   keep printing new lines until interrupted
  --router       the router's own log instead (requests it could not
                 serve, workers restored, reaped and lost)
]]

local function tail(path, follow)
  local f = io.open(path, "rb")
  if not f then errors.fail("no log at " .. path .. " — has a daemon run on that port?") end
  repeat
    local chunk = f:read(65536)
    if chunk then
      io.stdout:write(chunk)
      io.stdout:flush()
    elseif follow then
      core.sys.sleep(0.2)
    end
  until not chunk and not follow
  f:close()
end

function M.run(argv)
  local o, rest, pos = args.parse(argv, { { "follow", short = "f" }, { "router" } })
  if #rest > 0 or #pos > 1 then errors.usage_error("usage: sm logs [TARGET] [-f] [--router]") end
  local port = math.tointeger(tonumber(pos[1]))
  local d = target.daemon(pos[1])
  if not d and not port then
    errors.fail(pos[1] and ("no running daemon serves '" .. pos[1] .. "' — `sm ps` lists them (a stopped one's log: sm logs PORT)")
      or "no sm daemon is running — `sm run IMAGE --detach` starts one")
  end
  local files = run.files(d and d.port or port)
  tail(o.router and files.log or files.workers, o.follow)
  return 0
end

return M
