-- One detached VM shared by a whole integration suite (a boot costs about a
-- minute on emulating hosts): start() in setup(), stop() in teardown().
--   local dvm = require "support.detached_vm"
--   local v = dvm.new("agent-spec")
--   setup(function() v:start("agent") end)     -- v.tmp, v.env, v.booted, v.boot_err, v.vmm_pid
--   teardown(function() v:stop() end)
--   v:sm({ "exec", v.name, "--", "true" })     -- run.sm with its XDG_RUNTIME_DIR, under timeout 300
local run = require "support.run"

local M = {}
M.__index = M

local T = " timeout 300 "

function M.new(name) return setmetatable({ name = name }, M) end

function M:sm(args, prefix) return run.sm(args, self.env, (prefix or "") .. T) end

-- A private tmp dir with its own XDG_RUNTIME_DIR, then `sm boot --detach`.
function M:start(tag)
  self.tmp = run.tmpdir(tag)
  run.sh("mkdir -m 700 " .. self.tmp .. "/xdg")
  self.env = { XDG_RUNTIME_DIR = self.tmp .. "/xdg" }
  local code, out, err = self:sm({ "boot", "--detach", "--name", self.name, "--memory", "192" })
  self.booted = code == 0 and out == self.name .. "\n"
  self.boot_err = out .. err
  local f = io.open(self.tmp .. "/xdg/sm/vms/" .. self.name .. "/vmm.pid")
  self.vmm_pid = f and f:read("n")
  if f then f:close() end
  return self.booted
end

-- `sm stop`, then a VMM that outlived it killed, then the tmp dir removed.
function M:stop()
  if self.booted then
    local code, out, err = self:sm({ "stop", "--time", "20", self.name })
    io.stderr:write("# sm stop: ", code, " ", out, err)
  end
  if self.vmm_pid then run.sh("kill -9 " .. self.vmm_pid .. " 2>/dev/null") end
  if self.tmp then run.sh("rm -rf " .. run.quote(self.tmp)) end
end

return M
