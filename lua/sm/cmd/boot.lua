-- sm boot: boot the built-in guest, run one command in it, pass its exit status through.
local args = require "sm.args"
local errors = require "sm.errors"
local vm = require "sm.vm"

local M = {}

M.summary = "boot the built-in guest and run a command in it"
M.usage = [[
usage: sm boot [options] -- CMD [ARGS...]

Boots the built-in minimal guest (kernel + initramfs with busybox) in a
microVM, runs CMD in it, prints its output and exits with its exit status
(128+N if it was killed by signal N).  The guest's kernel console is hidden
unless --verbose or SM_CONSOLE=1.

options:
  --memory MIB       guest RAM (default 128, minimum 64)
  --vcpus N          virtual CPUs, 1..16 (default 1)
  --disk PATH[:ro]   attach a raw disk image as /dev/vda, /dev/vdb, ...
                     (read-write unless :ro); repeatable
  --kernel PATH      boot another uncompressed vmlinux (default: $SM_KERNEL
                     or the one `make` built)
  --verbose, -v      show the guest kernel console on stderr

exit status: CMD's; 125 when sm or the VM failed (message on stderr).
]]

local spec = {
  { "memory", arg = "MIB", type = "int" },
  { "vcpus", arg = "N", type = "int" },
  { "disk", arg = "PATH[:ro]", many = true },
  { "kernel", arg = "PATH" },
  { "verbose", short = "v" },
}

local VM_FAILED = 125

local function parse_disk(s)
  local path, mode = s:match("^(.+):(r[ow])$")
  return { path = path or s, readonly = mode == "ro" }
end

function M.run(argv)
  local o, cmd, positional = args.parse(argv, spec)
  if #positional > 0 then errors.usage_error("unexpected '" .. positional[1] .. "' — put the command after --") end
  if #cmd == 0 then errors.usage_error("no command — e.g. sm boot -- /bin/echo hello") end
  local disks = {}
  for _, d in ipairs(o.disk or {}) do disks[#disks + 1] = parse_disk(d) end
  local ok, v = pcall(vm.boot, { argv = cmd, memory_mib = o.memory, vcpus = o.vcpus, disks = disks,
    kernel = o.kernel, verbose = o.verbose })
  if not ok then
    if errors.is_failure(v) and v.code ~= 2 then v.code = VM_FAILED end
    error(v, 0)
  end
  local res = v:wait()
  if res.status == "exit" then return res.code end
  if res.status == "signal" then
    io.stderr:write("sm boot: ", cmd[1], " killed by signal ", res.signal, "\n")
    return 128 + res.signal
  end
  local what = {
    error = res.message,
    panic = "guest kernel panic: " .. tostring(res.message) .. " — run with --verbose to see the console",
    reboot = "the guest rebooted before the command finished",
    poweroff = "the guest powered off before the command finished",
    crash = "the VM crashed: " .. tostring(res.message),
    killed = "the VM was stopped (" .. tostring(res.message) .. ")",
  }
  errors.fail(what[res.status] or ("the VM ended: " .. tostring(res.status)), VM_FAILED)
end

return M
