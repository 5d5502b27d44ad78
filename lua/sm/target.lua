-- sm.target: what a command's TARGET names, resolved in one place.
-- A TARGET is the name of a detached VM (sm boot --detach --name), or an
-- `sm run` daemon by its port, its snapshot's name or its image reference;
-- omitted, it is the only one running.
local errors = require "sm.errors"
local vm = require "sm.vm"

local M = {}

-- -> a VM object with an agent, or raises a failure the user can act on.
function M.resolve(target)
  if target == nil then
    local names = vm.list_detached()
    if #names == 0 then errors.fail("no running VM — start one with sm boot --detach --name NAME") end
    if #names > 1 then
      errors.usage_error("several VMs are running (" .. table.concat(names, ", ") .. ") — name one")
    end
    target = names[1]
  end
  local v, err = vm.attach(target)
  if not v then errors.fail(err .. " — see sm boot --detach") end
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
