-- bench/serve.lua: `sm run` as a user meets it (docs/run.md), printed, never
-- asserted (DESIGN.md §9), every figure beside a peer measured in this run:
--   * `sm run --detach` of a local image (tests/oci/mkimage.py web: busybox
--     httpd) until its first answered request: the first time (pull + bake +
--     daemon + restore) and again (the snapshot exists: daemon + restore),
--     beside QEMU TCG restoring a migration file of the same kernel and
--     initramfs running a workload, and beside the same busybox httpd
--     started natively on the host serving the same page;
--   * marginal PSS of an idle worker: one snapshot, N workers restored by
--     one daemon (SIGUSR1 asks it for one more), (PSS(all) - PSS(one)) / (N-1).
--   build/sm lua bench/serve.lua [RUNS] [WORKERS]   (default 3, 10; SM_BENCH_RUN_N, SM_BENCH_RUN_WORKERS)
local core = require "sm.core"
local vm = require "sm.vm"
local peers = dofile("bench/lib/peers.lua")

local RUNS = tonumber(arg[1] or os.getenv("SM_BENCH_RUN_N") or "3")
local WORKERS = tonumber(arg[2] or os.getenv("SM_BENCH_RUN_WORKERS") or (RUNS > 1 and "10" or "2"))
local sm = core.sys.paths().exe
local tmp = assert(io.popen("mktemp -d /tmp/sm-bench-run.XXXXXX")):read("l")
local port = 24000 + (os.time() * 13) % 2000
local ENV = string.format("XDG_RUNTIME_DIR=%s/xdg XDG_STATE_HOME=%s/state XDG_DATA_HOME=%s/data SM_IMAGES_DIR=%s/images",
  tmp, tmp, tmp, tmp)

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local function must(cmd)
  local out, ok = sh(cmd)
  assert(ok, cmd .. ":\n" .. out)
  return out
end

local function sm_cmd(args) return string.format("env %s timeout 600 %s %s", ENV, sm, args) end

local function first_answer(p)
  local t0 = core.sys.monotime()
  local s = assert(core.net.tcp_connect("127.0.0.1", p))
  peers.http_get(s)
  return core.sys.monotime() - t0
end

-- seconds from `sm run --detach` to the first answered GET /
local function detach_to_answer(name)
  local t0 = core.sys.monotime()
  must(sm_cmd(string.format("run --detach --memory 128 --name %s --http-port %d oci-layout:%s/web:1", name, port, tmp)))
  first_answer(port)
  return core.sys.monotime() - t0
end

local function stop() sh(sm_cmd("run --stop --stop-grace 2 --http-port " .. port)) end

local pss_kb = peers.pss_kb

-- The daemon's live workers' VMMs, from its log ("worker N running (pid P"):
-- its standby VMM (docs/router.md) is not a worker and is left out.
local function worker_pids()
  local pids = {}
  local f = io.open(tmp .. "/state/sm/router-" .. port .. ".log")
  for pid in (f and f:read("a") or ""):gmatch("worker %d+ running %(pid (%d+)") do
    if core.proc.kill(tonumber(pid), 0) then pids[#pids + 1] = pid end
  end
  if f then f:close() end
  return pids
end

local ok, err = pcall(function()
  must("mkdir -m 700 " .. tmp .. "/xdg && python3 tests/oci/mkimage.py web " .. tmp .. "/web")
  local first, again = {}, {}
  for i = 1, RUNS do
    io.stderr:write(string.format("bench run: %d/%d: first run (bake) ... ", i, RUNS))
    first[i] = detach_to_answer("bench-" .. i)
    stop()
    io.stderr:write(string.format("%.1f s, again ... ", first[i]))
    again[i] = detach_to_answer("bench-" .. i)
    stop()
    io.stderr:write(string.format("%.2f s\n", again[i]))
  end
  local kernel, initrd = vm.assets()
  local qemu = peers.qemu_restore_ms{ kernel = kernel, initrd = initrd, mem = 128,
    argv = { "/bin/sh", "-c", "while :; do echo tick; sleep 0.02; done" }, runs = RUNS, tmp = tmp }
  must("mkdir -p " .. tmp .. "/www-native && echo '<h1>hello from the web image</h1>' > " .. tmp .. "/www-native/index.html")
  local native = peers.native_httpd_s(tmp .. "/www-native", RUNS)
  local a = peers.pct(again, 50)
  print(string.format("sm run --detach → first answered GET / (local busybox-httpd image, 128 MiB), median of %d", RUNS))
  print(string.format("  first run (pull + bake + daemon + restore)  %8.2f s", peers.pct(first, 50)))
  print(string.format("  again (snapshot exists: daemon + restore)   %8.3f s", a))
  print(string.format("  QEMU TCG -incoming migration file → guest answers  %8.3f s   ratio sm again / QEMU %.2fx",
    peers.pct(qemu, 50) / 1e3, a / (peers.pct(qemu, 50) / 1e3)))
  print(string.format("  native busybox httpd start → first answer   %8.4f s   ratio sm again / native %.0fx",
    peers.pct(native, 50), a / peers.pct(native, 50)))

  -- marginal PSS per idle worker
  must(sm_cmd(string.format("run --detach --memory 128 --name bench-1 --http-port %d --workers-per-snapshot %d --idle-timeout 0 oci-layout:%s/web:1",
    port, WORKERS, tmp)))
  local pidf = io.open(tmp .. "/state/sm/router-" .. port .. ".pid")
  local dpid = pidf:read("n")
  pidf:close()
  core.sys.sleep(1)
  local alone = worker_pids()
  local one = alone[1] and pss_kb(alone[1]) or 0	-- alone, it owns every page it maps
  local deadline = core.sys.monotime() + 120 + 30 * WORKERS
  while #worker_pids() < WORKERS and core.sys.monotime() < deadline do
    core.proc.kill(dpid, 10)		-- SIGUSR1: one more worker
    core.sys.sleep(1)
  end
  core.sys.sleep(2)
  local pids = worker_pids()
  local total = 0
  for _, pid in ipairs(pids) do total = total + pss_kb(pid) end
  stop()
  if #pids > 1 then
    print(string.format("idle workers of one snapshot: %d workers, combined PSS %.1f MiB, one alone %.1f MiB, marginal per worker %.1f MiB (of 128 MiB guest RAM)",
      #pids, total / 1024, one / 1024, (total - one) / (#pids - 1) / 1024))
  else
    print("idle workers of one snapshot: only " .. #pids .. " worker came up")
  end
end)
stop()
os.execute("rm -rf " .. tmp)
if not ok then error(err, 0) end
return 0
