-- sm.target: what a command's TARGET names, resolved in one place.
-- Today a TARGET is the name of a detached VM (sm boot --detach --name);
-- omitted, it is the only one running.  The daemon will add ports,
-- snapshot names and images here.
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

return M
