-- bench/egress.lua: guest -> host-loopback HTTP download through egress
-- (docs/network.md): busybox wget of an N MiB file from an HTTP server on
-- the host's 127.0.0.1 (10.0.2.2 to the guest), timed in the guest by
-- busybox `time`; sm (virtio-net + libslirp in the VMM) beside QEMU TCG
-- with its user-mode network (-netdev user, virtio-net-device on -M
-- microvm; acpi=off, so QEMU declares its virtio-mmio devices on the
-- command line, which our ACPI-less guest kernel reads) booting the same
-- vmlinux + initramfs, in the same run.
-- Traffic goes only to 127.0.0.1.
--   build/sm lua bench/egress.lua [MIB]     (default 16; SM_BENCH_EGRESS_MIB)
local core = require "sm.core"
local vm = require "sm.vm"

local mib = tonumber(arg[1] or os.getenv("SM_BENCH_EGRESS_MIB") or "16")
local kernel, initrd = vm.assets()
local MEM, TIMEOUT = 128, 900
local QEMU_MTU = 1500		-- QEMU's user network: its slirp's default MTU

local function sh(cmd)
  local ok = os.execute(cmd)
  assert(ok, cmd .. " failed")
end

local dir = "/tmp/sm-bench-egress-" .. core.sys.getpid()
sh("mkdir -p " .. dir .. " && head -c " .. math.floor(mib * 1048576) .. " /dev/urandom > " .. dir .. "/f")
local port = 28000 + (os.time() * 11) % 2000
-- its pid in a file: `pkill -f` would match the shell running it too
sh(string.format("cd %s && { setsid timeout %d python3 -m http.server %d --bind 127.0.0.1 >/dev/null 2>&1 & echo $! > server.pid; }",
  dir, TIMEOUT * 2, port))
sh(string.format("for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:%d/ && exit 0; sleep 0.1; done; exit 1", port))

local SCRIPT = string.format("time wget -q -O /dev/null http://10.0.2.2:%d/f", port)

local function seconds(text)
  local m, s = (text or ""):match("real%s+(%d+)m%s*([%d.]+)s")
  return m and tonumber(m) * 60 + tonumber(s)
end

local function sm_run()
  local v = vm.boot{ argv = { "/bin/sh", "-c", SCRIPT }, memory_mib = MEM, console = "capture",
    egress = "allowlist:127.0.0.1/32" }
  local r = assert(v:wait(TIMEOUT))
  assert(r.status == "exit" and r.code == 0, "sm: " .. tostring(r.message) .. tostring(r.stderr))
  return assert(seconds(r.stderr), "sm: no time in " .. tostring(r.stderr))
end

-- QEMU's side of the init channel (docs/init-channel.md), as bench/boot.lua
local HELLO = "\1\0\1\0"
local EXIT0 = "\4\0\8\0\0\0\0\0\0\0\0\0"
local function config(argv)
  local s = {}
  for _, a in ipairs(argv) do s[#s + 1] = "a" .. a .. "\0" end
  return string.pack("<BBs2", 6, 0, table.concat(s))
end

local function qemu_run()
  local append = string.format("%s sm.net=10.0.2.15/24,10.0.2.2,10.0.2.3,%d", vm.cmdline(), QEMU_MTU)
  local p = core.proc.spawn({ "/usr/bin/qemu-system-x86_64", "-M", "microvm,acpi=off", "-accel", "tcg", "-m", tostring(MEM),
    "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
    "-kernel", kernel, "-initrd", initrd, "-append", append,
    "-netdev", "user,id=n0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,ipv6=off",
    "-device", "virtio-net-device,netdev=n0,mac=52:54:00:12:34:56",
    "-serial", "null", "-chardev", "stdio,id=chan,signal=off", "-device", "isa-serial,chardev=chan,iobase=0x2f8,irq=3" },
    { stdout = "pipe", stderr = "pipe", stdin = "pipe" })
  local ready, err = p:expect(HELLO, TIMEOUT)
  if ready then p:send(config({ "/bin/sh", "-c", SCRIPT }), "stdin") end
  local done
  if ready then done, err = p:expect(EXIT0, TIMEOUT) end
  p:kill(9)
  local r = p:wait(10)
  assert(ready and done, "qemu: " .. tostring(err) .. " " .. tostring(r and r.stderr))
  return assert(seconds(r.stdout), "qemu: no time in its output")
end

io.stderr:write(string.format("bench egress: %g MiB: sm ... ", mib))
local s = sm_run()
io.stderr:write(string.format("%.1fs, qemu tcg ... ", s))
local q = qemu_run()
io.stderr:write(string.format("%.1fs\n", q))
sh(string.format("kill $(cat %s/server.pid); rm -rf %s", dir, dir))

print(string.format("egress: guest wget of %g MiB from the host's 127.0.0.1 (10.0.2.2), same vmlinux + initramfs, %d MiB", mib, MEM))
print(string.format("  sm (virtio-net + libslirp, MTU %d)  %7.2f s  %8.2f MiB/s", 65520, s, mib / s))
print(string.format("  QEMU TCG (-netdev user, MTU %d)     %7.2f s  %8.2f MiB/s", QEMU_MTU, q, mib / q))
print(string.format("  ratio sm / QEMU TCG, MiB/s: %.2fx   (> 1 means sm is faster)", (mib / s) / (mib / q)))
