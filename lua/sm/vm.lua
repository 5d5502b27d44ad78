-- sm.vm: boot and control microVMs.  Each VM runs in its own `sm vmm`
-- process (docs/vmm.md); this module validates options, builds the kernel
-- command line and reads the VMM's status report.
--
--   local vm = sm.vm.boot{ argv = {"/bin/echo", "hi"}, memory_mib = 128, vcpus = 1,
--                          disks = {{ path = "d.img", readonly = true }},
--                          console = "inherit" | "capture" | "null", verbose = false }
--   local res = vm:wait(timeout_s)  -- { status = "exit"|"signal"|"panic"|..., code = n, ... }
--   vm:kill()
local core = require "sm.core"
local errors = require "sm.errors"

local M = {}

M.MIN_MEMORY_MIB, M.MAX_MEMORY_MIB = 64, 16384
M.MAX_VCPUS = 16
M.CMDLINE_MAX = 2047

-- Kernel command line policy: quiet console, reboot through the keyboard
-- controller on panic, no busy timers, and both UARTs (ttyS1 is the init
-- channel).  The VMM appends its devices and host-specific switches.
M.base_cmdline = table.concat({
  "console=ttyS0", "quiet", "panic=-1", "reboot=k", "io_delay=none", "tsc=reliable",
  "no_timer_check", "8250.nr_uarts=2", "random.trust_cpu=on",
}, " ")

local function env(name)
  local v = os.getenv(name)
  if v ~= nil and v ~= "" then return v end
end

-- Guest kernel and initramfs: $SM_KERNEL / $SM_INITRAMFS, else the built ones.
function M.assets()
  local guest = core.paths().guest
  return env("SM_KERNEL") or (guest .. "/vmlinux"), env("SM_INITRAMFS") or (guest .. "/initramfs.cpio")
end

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- The workload's argv travels on the kernel command line as sm.argv=HEX of
-- NUL-terminated strings (guest/init/init.c).
function M.cmdline(argv, extra)
  local parts = { M.base_cmdline }
  if extra and extra ~= "" then parts[#parts + 1] = extra end
  if argv and #argv > 0 then
    parts[#parts + 1] = "sm.argv=" .. hex(table.concat(argv, "\0") .. "\0")
  end
  return table.concat(parts, " ")
end

-- An option value out of range is a usage error (exit 2).
local function check_int(name, v, lo, hi, unit)
  if math.type(v) ~= "integer" or v < lo or v > hi then
    errors.usage_error(string.format("%s %s: must be %d..%d%s", name, tostring(v), lo, hi, unit or ""))
  end
end

local function check_file(what, path, hint)
  local ok, err = core.access(path, "r")
  if not ok then errors.fail(string.format("%s %s: %s%s", what, path, err, hint or "")) end
end

function M.validate(opts)
  check_int("--vcpus", opts.vcpus, 1, M.MAX_VCPUS)
  check_int("--memory", opts.memory_mib, M.MIN_MEMORY_MIB, M.MAX_MEMORY_MIB, " MiB")
  for _, d in ipairs(opts.disks or {}) do check_file("disk", d.path) end
  check_file("kernel", opts.kernel, " — build it with `make kernel` or set SM_KERNEL")
  if opts.initrd then check_file("initramfs", opts.initrd, " — build it with `make guest`") end
  if #opts.cmdline > M.CMDLINE_MAX then
    errors.fail(string.format("the command is too long for the kernel command line (%d bytes, limit %d)",
      #opts.cmdline, M.CMDLINE_MAX))
  end
end

local function vmm_argv(o)
  local argv = { core.paths().exe, "vmm", "--kernel", o.kernel, "--cmdline", o.cmdline,
    "--memory", tostring(o.memory_mib), "--vcpus", tostring(o.vcpus), "--status-fd", "3" }
  if o.initrd then table.move({ "--initrd", o.initrd }, 1, 2, #argv + 1, argv) end
  for _, d in ipairs(o.disks or {}) do
    table.move({ "--disk", d.path .. (d.readonly and ":ro" or ":rw") }, 1, 2, #argv + 1, argv)
  end
  if o.verbose then argv[#argv + 1] = "--verbose" end
  return argv
end

-- "key=v key=v msg=rest of line" -> table
function M.parse_status(line)
  local t = {}
  local head, msg = line:match("^(.-)%s*msg=(.*)$")
  for k, v in (head or line):gmatch("([%w_]+)=(%S+)") do t[k] = math.tointeger(tonumber(v)) or v end
  t.msg = msg
  return t
end

local VM = {}
VM.__index = VM

function M.boot(opts)
  local kernel, initrd = M.assets()
  local o = {
    kernel = opts.kernel or kernel,
    initrd = opts.initrd == nil and initrd or opts.initrd or nil,
    memory_mib = opts.memory_mib or 128,
    vcpus = opts.vcpus or 1,
    disks = opts.disks or {},
    verbose = opts.verbose or env("SM_CONSOLE") == "1",
  }
  if o.initrd == false then o.initrd = nil end
  o.cmdline = opts.cmdline or M.cmdline(opts.argv, opts.extra_cmdline or env("SM_KERNEL_ARGS"))
  M.validate(o)
  local console = opts.console or "inherit"
  local mode = console == "capture" and "pipe" or console
  local proc = core.spawn(vmm_argv(o), { stdout = mode, stderr = mode, status = true })
  return setmetatable({ proc = proc, opts = o }, VM)
end

-- Waits for the VM to end.  Returns a result table:
--   status: "exit" | "signal" | "poweroff" | "reboot" | "panic" | "crash" | "killed" | "error"
--   code (exit), signal (signal), message, setup_us, ready_us, emul_exits, stdout/stderr (capture)
-- or nil, "timeout".
function VM:wait(timeout)
  local r, err = self.proc:wait(timeout)
  if not r then return nil, err end
  local last
  for line in (r.status or ""):gmatch("[^\n]+") do
    if line:match("^end=") then last = line end
  end
  local st = last and M.parse_status(last) or { ["end"] = "crash",
    msg = "the VMM died" .. (r.signal and (" by signal " .. r.signal) or "") .. " without a report" }
  local res = { status = st["end"], message = st.msg, setup_us = st.setup_us, ready_us = st.ready_us,
    emul_exits = st.emul_exits, stdout = r.stdout, stderr = r.stderr, vmm_code = r.code }
  if res.status == "exit" then res.code = st.value end
  if res.status == "signal" then res.signal = st.value end
  return res
end

function VM:kill(sig) return self.proc:kill(sig or 15) end
function VM:pid() return self.proc:pid() end

return M
