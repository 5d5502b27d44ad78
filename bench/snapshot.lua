-- bench/snapshot.lua: restore figures for issue "snapshots", beside QEMU TCG
-- restoring a guest of the same size from a migration file, in the same run.
--   build/sm lua bench/snapshot.lua [RESTORES]   (default 30; SM_BENCH_RESTORES)
-- The guest runs sm-counter (one line every 20 ms); "guest answers" is the
-- first line it prints after the restore.
local core = require "sm.core"
local vm = require "sm.vm"

local N = tonumber(arg[1] or os.getenv("SM_BENCH_RESTORES") or "30")
local CONCURRENT = tonumber(os.getenv("SM_BENCH_CONCURRENT") or "20")
local BOOT_TRUE = tonumber(os.getenv("SM_BENCH_BOOT_TRUE") or "5")
-- the guest size for the PSS figure (the smoke run uses the suite's 128 MiB, whose boot snapshot exists)
local BIG = tonumber(os.getenv("SM_BENCH_MEM") or "256")
local function vmm(...)
  local argv = vm.vmm_command()
  for _, a in ipairs({ ... }) do argv[#argv + 1] = a end
  return argv
end
local kernel, initrd = vm.assets()
local tmp = assert(io.popen("mktemp -d /tmp/sm-bench-snap.XXXXXX")):read("l")

local function pct(t, p)
  local s = table.move(t, 1, #t, 1, {})
  table.sort(s)
  return s[math.max(1, math.ceil(#s * p / 100))]
end

local function counter_snapshot(mem, dir)
  local v = vm.boot{ argv = { "/bin/sm-counter", "20" }, memory_mib = mem, console = "capture",
    snapshot_after_ms = 1500, snapshot_to = dir }
  local r = assert(v:wait(900))
  assert(r.status == "snapshot", "snapshot failed: " .. tostring(r.message))
end

-- one restore: spawn -> first KVM_RUN (status), spawn -> first line of output
local function restore_once(dir)
  local p = core.proc.spawn(vmm("--status-fd", "3", "--restore", dir),
    { stdout = "pipe", stderr = "null", status = true, die_with_parent = true })
  local answered = p:expect("\n", 30)
  p:kill(15)
  local r = assert(p:wait(30))
  local setup = tonumber((r.status or ""):match("setup_us=(%d+)"))
  assert(answered and setup, "restore failed: " .. tostring(r.status))
  return setup / 1e3, answered * 1e3
end

local pss_kb = dofile("bench/lib/peers.lua").pss_kb

io.stderr:write("bench snapshot: preparing snapshots (boots once per memory size if not cached)\n")
counter_snapshot(128, tmp .. "/c128")
counter_snapshot(BIG, tmp .. "/c256")

-- restore latency
local setup, answer = {}, {}
for _ = 1, N do
  local s, a = restore_once(tmp .. "/c128")
  setup[#setup + 1], answer[#answer + 1] = s, a
end

-- sm boot -- /bin/true from the boot snapshot
local boot_true = {}
for _ = 1, BOOT_TRUE do
  local t0 = core.sys.monotime()
  local r = assert(vm.boot{ argv = { "/bin/true" }, console = "capture" }:wait(300))
  assert(r.status == "exit" and r.code == 0)
  boot_true[#boot_true + 1] = core.sys.monotime() - t0
end

-- 20 concurrent restores of one 256 MiB snapshot: PSS
local procs = {}
local function start(i)
  procs[i] = core.proc.spawn(vmm("--restore", tmp .. "/c256"),
    { stdout = "pipe", stderr = "null", die_with_parent = true })
end
start(1)
assert(procs[1]:expect("\n", 60), "restore did not answer")
os.execute("sleep 1")
local one = pss_kb(procs[1]:pid())		-- alone: it owns every page it maps
for i = 2, CONCURRENT do start(i) end
for i = 1, CONCURRENT do assert(procs[i]:expect("\n", 60), "concurrent restore " .. i .. " did not answer") end
os.execute("sleep 1")
local total = 0
for i = 1, CONCURRENT do total = total + pss_kb(procs[i]:pid()) end
for i = 1, CONCURRENT do procs[i]:kill(9) procs[i]:wait(10) end

-- QEMU TCG peer: restore a 128 MiB guest running the same counter from a migration file
local peers = dofile("bench/lib/peers.lua")
local qans = peers.qemu_restore_ms{ kernel = kernel, initrd = initrd, mem = 128, argv = { "/bin/sm-counter", "20" },
  runs = N, tmp = tmp }
os.execute("rm -rf " .. tmp)

print(string.format("snapshot restore — 1 vCPU, 128 MiB guest running a counter, %d restores", N))
print(string.format("  sm   host-side set-up (spawn -> first KVM_RUN)  p50 %7.2f ms  p99 %7.2f ms   (goal <= 5 ms p50)",
  pct(setup, 50), pct(setup, 99)))
print(string.format("  sm   restore -> guest answers                   p50 %7.2f ms  p99 %7.2f ms",
  pct(answer, 50), pct(answer, 99)))
print(string.format("  QEMU TCG -incoming exec:cat -> guest answers    p50 %7.2f ms  p99 %7.2f ms",
  pct(qans, 50), pct(qans, 99)))
print(string.format("  ratio sm / QEMU TCG, restore -> answer (p50): %.2fx   (< 1 means sm is faster)",
  pct(answer, 50) / pct(qans, 50)))
print(string.format("  sm boot -- /bin/true from the boot snapshot: median %.2f s (of %d)", pct(boot_true, 50), BOOT_TRUE))
print(string.format("%d concurrent restores of one %d MiB snapshot: combined PSS %.1f MiB, one VM alone %.1f MiB,",
  CONCURRENT, BIG, total / 1024, one / 1024))
print(string.format("  marginal per VM %.1f MiB = %.1f%% of guest RAM",
  (total - one) / (CONCURRENT - 1) / 1024, (total - one) / (CONCURRENT - 1) / 1024 / BIG * 100))
