-- bench/boot.lua: boot to the guest's first init line (init's HELLO on the
-- init channel), `sm` under KVM beside QEMU TCG (-M microvm) booting the
-- same vmlinux + initramfs with the same command line, in the same run.
--   build/sm lua bench/boot.lua [RUNS]     (default 3; SM_BENCH_BOOTS)
local core = require "sm.core"
local vm = require "sm.vm"

local runs = tonumber(arg[1] or os.getenv("SM_BENCH_BOOTS") or "3")
local kernel, initrd = vm.assets()
local MEM = 128
local TIMEOUT = 600

local function median(t)
  local s = table.move(t, 1, #t, 1, {})
  table.sort(s)
  return s[(#s + 1) // 2]
end

-- a real boot on both sides: the boot snapshot is off here
local function sm_boot()
  local t0 = core.sys.monotime()
  local v = vm.boot{ argv = { "/bin/true" }, memory_mib = MEM, console = "capture", boot_snapshot = false }
  local r = assert(v:wait(TIMEOUT))
  assert(r.status == "exit" and r.code == 0, "sm boot failed: " .. tostring(r.message))
  return { setup = r.setup_us / 1e6, ready = r.ready_us / 1e6, emul = r.emul_exits, total = core.sys.monotime() - t0 }
end

-- QEMU's side of the init channel (docs/init-channel.md): init says HELLO,
-- waits for CONFIG (the workload), runs it and reports EXIT.
local HELLO = "\1\0\1\0"		-- type 1, flags 0, length 1; then the version (any)
local CONFIG_TRUE = string.pack("<BBs2", 6, 0, "a/bin/true\0")
local EXIT0 = "\4\0\8\0\0\0\0\0\0\0\0\0"

local function qemu_boot()
  local p = core.proc.spawn({ "/usr/bin/qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-m", tostring(MEM),
    "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
    "-kernel", kernel, "-initrd", initrd, "-append", vm.cmdline(),
    "-serial", "null", "-chardev", "stdio,id=chan,signal=off", "-device", "isa-serial,chardev=chan,iobase=0x2f8,irq=3" },
    { stdout = "pipe", stderr = "pipe", stdin = "pipe" })
  local ready, err = p:expect(HELLO, TIMEOUT)
  if ready then p:send(CONFIG_TRUE, "stdin") end
  local total
  if ready then total, err = p:expect(EXIT0, TIMEOUT) end
  p:kill(9)
  local r = p:wait(10)
  assert(ready and total, "qemu: " .. tostring(err) .. " " .. tostring(r and r.stderr))
  return { ready = ready, total = total }
end

local sm, qemu = { setup = {}, ready = {}, emul = {}, total = {} }, { ready = {}, total = {} }
for i = 1, runs do
  io.stderr:write(string.format("bench boot: run %d/%d: sm ... ", i, runs))
  local s = sm_boot()
  for k, v in pairs(s) do table.insert(sm[k], v) end
  io.stderr:write(string.format("%.1fs, qemu tcg ... ", s.ready))
  local q = qemu_boot()
  for k, v in pairs(q) do table.insert(qemu[k], v) end
  io.stderr:write(string.format("%.1fs\n", q.ready))
end

print(string.format("boot to first init line — same vmlinux + initramfs, %d MiB, 1 vCPU, median of %d", MEM, runs))
print(string.format("  sm (KVM%s)  host set-up (spawn -> first KVM_RUN) %8.2f ms",
  os.getenv("SM_HOST_KIND") == "hw" and "" or ", this host's kind auto-detected", median(sm.setup) * 1e3))
print(string.format("  sm          first init line %8.2f s   command done %8.2f s   emulation exits handled %d",
  median(sm.ready), median(sm.total), median(sm.emul)))
print(string.format("  QEMU TCG    first init line %8.2f s   command done %8.2f s",
  median(qemu.ready), median(qemu.total)))
print(string.format("  ratio sm / QEMU TCG, first init line: %.2fx   (< 1 means sm is faster)",
  median(sm.ready) / median(qemu.ready)))
