-- sm.target: what a command's TARGET names, resolved in one place.
-- A TARGET is the name of a detached VM (sm boot --detach --name), or an
-- `sm run` daemon by its port, its snapshot's name or its image reference;
-- omitted, it is the only one running.
local errors = require "sm.errors"
local vm = require "sm.vm"

local M = {}

-- A live worker of daemon d, as a VM object with an agent: the first whose
-- agent answers; while none does, SIGUSR1 asks the daemon to restore one,
-- again every second: a request that arrives while the daemon still counts
-- a worker that has just died (and that its restart policy will not
-- replace) restores nothing.
function M.daemon_worker(d, timeout)
  local core = require "sm.core"
  local agent = require "sm.agent"
  local dir = require("sm.daemon").worker_dir(d.port)
  local deadline, ask_at = core.sys.monotime() + (timeout or 120), 0
  repeat
    for _, name in ipairs(core.fs.readdir(dir) or {}) do
      local uds = dir .. "/" .. name
      if name:match("^w%d+%.sock$") and agent.ping(uds, 5) then return vm.from_socket(uds, name) end
    end
    if core.sys.monotime() >= ask_at then
      core.proc.kill(d.pid, 10)
      ask_at = core.sys.monotime() + 1
    end
    core.sys.sleep(0.1)
  until core.sys.monotime() >= deadline
  errors.fail(string.format("no worker of the daemon on port %d answered in %d s — see sm logs --router %d",
    d.port, timeout or 120, d.port))
end

-- -> a VM object with an agent, or raises a failure the user can act on.
-- TARGET: a detached VM's name, or a daemon's port, snapshot name or image.
function M.resolve(target)
  local d = M.daemon(target)
  if d and (target ~= nil or #vm.list_detached() == 0) then return M.daemon_worker(d) end
  if target == nil then
    local names = vm.list_detached()
    if #names == 0 then errors.fail("no running VM — start one with sm run IMAGE --detach (or sm boot --detach --name NAME)") end
    if #names > 1 or d then
      errors.usage_error("several VMs are running (" .. table.concat(names, ", ") .. (d and ", a daemon" or "") .. ") — name one")
    end
    target = names[1]
  end
  local v, err = vm.attach(target)
  if not v then errors.fail(err .. " — see sm ps and sm boot --detach") end
  return v
end

-- The `sm run` daemon TARGET names: a port, a snapshot name or an image
-- reference; omitted, the only one running.  Returns the sm.run.daemon
-- record, or nil when TARGET names no daemon (it may name a VM).
function M.daemon(t)
  local run = require "sm.run"
  local list = run.daemons()
  if t == nil then
    if #list > 1 then
      local ports = {}
      for _, d in ipairs(list) do ports[#ports + 1] = tostring(d.port) end
      errors.usage_error("several daemons are running (ports " .. table.concat(ports, ", ") .. ") — name one by port or snapshot")
    end
    return list[1]
  end
  local port = math.tointeger(tonumber(t))
  local name = not port and run.snapshot_name(t)
  for _, d in ipairs(list) do
    if d.port == port or d.snapshot == t or d.snapshot == name then return d end
  end
end

return M
