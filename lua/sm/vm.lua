-- sm.vm: boot, restore and control microVMs.  Each VM runs in its own
-- `sm vmm` process (docs/vmm.md); this module validates options, builds the
-- kernel command line, keeps the boot snapshots and reads the VMM's status.
--
--   local vm = sm.vm.boot{ argv = {"/bin/echo", "hi"}, memory_mib = 128, vcpus = 1,
--                          disks = {{ path = "d.img", readonly = true }},
--                          console = "inherit" | "capture" | "null", verbose = false,
--                          snapshot_after_ms = n, snapshot_to = dir,
--                          egress = "deny_private" | "allowlist:CIDRS" | ... }  (docs/network.md)
--   local vm = sm.vm.restore(dir, { disks = ..., console = ... })
--
-- An image's rootfs (docs/init-channel.md, "Rootfs"): layer files (squashfs
-- or erofs, first = lowest) attached read-only and stacked with overlayfs
-- in the guest, which then runs inside it:
--   sm.vm.boot{ rootfs = { layers = { path, ... } }, hostname =, workdir =, user =,
--               env = { "K=V", ... }, argv =, volumes = {{ path = "v.ext4", target = "/data" }},
--               stop_grace = seconds }
-- Without argv the guest stops at the "ready" point: vm:wait_prepared(), then
-- vm:snapshot(dir).  sm.vm.restore(dir, { rootfs = { layers = same paths },
-- argv =, env =, user =, workdir =, volumes = }) starts the workload there.
--   local res = vm:wait(timeout_s)  -- { status = "exit"|"signal"|"panic"|"snapshot"|..., code = n, ... }
--   vm:kill()
--
-- sm.vm.boot restores the boot snapshot of its kernel + initramfs (booting
-- once to create it, docs/snapshot-format.md) unless opts.boot_snapshot is
-- false, SM_BOOT_SNAPSHOT=0, or a custom kernel command line is given.
local core = require "sm.core"
local errors = require "sm.errors"
local cjson = require "cjson"

local M = {}

-- The VMM's limits (src/vmm/vm.h, vmm.h, vmm-opts.h), read from the C core.
M.MIN_MEMORY_MIB, M.MAX_MEMORY_MIB = core.sys.limits.min_memory_mib, core.sys.limits.max_memory_mib
M.MAX_VCPUS = core.sys.limits.max_vcpus
M.CMDLINE_MAX = core.sys.limits.cmdline_max
M.MAX_DISKS = core.sys.limits.max_disks	-- virtio-blk slots of every VM (docs/vmm.md): layers + volumes + disks

-- Kernel command line policy: quiet console, reboot through the keyboard
-- controller on panic, no busy timers, and both UARTs (ttyS1 is the init
-- channel).  The VMM appends its devices and host-specific switches.
M.base_cmdline = table.concat({
  "console=ttyS0", "quiet", "panic=-1", "reboot=k", "io_delay=none", "tsc=reliable",
  "no_timer_check", "8250.nr_uarts=2", "random.trust_cpu=on",
}, " ")

local util = require "sm.util"
local env = util.env

-- Guest kernel and initramfs: $SM_KERNEL / $SM_INITRAMFS, else the built ones.
function M.assets()
  local guest = core.sys.paths().guest
  return env("SM_KERNEL") or (guest .. "/vmlinux"), env("SM_INITRAMFS") or (guest .. "/initramfs.cpio")
end

-- The workload's argv does not go on the kernel command line: the VMM sends
-- it to init over the init channel (docs/init-channel.md), so one boot
-- snapshot serves every command.
function M.cmdline(extra)
  if extra and extra ~= "" then return M.base_cmdline .. " " .. extra end
  return M.base_cmdline
end

local function trace(fmt, ...)
  if env("SM_TRACE") == "1" then io.stderr:write("sm: trace: ", string.format(fmt, ...), "\n") end
end

-- An option value out of range is a usage error (exit 2).
local function check_int(name, v, lo, hi, unit)
  if math.type(v) ~= "integer" or v < lo or v > hi then
    errors.usage_error(string.format("%s %s: must be %d..%d%s", name, tostring(v), lo, hi, unit or ""))
  end
end

local function check_file(what, path, hint)
  local ok, err = core.fs.access(path, "r")
  if not ok then errors.fail(string.format("%s %s%s", what, err, hint or "")) end	-- err names the path
end

-- What is wrong with /dev/kvm for this user (a message saying how to fix
-- it), or nil and the device path when it can be opened read-write.
function M.kvm_problem()
  local dev = env("SM_KVM_DEVICE") or "/dev/kvm"
  local ok, problem = core.sys.kvm_check(dev)
  if ok then return nil, dev end
  return problem
end

-- /dev/kvm first: without it nothing else (boot snapshots included) can work.
function M.check_kvm()
  local problem = M.kvm_problem()
  if problem then errors.fail(problem) end
end

function M.validate(opts)
  check_int("--vcpus", opts.vcpus, 1, M.MAX_VCPUS)
  check_int("--memory", opts.memory_mib, M.MIN_MEMORY_MIB, M.MAX_MEMORY_MIB, " MiB")
  for _, d in ipairs(opts.disks or {}) do check_file("disk", d.path) end
  check_file("kernel", opts.kernel, " — build it with `make kernel` or set SM_KERNEL")
  if opts.initrd then check_file("initramfs", opts.initrd, " — build it with `make guest`") end
  if #opts.cmdline > M.CMDLINE_MAX then
    errors.fail(string.format("the kernel command line is too long (%d bytes, limit %d)",
      #opts.cmdline, M.CMDLINE_MAX))
  end
  if #(opts.disks or {}) > M.MAX_DISKS then
    errors.usage_error(string.format("at most %d disks", M.MAX_DISKS))
  end
  M.check_kvm()
end


-- The guest's name for disk slot i (0-based), as virtio_blk names them:
-- vda..vdz, vdaa.. (the VMM's disk_name does the same).
function M.disk_name(i)
  local s = ""
  repeat
    s = string.char(97 + i % 26) .. s
    i = i // 26 - 1
  until i < 0
  return "vd" .. s
end

local function check_entry(what, v)
  if type(v) ~= "string" or v == "" or v:find("%z") then
    errors.usage_error(what .. ": want a non-empty string without NUL bytes")
  end
  return v
end

-- Disks and `--init` entries for a rootfs, volumes and the run config.
-- with_layers: mount the layers (a boot-snapshot restore) or only attach
-- them again (a snapshot whose rootfs is prepared already).
function M.guest_config(opts, with_layers)
  local disks, init = {}, {}
  local function disk(path, ro)
    disks[#disks + 1] = { path = check_entry("disk path", path), readonly = ro }
    return M.disk_name(#disks - 1)
  end
  for _, path in ipairs(opts.rootfs and opts.rootfs.layers or {}) do
    local name = disk(path, true)
    if with_layers then init[#init + 1] = "l:" .. name end
  end
  if opts.hostname then
    if #check_entry("hostname", opts.hostname) > 64 then errors.usage_error("hostname: at most 64 bytes") end
    init[#init + 1] = "h:" .. opts.hostname
  end
  for _, v in ipairs(opts.volumes or {}) do
    local target = check_entry("volume target", v.target)
    if target:sub(1, 1) ~= "/" or target:find(":") then
      errors.usage_error("volume target " .. target .. ": want an absolute path without ':'")
    end
    init[#init + 1] = "v:" .. disk(v.path, false) .. ":" .. target
  end
  for _, d in ipairs(opts.disks or {}) do disks[#disks + 1] = d end
  for _, e in ipairs(opts.env or {}) do
    if not check_entry("env", e):find("=") then errors.usage_error("env " .. e .. ": want KEY=value") end
    init[#init + 1] = "e:" .. e
  end
  if opts.workdir then init[#init + 1] = "w:" .. check_entry("workdir", opts.workdir) end
  if opts.user then init[#init + 1] = "u:" .. check_entry("user", opts.user) end
  if opts.stop_grace then
    check_int("stop_grace", opts.stop_grace, 1, 3600, " s")
    init[#init + 1] = "t:" .. opts.stop_grace
  end
  return disks, init
end

local function append(t, ...)
  for _, v in ipairs({ ... }) do t[#t + 1] = v end
end

-- `sm vmm` arguments: how to start (kernel or snapshot), disks, then the workload.
-- sm-vmm (the VMM alone, quicker to start) when built, else `sm vmm`
function M.vmm_command()
  local p = core.sys.paths()
  if p.vmm then return { p.vmm } end
  return { p.exe, "vmm" }
end

-- SM_PROFILE=FILE (docs/profiling.md): the first VM this process starts
-- writes its samples to FILE, the Nth to FILE.N; SM_PROFILE=DIR/ (or an
-- existing directory) gives each VM DIR/vm-PID-N.prof, so the VMs of
-- several sm processes (a daemon's workers) never share a file.
-- SM_PROFILE_US=N sets the interval (--profile-us); SM_PROFILE_PAUSED=1
-- starts a VM that has a control channel (not a detached one) with
-- sampling off until vm:profile(true).
M.profiled = {}
function M.profile_file()
  local path = env("SM_PROFILE")
  if not path then return nil end
  local n = #M.profiled + 1
  local st = core.fs.stat(path)
  local file
  if path:sub(-1) == "/" or (st and st.type == "dir") then
    if not st then core.fs.mkdir(path, tonumber("755", 8)) end
    file = string.format("%s/vm-%d-%d.prof", path:gsub("/+$", ""), core.sys.getpid(), n)
  else
    file = n == 1 and path or (path .. "." .. n)
  end
  M.profiled[n] = file
  return file
end

local function profile_argv(argv, o)
  local file = M.profile_file()
  if not file then return end
  append(argv, "--profile", file)
  local us = env("SM_PROFILE_US")
  if us then append(argv, "--profile-us", us) end
  if env("SM_PROFILE_PAUSED") == "1" and o.control then argv[#argv + 1] = "--profile-paused" end
  trace("profiling this VM to %s", file)
end

local function vmm_argv(o, start)
  local argv = M.vmm_command()
  append(argv, "--status-fd", "3")
  profile_argv(argv, o)
  table.move(start, 1, #start, #argv + 1, argv)
  for _, d in ipairs(o.disks or {}) do append(argv, "--disk", d.path .. (d.readonly and ":ro" or ":rw")) end
  if o.snapshot_to then
    append(argv, "--snapshot-to", o.snapshot_to, "--snapshot-after-ms", tostring(o.snapshot_after_ms))
  end
  for _, e in ipairs(o.init or {}) do append(argv, "--init", e) end
  if o.verbose then argv[#argv + 1] = "--verbose" end
  if o.vsock_uds then append(argv, "--vsock-uds", o.vsock_uds, "--cid", tostring(o.cid or 3)) end
  if o.control then append(argv, "--control-fd", "4") end
  if o.standby then argv[#argv + 1] = "--standby" end
  if o.no_snapshots then argv[#argv + 1] = "--no-snapshots" end
  if o.egress then append(argv, "--egress", o.egress) end
  if o.argv and #o.argv > 0 then
    argv[#argv + 1] = "--"
    table.move(o.argv, 1, #o.argv, #argv + 1, argv)
  end
  return argv
end

local function boot_argv(o)
  local a = { "--kernel", o.kernel, "--cmdline", o.cmdline, "--memory", tostring(o.memory_mib),
    "--vcpus", tostring(o.vcpus) }
  if o.initrd then append(a, "--initrd", o.initrd) end
  return a
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

local function spawn(o, start, console)
  local mode = (console or "inherit") == "capture" and "pipe" or console or "inherit"
  o.control = not o.detached		-- vm:snapshot() talks to the VMM through it
  local proc = core.proc.spawn(vmm_argv(o, start), { stdout = mode, stderr = mode, status = true,
    die_with_parent = not o.detached, control = o.control })
  return setmetatable({ proc = proc, opts = o }, VM)
end

-- ---- boot snapshots ----

function M.snapshots_dir()
  local root, err = core.oci.cache_dir()
  local dir = root and root .. "/boot-snapshots"
  if root then root, err = core.fs.mkdir(dir, tonumber("700", 8)) end
  if not root then
    errors.fail("cache directory: " .. tostring(err) .. " — set SM_CACHE_DIR or XDG_CACHE_HOME to a directory you own")
  end
  return dir
end

-- sha256 of a file, remembered by path, size and mtime so the 17 MB kernel
-- is not hashed on every boot.
local function file_hash(dir, path)
  local st = assert(core.fs.stat(path))
  local memo = string.format("%s/hash-%s", dir, (path:gsub("[^%w]", "_")))
  local stamp = string.format("%d %d ", st.size, st.mtime_ns)
  local f = io.open(memo)
  local line = f and f:read("l")
  if f then f:close() end
  if line and line:sub(1, #stamp) == stamp then return line:sub(#stamp + 1) end
  local h = assert(core.digest.sha256_file(path))
  f = io.open(memo .. ".tmp", "w")
  if f then f:write(stamp, h, "\n") f:close() os.rename(memo .. ".tmp", memo) end
  return h
end

-- The boot snapshot for this kernel, initramfs, command line and VM shape:
-- its directory, created (by booting once) if missing.  Two sm processes
-- racing here serialise on a lock; the loser restores the winner's.
function M.boot_snapshot(o)
  local dir = M.snapshots_dir()
  local key = table.concat({ file_hash(dir, o.kernel), o.initrd and file_hash(dir, o.initrd) or "-",
    o.cmdline, o.memory_mib, o.vcpus, "v7" }, "|")  -- v7: the kernel keeps XSAVE state (vcpu-xsave.c); v6: 46 disk slots, init channel v2
  -- with egress the guest has eth0 (any policy: it is not guest state);
  -- egress2: the device offers GUEST_CSUM, negotiated at boot
  if o.egress then key = key .. "|egress2" end
  local snap = dir .. "/" .. core.digest.sha256(key):sub(8, 23)
  if core.fs.stat(snap .. "/metadata.json") then
    trace("boot snapshot %s: restoring", snap)
    return snap
  end
  local lock = assert(core.fs.lock(snap .. ".lock"))
  if not core.fs.stat(snap .. "/metadata.json") then
    trace("boot snapshot %s: booting the kernel to create it", snap)
    if core.tty.isatty(2) then		-- a person is waiting; scripts get no chatter
      io.stderr:write("sm: first use of this guest: booting it once to save a boot snapshot (about a minute here)\n")
    end
    local argv = boot_argv(o)
    append(argv, "--snapshot-on-ready", snap)
    local v = spawn({ verbose = o.verbose, egress = o.egress }, argv, "capture")
    local r = v:wait()
    if r.status ~= "snapshot" then
      lock:unlock()
      errors.fail("creating the boot snapshot failed: " .. tostring(r.message) .. (r.stderr or ""))
    end
  end
  lock:unlock()
  return snap
end

function M.boot(opts)
  local kernel, initrd = M.assets()
  local o = {
    kernel = opts.kernel or kernel,
    initrd = opts.initrd == nil and initrd or opts.initrd or nil,
    memory_mib = opts.memory_mib or 128,
    vcpus = opts.vcpus or 1,
    verbose = opts.verbose or env("SM_CONSOLE") == "1",
    vsock_uds = opts.vsock_uds, cid = opts.cid, detached = opts.detached,
    argv = opts.argv,
    snapshot_after_ms = opts.snapshot_after_ms,
    snapshot_to = opts.snapshot_to,
    egress = opts.egress or nil,
  }
  if o.initrd == false then o.initrd = nil end
  o.disks, o.init = M.guest_config(opts, true)
  o.cmdline = opts.cmdline or M.cmdline(opts.extra_cmdline or env("SM_KERNEL_ARGS"))
  M.validate(o)
  if opts.boot_snapshot == false or env("SM_BOOT_SNAPSHOT") == "0" then
    trace("booting the kernel (boot snapshot off)")
    return spawn(o, boot_argv(o), opts.console)
  end
  return spawn(o, { "--restore", M.boot_snapshot(o) }, opts.console)
end

-- Restore a snapshot directory (from vm:snapshot or --snapshot-to); the
-- guest continues where it was.  opts: disks, console, verbose, argv,
-- vsock_uds and cid (the restored VM's own agent socket; connections open
-- when the snapshot was taken are reset, listeners keep working).
-- standby = true: the VMM sets everything up, says `standby` on its status
-- pipe and waits, never run, until vm:go() (docs/vmm.md "Standby").
-- no_snapshots = true: vm:snapshot is refused, and the VMM's sandbox drops
-- the calls that write files (the daemon's workers: docs/security.md).
-- egress: a policy (the snapshot must have been taken with egress), false
-- (refused if it was: it cannot lose its network either), nil: as it was
-- taken, with the policy it ran with (docs/network.md).
function M.restore(dir, opts)
  opts = opts or {}
  local o = { verbose = opts.verbose or env("SM_CONSOLE") == "1", argv = opts.argv,
    snapshot_after_ms = opts.snapshot_after_ms, snapshot_to = opts.snapshot_to,
    vsock_uds = opts.vsock_uds, cid = opts.cid, detached = opts.detached, standby = opts.standby,
    no_snapshots = opts.no_snapshots }
  if not core.fs.stat(dir) then errors.fail("snapshot " .. dir .. ": no such directory") end
  o.egress = M.restore_egress(dir, opts.egress)
  if o.standby and o.detached then errors.usage_error("a standby VM waits for go from its parent: it cannot be detached") end
  o.disks, o.init = M.guest_config(opts, false)
  if #o.disks > M.MAX_DISKS then errors.usage_error(string.format("at most %d disks", M.MAX_DISKS)) end
  M.check_kvm()
  for _, d in ipairs(o.disks) do check_file("disk", d.path) end
  return spawn(o, { "--restore", dir }, opts.console)
end

-- The snapshot's network: its metadata.json's devices (docs/snapshot-format.md).
function M.snapshot_egress(dir)
  local f = io.open(dir .. "/metadata.json")
  local s = f and f:read("a")
  if f then f:close() end
  local ok, meta = pcall(cjson.decode, s or "")
  local dev = ok and type(meta) == "table" and type(meta.devices) == "table" and meta.devices or {}
  if math.tointeger(dev.net_mtu) and dev.net_mtu > 0 then
    return type(dev.egress_policy) == "string" and dev.egress_policy ~= "" and dev.egress_policy or "deny_private"
  end
  return nil
end

-- The policy a restore of dir runs with: `want` (a policy, true = the
-- snapshot's, false, nil) checked
-- against what the snapshot has; a network is never gained or lost silently.
function M.restore_egress(dir, want)
  local had = M.snapshot_egress(dir)
  if want and not had then
    errors.fail("snapshot " .. dir .. " was taken without egress: a restored VM cannot gain a network " ..
      "device — bake or boot it with egress (docs/network.md)")
  end
  if want == false and had then
    errors.fail("snapshot " .. dir .. " was taken with egress (policy " .. had .. "): it restores with it; " ..
      "give --egress-policy to change the policy")
  end
  if want == true then return had end
  return want or had
end

-- The egress a command's flags ask for: a policy, false (--no-egress), or
-- nil (not said).  --egress-policy implies --enable-egress.  For a restore
-- (keep = true) a bare --enable-egress is true: keep the snapshot's policy.
function M.egress_from_flags(o, keep)
  if o.no_egress and (o.enable_egress or o.egress_policy) then
    errors.usage_error("--no-egress cannot go with --enable-egress or --egress-policy")
  end
  if o.no_egress then return false end
  if o.egress_policy then return o.egress_policy end
  if o.enable_egress then return keep or "deny_private" end
  return nil
end

-- Waits for the VM to end.  Returns a result table:
--   status: "exit" | "signal" | "poweroff" | "reboot" | "panic" | "crash" | "killed" | "error"
--   code (exit), signal (signal), message, setup_us, ready_us, emul_exits,
--   page_ops, page_ops_refused (docs/emulating-hosts.md), stdout/stderr (capture)
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
    emul_exits = st.emul_exits, page_ops = st.page_ops, page_ops_refused = st.page_ops_refused, stdout = r.stdout, stderr = r.stderr, vmm_code = r.code, vmm_signal = r.signal }
  if res.status == "exit" then res.code = st.value end
  if res.status == "signal" then res.signal = st.value end
  return res
end

-- Sampling on or off in a VM started with SM_PROFILE (docs/profiling.md),
-- to profile one phase.  Returns true, or nil and the reason.
function VM:profile(on, timeout)
  if not self.opts.control then return nil, "this VM has no control channel (detached VMs)" end
  local word = on and "on" or "off"
  local ok, err = self.proc:send("profile " .. word .. "\n")
  if not ok then return nil, err end
  if self.proc:expect("profiling " .. word, timeout or 10, "status") then return true end
  return nil, self.proc:buffered("status"):match("control error msg=(profile:[^\n]*)") or "the VMM did not answer"
end

-- Snapshot the running VM to dir (written atomically) and let it carry on.
-- Returns true, or nil and the reason.
function VM:snapshot(dir, timeout)
  if not self.opts.control then return nil, "this VM has no control channel (detached VMs)" end
  if self.opts.no_snapshots then return nil, "this VM was restored with no_snapshots" end
  local ok, err = self.proc:send("snapshot " .. dir .. "\n")
  if not ok then return nil, err end
  local deadline = core.sys.monotime() + (timeout or 60)
  repeat
    for line in self.proc:buffered("status"):gmatch("[^\n]+") do
      local how, msg = line:match("^snapshotted (%a+) msg=(.*)$")
      if how == "ok" and msg == dir then return true end
      if how == "error" and msg:find(dir, 1, true) then return nil, msg end
    end
    local left = deadline - core.sys.monotime()
    if left <= 0 then return nil, "timeout" end
    local _, why = self.proc:expect("snapshotted ", math.min(left, 0.2), "status")
    if why == "eof" then return nil, self:ended_how() end   -- it died mid-write: no need to wait on
  until false
end

-- Why a VM whose status pipe closed is gone: its last end= line, else how
-- the process ended (kill -9 and crashes write none).
function VM:ended_how()
  local last = self.proc:buffered("status"):match(".*(end=[^\n]*)")
  if last then return "the VM ended: " .. last end
  local r = self.proc:wait(5)
  if r and r.signal then return string.format("the VMM was killed by signal %d", r.signal) end
  return "the VMM exited" .. (r and r.code and (" with status " .. r.code) or "")
end

-- Waits until guest init has prepared the rootfs and waits for its workload
-- (a boot with a rootfs and no argv): true, or nil and why.
function VM:wait_prepared(timeout)
  local deadline = core.sys.monotime() + (timeout or 60)
  repeat
    local status = self.proc:buffered("status")
    if status:find("prepared ", 1, true) then return true end
    local last = status:match("end=[^\n]*")
    if last then return nil, "the VM ended: " .. last end
    local left = deadline - core.sys.monotime()
    if left <= 0 then return nil, "timeout" end
    self.proc:expect("prepared ", math.min(left, 0.2), "status")
  until false
end

-- A standby VM (restore{ standby = true }) starts now: true, or nil, why.
-- Sends when we asked (CLOCK_MONOTONIC ns), so its `running setup_us=` is
-- the whole wait from here.
function VM:go()
  if not self.opts.standby then return nil, "this VM was not restored as a standby" end
  return self.proc:send(string.format("go %d\n", math.floor(core.sys.monotime() * 1e9)))
end

function VM:kill(sig) return self.proc:kill(sig or 15) end
function VM:pid() return self.proc:pid() end

-- ---- the guest agent: exec, signals, port proxy (docs/agent-protocol.md) ----
--
--   vm:exec{ argv, env=, cwd=, user=, tty=, stdin= } -> { code=, signal=, stdout=, stderr= }
--   vm:spawn{ ... }       -> a streaming process (sm.agent: :write, :close_stdin, :signal, :read)
--   vm:signal(n)          -- to the workload (init passes it on)
--   vm:connect(port)      -> a byte stream to guest 127.0.0.1:port (s:send, s:recv, s:close)
--   vm:copy(src, dst, { mode=, owner=, timeout= }) -> { files=, bytes=, entries= }
--                         host file or tree into the guest, as `docker cp` (sm.agent.put)
--   vm:wait_listener(port, timeout_s) -> true | nil, "timeout"
--   vm:wait_agent(timeout_s)          -> true | nil, err
-- A VM has an agent when it was booted with vsock_uds (sm boot --detach
-- does that), or when it was found by name with sm.vm.attach(name).
local agent = require "sm.agent"

local function uds(vm)
  local p = vm.opts and vm.opts.vsock_uds
  if not p then errors.fail("this VM has no vsock socket (boot it with --detach)") end
  return p
end

local function check(res, err, what)
  if res == nil then errors.fail(what .. ": " .. tostring(err)) end
  return res
end

-- Is fd a terminal (what `sm exec -t` needs of its stdin)?
function M.is_terminal(fd) return core.tty.isatty(fd) end

-- req.tty: the process gets a terminal.  When req.stdin is one too, it is in
-- raw mode for the exec (keys reach the guest as typed; restored also when
-- the exec fails) and its size is the guest terminal's unless rows/cols say.
function VM:exec(req)
  local io = { stdin = req.stdin, stdout = req.stdout_fd, stderr = req.stderr_fd,
    forward_signals = req.forward_signals, timeout = req.timeout }
  local saved
  if req.tty and req.stdin and core.tty.isatty(req.stdin) then
    saved = core.tty.raw(req.stdin)
    if not req.rows then req.rows, req.cols = core.tty.winsize(req.stdin) end
  end
  local ok, r, err = pcall(agent.exec, uds(self), req, io)
  if saved then core.tty.restore(req.stdin, saved) end
  if not ok then error(r, 0) end
  check(r, err, "exec")
  return { code = r.exit, signal = r.signal, stdout = r.stdout, stderr = r.stderr }
end

function VM:spawn(req)
  local p, err = agent.spawn(uds(self), req)
  return check(p, err, "exec")
end

function VM:copy(src, dst, opts)
  local r, err = agent.put(uds(self), src, dst, opts)
  return check(r, err, "copy")
end

function VM:signal(n)
  local ok, err = agent.stop(uds(self), n or 15)
  return check(ok, err, "signal")
end

function VM:connect(port, timeout)
  local s, err = agent.proxy(uds(self), port, timeout)
  return check(s, err, "connect")
end

-- Polls the agent's listener check (each question is one vsock round trip).
function VM:wait_listener(port, timeout)
  local deadline = core.sys.monotime() + (timeout or 30)
  repeat
    if agent.listening(uds(self), port, 10) then return true end
    core.sys.sleep(0.2)
  until core.sys.monotime() >= deadline
  return nil, "timeout"
end

function VM:wait_agent(timeout)
  local deadline = core.sys.monotime() + (timeout or 120)
  local err, t0 = nil, core.sys.monotime()
  repeat
    local v
    v, err = agent.ping(uds(self), 5)
    if v and v >= agent.MIN_VERSION and v <= agent.VERSION then return true end
    if v then
      return nil, string.format("guest agent speaks protocol version %d, not %d..%d", v, agent.MIN_VERSION,
        agent.VERSION)
    end
    if self.proc then
      local r = self.proc:wait(0)
      if r then return nil, "the VM ended before its agent answered" end
    end
    -- a restored agent answers within a few hundred ms; a booting one takes a while
    core.sys.sleep(core.sys.monotime() - t0 < 3 and 0.01 or 0.5)
  until core.sys.monotime() >= deadline
  return nil, "the guest agent did not answer in time (" .. tostring(err) .. ")"
end

-- ---- detached VMs: <runtime dir>/vms/NAME/{vmm.pid, vsock.sock, vmm.log} ----

-- $XDG_RUNTIME_DIR/sm, else $XDG_STATE_HOME/sm/run (~/.local/state/sm/run); 0700.
function M.runtime_dir()
  local dir
  if env("XDG_RUNTIME_DIR") then dir = env("XDG_RUNTIME_DIR") .. "/sm"
  elseif env("XDG_STATE_HOME") then dir = env("XDG_STATE_HOME") .. "/sm/run"
  else dir = (env("HOME") or errors.fail("HOME is not set")) .. "/.local/state/sm/run" end
  for _, d in ipairs({ dir, dir .. "/vms" }) do
    local ok, err = core.fs.private_dir(d)
    check(ok, err, "runtime directory")
  end
  return dir
end

function M.vm_dir(name)
  if type(name) ~= "string" or not name:match("^[%w][%w_.%-]*$") or #name > 64 then
    errors.usage_error("bad VM name '" .. tostring(name) .. "' — use letters, digits, '.', '_' and '-'")
  end
  return M.runtime_dir() .. "/vms/" .. name
end

local read_file = util.read_file

local function alive(pid)
  return pid and core.proc.kill(pid, 0) ~= nil
end

-- A running detached VM by name, or nil, why.
function M.attach(name)
  local dir = M.vm_dir(name)
  local pid = math.tointeger(tonumber((read_file(dir .. "/vmm.pid") or ""):match("%d+")))
  if not pid then return nil, "no VM named '" .. name .. "'" end
  if not alive(pid) then return nil, "VM '" .. name .. "' is not running (its VMM, pid " .. pid .. ", is gone)" end
  return setmetatable({ name = name, dir = dir, vmm_pid = pid, opts = { vsock_uds = dir .. "/vsock.sock" } }, VM)
end

-- A VM known only by its agent socket (a daemon's worker).
function M.from_socket(uds, name)
  return setmetatable({ name = name or uds, opts = { vsock_uds = uds } }, VM)
end

-- Names of running detached VMs; stale directories are swept.
function M.list_detached()
  local names = {}
  local root = M.runtime_dir() .. "/vms"
  for _, name in ipairs(core.fs.readdir(root) or {}) do
    if M.attach(name) then names[#names + 1] = name else core.fs.rmtree(root .. "/" .. name) end
  end
  table.sort(names)
  return names
end

-- Starts a VM that outlives this process; returns once its agent answers.
-- opts as for M.boot (from the boot snapshot) or, with opts.restore = DIR,
-- as for M.restore; opts.argv optional (default: a workload that waits for
-- `sm stop`; a restored snapshot has its workload already).
function M.start_detached(name, opts)
  local dir = M.vm_dir(name)
  if M.attach(name) then errors.fail("a VM named '" .. name .. "' is already running — sm stop " .. name) end
  core.fs.rmtree(dir)
  local ok, err = core.fs.private_dir(dir)
  check(ok, err, "VM directory")
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.vsock_uds = dir .. "/vsock.sock"
  o.console = "file:" .. dir .. "/vmm.log"
  o.detached = true			-- outlives this process
  if not o.restore and (not o.argv or #o.argv == 0) then o.argv = { "/bin/sleep", "2147483647" } end
  local started, vm = pcall(function()
    if o.restore then return M.restore(o.restore, o) end
    return M.boot(o)
  end)
  if not started then
    core.fs.rmtree(dir)	-- nothing half-made is left to find
    error(vm, 0)
  end
  local f = assert(io.open(dir .. "/vmm.pid", "w"))
  f:write(vm:pid(), "\n")
  f:close()
  ok, err = vm:wait_agent(opts.ready_timeout or 240)
  if not ok then
    vm:kill(9)
    errors.fail(err .. " — see " .. dir .. "/vmm.log")
  end
  vm.name, vm.dir, vm.vmm_pid = name, dir, vm:pid()
  return vm
end

local function running(vm)
  -- our child: reap it.  Not wait(0): it must also read captured output to
  -- its end, which a zero timeout never gives it time to do
  if vm.proc then return vm.proc:wait(0.2) == nil end
  return alive(vm.vmm_pid)
end

-- SIGTERM to the workload through the agent; after `grace` seconds, kill the VMM.
function VM:stop(grace)
  local pid = self.vmm_pid or self:pid()
  agent.stop(uds(self), 15, 5)
  local deadline = core.sys.monotime() + (grace or 10)
  while running(self) and core.sys.monotime() < deadline do core.sys.sleep(0.1) end
  local killed = running(self)
  if killed then core.proc.kill(pid, 9) end
  if killed and self.proc then self.proc:wait(10) end
  if self.dir then core.fs.rmtree(self.dir) end
  return killed and "killed" or "stopped"
end

-- ---- what sm boot and sm restore share ----

-- Their exit status for a failure of sm or the VM (1..124 are the
-- workload's own, 128+N a signal's).
M.FAILED = 125

-- PATH or PATH:ro or PATH:rw (--disk)
function M.parse_disk(s)
  local path, mode = s:match("^(.+):(r[ow])$")
  return { path = path or s, readonly = mode == "ro" }
end

-- What sm boot and sm restore print and return once the VM has ended.
function M.finish(cmd, res)
  if res.status == "exit" then return res.code end
  if res.status == "snapshot" then
    io.stderr:write("sm ", cmd, ": ", res.message, "\n")
    return 0
  end
  if res.status == "signal" then
    io.stderr:write("sm ", cmd, ": the workload was killed by signal ", res.signal, "\n")
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
  errors.fail(what[res.status] or ("the VM ended: " .. tostring(res.status)), M.FAILED)
end

-- --detach --name NAME (sm boot, sm restore): the VM runs on in the
-- background with its agent; prints NAME once the agent answers.
function M.detach_named(o, start)
  if not (o.detach and o.name) then errors.usage_error("--detach and --name go together") end
  errors.with_exit_code(M.FAILED, M.start_detached, o.name, start)
  io.stdout:write(o.name, "\n")
  return 0
end

return M
