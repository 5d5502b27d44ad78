-- bench/router.lua: the daemon's HTTP edge (docs/router.md), printed, never
-- asserted (DESIGN.md §9):
--   * router host CPU per proxied request: the daemon's on-CPU time
--     (/proc/PID/schedstat, ns; its idle rate, measured first, taken off)
--     ÷ requests answered under `wrk -c32 -d10s` on 127.0.0.1, beside the
--     same load sent straight to the worker through bench/vsock_fwd.c (the
--     bare CONNECT + PROXY + copy, no HTTP) and the worker VMM's CPU per
--     request;
--   * latency of one request through the router beside the same request
--     sent straight to the worker's vsock socket (CONNECT + PROXY by hand),
--     p50 of N sequential requests on a warm worker;
--   * the same two wrk runs with bench/native_worker.c (the worker's
--     socket, agent handshake and HTTP answered by a native host process)
--     in place of the VM: what the router costs per request when the guest
--     is not the bottleneck (a guest here answers a few requests a second);
--   * scale from zero: request → answer with no worker running, over RUNS
--     runs, split into host-side restore set-up (the VMM's `running
--     setup_us=`) and the rest (guest + proxy); with the daemon's standby
--     VMM (set-up on the request path: go → first KVM_RUN; its preparation
--     off the path: spawn → standby, and its PSS), then with --no-standby
--     (spawn → first KVM_RUN, the peer).
--   build/sm lua bench/router.lua [SNAPSHOT_DIR] [RUNS] [WRK_SECONDS]   (default: $SM_TEST_HTTP_SNAPSHOT or a new one, 20, 10)
local core = require "sm.core"
local agent = require "sm.agent"
local vm = require "sm.vm"

if arg[1] == "--edge" then   -- the router alone on its loop, one ready worker: --edge PORT UDS
  local loop = require "sm.loop"
  local rt = assert(core.router.new{ port = tonumber(arg[2]), snapshot = "bench", max_workers = 1, worker_conns = 4096 })
  assert(rt:add_worker(1, arg[3], 8080))
  assert(rt:ready(1))
  loop.on_signal(15, function() rt:close() loop.stop() end)
  assert(loop.run())
  return 0
end

local SNAP = (arg[1] and arg[1] ~= "" and arg[1]) or os.getenv("SM_TEST_HTTP_SNAPSHOT")   -- make test shares one
local RUNS = tonumber(arg[2] or os.getenv("SM_BENCH_ROUTER_RUNS") or "20")
local WRK_S = tonumber(arg[3] or os.getenv("SM_BENCH_WRK_S") or "10")
local SEQ = tonumber(os.getenv("SM_BENCH_ROUTER_SEQ") or "20")
local exe = core.sys.paths().exe
local root = core.sys.paths().lua .. "/.."

local proc = dofile(root .. "/bench/lib/proc.lua")
local sh = proc.sh

local function pct(t, q)
  local s = table.move(t, 1, #t, 1, {})
  table.sort(s)
  return s[math.max(1, math.ceil(#s * q))]
end

local function oncpu_ns(pid)
  local f = io.open("/proc/" .. pid .. "/schedstat")
  if not f then return 0 end
  local ns = tonumber(f:read("a"):match("^(%d+)"))
  f:close()
  return ns or 0
end

local proc_cpu_ns = proc.cpu_ns

-- One HTTP/1.0 GET on stream s: status, seconds to the first byte, body length.
local function exchange(s, path, t0)
  assert(s:send("GET " .. path .. " HTTP/1.0\r\nHost: bench\r\n\r\n", 30))
  local parts, first = {}, nil
  repeat
    local d = s:recv(65536, 60)
    if d and d ~= "" and not first then first = core.sys.monotime() - t0 end
    parts[#parts + 1] = d
  until not d or d == ""
  s:close()
  local resp = table.concat(parts)
  return tonumber(resp:match("^HTTP/1%.%d (%d+)")), first, #resp
end

local function get(port, path)
  local t0 = core.sys.monotime()
  local s = assert(core.net.tcp_connect("127.0.0.1", port))
  local code, first = exchange(s, path, t0)
  return code, first, core.sys.monotime() - t0
end

local function health(port)
  local ok, s = pcall(core.net.tcp_connect, "127.0.0.1", port)
  if not ok or not s then return nil end
  assert(s:send("GET /_health HTTP/1.0\r\n\r\n", 5))
  local parts = {}
  repeat
    local d = s:recv(4096, 5)
    parts[#parts + 1] = d
  until not d or d == ""
  s:close()
  return table.concat(parts)
end

local function live(port)
  return tonumber((health(port) or ""):match('"live":(%d+)'))
end

local function make_snapshot()
  local dir = sh("mktemp -d /tmp/sm-bench-router.XXXXXX"):gsub("%s+$", "")
  sh("chmod 700 " .. dir)
  local p = core.proc.spawn({ exe, "lua", root .. "/spec/support/http_snapshot.lua", dir }, { stdout = "pipe", stderr = "pipe" })
  local r = p:wait(600)
  assert(r and r.code == 0, "making the snapshot failed: " .. tostring(r and r.stderr))
  return dir .. "/snap", dir
end

local function start_daemon(port, snap, log, extra)
  local argv = { exe, "daemon", "--http-port", tostring(port), "--snapshot", snap, "--port", "8080" }
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  local p = core.proc.spawn(argv, { stdout = "null", stderr = "file:" .. log, die_with_parent = true })
  for _ = 1, 200 do
    if health(port) then return p end
    core.sys.sleep(0.05)
  end
  error("the daemon did not start: " .. sh("cat " .. log))
end

local function stop_daemon(p)
  p:kill(15)
  p:wait(10)
end

local function vmm_pid(log, id)
  return tonumber(sh("cat " .. log):match("worker " .. id .. " running %(pid (%d+)"))
end

local snap, made = SNAP, nil
if not snap then snap, made = make_snapshot() end
local tmp = sh("mktemp -d /tmp/sm-bench-router-log.XXXXXX"):gsub("%s+$", "")
local port = 23000 + (core.sys.paths().exe:len() * 37 + os.time()) % 2000

-- ---- warm worker: sequential latency, then wrk ----
local log = tmp .. "/warm.log"
local d = start_daemon(port, snap, log, { "--idle-timeout", "0" })
for _ = 1, 100 do if live(port) == 1 then break end core.sys.sleep(0.1) end
assert(get(port, "/index.html") == 200, "the warm worker did not answer")
local uds = vm.runtime_dir() .. "/daemon-" .. port .. "/w1.sock"

local via, direct = {}, {}
for i = 1, SEQ do
  local code, first = get(port, "/index.html")
  if code == 200 then via[#via + 1] = first end
  local t0 = core.sys.monotime()
  local s = agent.proxy(uds, 8080, 30)
  code, first = exchange(s, "/index.html", t0)
  if code == 200 then direct[#direct + 1] = first end
  if i == SEQ then break end
end
print(string.format("router: one request, first byte, p50 of %d: via router %.1f ms, straight to the worker's vsock socket %.1f ms (difference %.2f ms)",
  SEQ, pct(via, 0.5) * 1000, pct(direct, 0.5) * 1000, (pct(via, 0.5) - pct(direct, 0.5)) * 1000))

local dpid, wpid = d:pid(), vmm_pid(log, 1)
-- a guest here takes seconds per request at 32 at once: wrk runs longer against the VM
local VM_WRK_S = tonumber(os.getenv("SM_BENCH_VM_WRK_S") or math.max(WRK_S, 30))
local function wrk(p, secs)
  local out = sh(string.format("wrk -t1 -c32 -d%ds --timeout 30s http://127.0.0.1:%d/index.html 2>&1", secs or WRK_S, p))
  return { reqs = tonumber(out:match("(%d+) requests in")) or 0, rps = out:match("Requests/sec:%s+([%d%.]+)") or "?",
    lat = out:match("Latency%s+(%S+)") or "?", non2xx = out:match("Non%-2xx or 3xx responses: (%d+)") or "0", out = out }
end
-- the daemon's own idle work (its reaper timer) over 2 s, to take off
local i0, it0 = oncpu_ns(dpid), core.sys.monotime()
core.sys.sleep(2)
local idle_rate = (oncpu_ns(dpid) - i0) / (core.sys.monotime() - it0)
local c0, v0, t0 = oncpu_ns(dpid), proc_cpu_ns(wpid), core.sys.monotime()
local r = wrk(port, VM_WRK_S)
local c1, v1, t1 = oncpu_ns(dpid), proc_cpu_ns(wpid), core.sys.monotime()
local router_us = r.reqs > 0 and ((c1 - c0) - idle_rate * (t1 - t0)) / 1e3 / r.reqs

-- the same load straight to the worker's socket through the bare forwarder
local fwd_bin = tmp .. "/vsock_fwd"
sh("cc -O2 -o " .. fwd_bin .. " " .. root .. "/bench/vsock_fwd.c -lpthread")
local fport = port + 500
local fwd = core.proc.spawn({ fwd_bin, tostring(fport), uds, "8080" }, { stdout = "pipe", die_with_parent = true })
core.sys.sleep(0.2)
local function fwd_cpu_us()
  local before = #fwd:buffered()
  fwd:kill(10)   -- SIGUSR1: it prints cpu_us=
  for _ = 1, 50 do
    fwd:expect("\0never", 0.1)   -- reads what arrived for 0.1 s
    local tail = fwd:buffered():sub(before + 1)
    local v = tail:match("cpu_us=(%d+)")
    if v then return tonumber(v) end
  end
end
local f0, fv0 = fwd_cpu_us(), proc_cpu_ns(wpid)
local f = wrk(fport, VM_WRK_S)
local f1, fv1 = fwd_cpu_us(), proc_cpu_ns(wpid)
fwd:kill(9)
fwd:wait(5)
if r.reqs > 0 then
  print(string.format("router: VM worker, wrk -c32 -d%ds via the router: %d requests (%s/s, mean latency %s, non-2xx %s); router CPU %.1f µs per proxied request (target ≤ 30; idle %.0f µs/s taken off); worker VMM %.0f µs per request (guest included)",
    VM_WRK_S, r.reqs, r.rps, r.lat, r.non2xx, router_us, idle_rate / 1e3, (v1 - v0) / 1e3 / r.reqs))
else
  print("router: wrk through the router answered no requests: " .. r.out)
end
if f.reqs > 0 and f0 and f1 then
  print(string.format("router: VM worker, the same load straight to its socket (bench/vsock_fwd.c): %d requests (%s/s, mean latency %s, non-2xx %s); forwarder CPU %.1f µs per request; worker VMM %.0f µs per request",
    f.reqs, f.rps, f.lat, f.non2xx, (f1 - f0) / f.reqs, (fv1 - fv0) / 1e3 / f.reqs))
else
  print("router: wrk through the forwarder answered no requests: " .. f.out)
end
stop_daemon(d)

-- ---- the router and the forwarder in front of a native worker ----
local nuds = tmp .. "/native.sock"
sh("cc -O2 -o " .. tmp .. "/native_worker " .. root .. "/bench/native_worker.c -lpthread")
local eport = port + 600
for _, mode in ipairs({ "close", "keepalive" }) do
  local nw = core.proc.spawn({ tmp .. "/native_worker", nuds, mode }, { die_with_parent = true })
  core.sys.sleep(0.2)
  eport = eport + 1
  local edge = core.proc.spawn({ exe, "lua", root .. "/bench/router.lua", "--edge", tostring(eport), nuds }, { die_with_parent = true })
  for _ = 1, 100 do if health(eport) then break end core.sys.sleep(0.05) end
  local e0 = oncpu_ns(edge:pid())
  local er = wrk(eport)
  local e1 = oncpu_ns(edge:pid())
  fport = fport + 1
  fwd = core.proc.spawn({ fwd_bin, tostring(fport), nuds, "8080" }, { stdout = "pipe", die_with_parent = true })
  core.sys.sleep(0.2)
  f0 = fwd_cpu_us()
  local fr = wrk(fport)
  f1 = fwd_cpu_us()
  for _, p in ipairs({ fwd, edge, nw }) do p:kill(15) p:wait(5) end
  local what = mode == "close" and "a connection per request, as busybox httpd" or "keep-alive connections"
  if er.reqs > 0 then
    print(string.format("router: native worker (%s), wrk -c32 -d%ds via the router: %d requests (%s/s, mean latency %s, non-2xx %s), router CPU %.1f µs per request (target ≤ 30)",
      what, WRK_S, er.reqs, er.rps, er.lat, er.non2xx, (e1 - e0) / 1e3 / er.reqs))
  else
    print("router: native worker via the router answered no requests: " .. er.out)
  end
  if fr.reqs > 0 and f0 and f1 then
    print(string.format("router: native worker (%s), the same load via bench/vsock_fwd.c: %d requests (%s/s, mean latency %s, non-2xx %s), forwarder CPU %.1f µs per request",
      what, fr.reqs, fr.rps, fr.lat, fr.non2xx, (f1 - f0) / fr.reqs))
  else
    print("router: native worker via the forwarder answered no requests: " .. fr.out)
  end
end

-- ---- scale from zero ----
local peers = dofile(root .. "/bench/lib/peers.lua")

local function standby_count(p)
  return tonumber((health(p) or ""):match('"standby":(%d+)'))
end

-- RUNS requests, each with no worker running (and, with a standby, once the
-- standby is ready): { total=, setup=, standby=, rest= } in ms, and the log.
local function zero_runs(extra, with_standby)
  local zlog = tmp .. "/zero-" .. (with_standby and "standby" or "cold") .. ".log"
  port = port + 1
  local zd = start_daemon(port, snap, zlog, extra)
  local t = { total = {}, setup = {}, standby = {}, rest = {} }
  for _ = 1, RUNS do
    for _ = 1, 200 do
      if live(port) == 0 and (not with_standby or standby_count(port) == 1) then break end
      core.sys.sleep(0.05)
    end
    local seen = select(2, sh("cat " .. zlog):gsub(" running %(pid", ""))
    local code, first = get(port, "/index.html")
    local n, su, sb = 0, nil, nil
    for line in sh("cat " .. zlog):gmatch("[^\n]+") do
      if line:find(" running (pid", 1, true) then
        n = n + 1
        if n == seen + 1 then
          su, sb = line:match("restore set%-up (%d+) µs"), line:match("its standby took (%d+) µs")
        end
      end
    end
    su, sb = tonumber(su), tonumber(sb)
    if code == 200 and su and first and (sb or not with_standby) then
      t.total[#t.total + 1], t.setup[#t.setup + 1] = first * 1000, su / 1000
      t.rest[#t.rest + 1] = first * 1000 - su / 1000
      if sb then t.standby[#t.standby + 1] = sb / 1000 end
    end
  end
  -- what a ready standby costs: its PSS (clean snapshot pages are shared)
  local spid = with_standby and tonumber(sh("cat " .. zlog):match(".*standby %d+ ready %(pid (%d+)"))
  t.pss = spid and peers.pss_kb(spid)
  stop_daemon(zd)
  return t, zlog
end

local function zero_line(what, t, setup_what)
  return string.format("router: scale from zero %s, %d of %d runs: request → first byte p50 %.0f ms, p99 %.0f ms; %s p50 %.2f ms, p99 %.2f ms; the rest (guest resumes, handles the vsock reset, httpd answers) p50 %.0f ms, p99 %.0f ms",
    what, #t.total, RUNS, pct(t.total, 0.5), pct(t.total, 0.99), setup_what, pct(t.setup, 0.5), pct(t.setup, 0.99),
    pct(t.rest, 0.5), pct(t.rest, 0.99))
end

local sb, sblog = zero_runs({ "--idle-timeout", "0.2" }, true)
if #sb.total > 0 then
  print(zero_line("with a standby VMM", sb, "request-path restore set-up (go → first KVM_RUN, target ≤ 2 ms)"))
  print(string.format("router: standby VMM, prepared off the request path: spawn → standby p50 %.1f ms, p99 %.1f ms; PSS of a ready standby %s KiB",
    pct(sb.standby, 0.5), pct(sb.standby, 0.99), tostring(sb.pss)))
else
  print("router: scale from zero with a standby: no run succeeded; see " .. sblog)
end
local cold, coldlog = zero_runs({ "--idle-timeout", "0.2", "--no-standby" }, false)
if #cold.total > 0 then
  print(zero_line("without a standby (--no-standby, the peer)", cold, "host-side restore set-up (spawn → first KVM_RUN)"))
else
  print("router: scale from zero without a standby: no run succeeded; see " .. coldlog)
end
sh("rm -rf " .. tmp)
if made then sh("rm -rf " .. made) end
