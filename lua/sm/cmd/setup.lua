-- sm setup: check everything a first run needs and say how to fix what is missing.
local core = require "sm.core"
local errors = require "sm.errors"
local vm = require "sm.vm"

local M = {}

M.summary = "check /dev/kvm, the guest kernel and assets, and sm's directories"
M.usage = [[
usage: sm setup

Checks what a first run needs — read/write access to /dev/kvm, the guest
kernel and initramfs, the VMM, the cache and runtime directories — and
prints one line per check: "ok: ..." or "err: ... — how to fix it".
Nothing is changed except that missing sm directories are created.

exit status: 0 when everything is ready, 1 otherwise.
]]

-- "ok" text, or nil and the problem
local function check_kvm()
  local problem, dev = vm.kvm_problem()
  if problem then return nil, problem end
  if core.sys.emulating_host() then
    return dev .. ": read/write (kvm_pvm: guest kernel mode is emulated here, so a boot takes about a minute;"
      .. " docs/emulating-hosts.md)"
  end
  return dev .. ": read/write"
end

local function head(path, n)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read(n)
  f:close()
  return s or ""
end

local function check_kernel()
  local kernel = vm.assets()
  local ok, err = core.fs.access(kernel, "r")
  if not ok then return nil, "kernel " .. err .. " — build it with `make kernel` or set SM_KERNEL" end
  local h = head(kernel, 0x206) or ""
  if h:sub(1, 4) == "\127ELF" then return "kernel: " .. kernel end
  if h:sub(0x203, 0x206) == "HdrS" then
    return nil, "kernel " .. kernel .. ": a compressed bzImage — sm boots the uncompressed vmlinux (make kernel builds it)"
  end
  return nil, "kernel " .. kernel .. ": not a vmlinux (ELF) — build it with `make kernel` or set SM_KERNEL"
end

local function check_initramfs()
  local _, initrd = vm.assets()
  local ok, err = core.fs.access(initrd, "r")
  if not ok then return nil, "initramfs " .. err .. " — build it with `make guest`" end
  return "initramfs: " .. initrd
end

local function check_vmm()
  local p = core.sys.paths()
  if p.vmm then return "VMM: " .. p.vmm end
  return "VMM: built into " .. p.exe .. " (`sm vmm`; `make` also builds the quicker-starting sm-vmm)"
end

local function check_dir(what, fn)
  return function()
    local ok, dir = pcall(fn)
    if ok then return what .. ": " .. dir end
    return nil, (errors.is_failure(dir) and dir.msg or tostring(dir))
  end
end

local CHECKS = { check_kvm, check_kernel, check_initramfs, check_vmm,
  check_dir("boot snapshots", vm.snapshots_dir), check_dir("runtime directory", vm.runtime_dir) }

function M.run(argv)
  if #argv > 0 then errors.usage_error("sm setup takes no arguments") end
  local failed = 0
  io.stdout:write("sm setup:\n")
  for _, check in ipairs(CHECKS) do
    local ok, problem = check()
    if ok then io.stdout:write("  ok:  ", ok, "\n")
    else
      io.stdout:write("  err: ", problem, "\n")
      failed = failed + 1
    end
  end
  if failed > 0 then
    io.stdout:flush()
    errors.fail(string.format("%d check%s failed — fix %s as shown above", failed, failed > 1 and "s" or "",
      failed > 1 and "them" or "it"), 1)
  end
  io.stdout:write("  (ready — try `sm boot -- /bin/echo hello`)\n")
  return 0
end

return M
