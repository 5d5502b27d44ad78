-- sm assets-path: where sm found its guest kernel, initramfs, VMM and Lua code.
local core = require "sm.core"
local errors = require "sm.errors"
local vm = require "sm.vm"

local M = {}

M.summary = "print where the guest kernel, initramfs and VMM were found"
M.usage = [[
usage: sm assets-path

Prints the files sm uses to start guests and where its Lua commands come
from, one "name: path" line each, with "(missing)" after a file that is
not there.  SM_KERNEL, SM_INITRAMFS and SM_GUEST_DIR override the built
ones; $XDG_CONFIG_HOME/sm/lua overrides the Lua modules.
]]

function M.run(argv)
  if #argv > 0 then errors.usage_error("sm assets-path takes no arguments") end
  local p = core.sys.paths()
  local kernel, initrd = vm.assets()
  local function line(name, path)
    local missing = path and not core.fs.stat(path) and "  (missing)" or ""
    io.stdout:write(string.format("%-10s %s%s\n", name .. ":", path or "(not built: `sm vmm` is used)", missing))
  end
  line("kernel", kernel)
  line("initramfs", initrd)
  line("guest", p.guest)
  line("vmm", p.vmm)
  line("sm", p.exe)
  line("lua", p.lua)
  return 0
end

return M
