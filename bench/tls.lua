-- bench/tls.lua: TLS at the edge (docs/tls.md) beside plain HTTP on the same
-- router, printed, never asserted (DESIGN.md §9).  The worker is
-- bench/native_worker.c (a host process answering like a worker VM's vsock
-- socket + agent + HTTP server), so what is measured is the edge itself:
--   * handshake + first byte: curl's time_starttransfer (connect, TLS
--     handshake with an ECDSA P-256 certificate, request, first response
--     byte; curl's own start-up excluded) over N new connections, p50 and
--     p99, TLS beside plain HTTP (ratio);
--   * wrk -c32 with keep-alive: requests/s and the router's on-CPU µs per
--     request, TLS beside plain;
--   * wrk -c32 with a new connection per request (the worker says
--     Connection: close): the same, so each TLS request pays a full
--     handshake (wrk resumes no sessions).
--   build/sm lua bench/tls.lua [N] [WRK_SECONDS]   (default 50, 5; SM_BENCH_ROUTER_SEQ, SM_BENCH_WRK_S)
local core = require "sm.core"

if arg[1] == "--edge" then   -- the router alone, one ready worker: --edge PORT UDS [CERT KEY]
  local loop = require "sm.loop"
  local rt = assert(core.router.new{ port = tonumber(arg[2]), snapshot = "bench", max_workers = 1, worker_conns = 4096,
    tls_cert = arg[4], tls_key = arg[5] })
  assert(rt:add_worker(1, arg[3], 8080))
  assert(rt:ready(1))
  loop.on_signal(15, function() rt:close() loop.stop() end)
  assert(loop.run())
  return 0
end

local N = tonumber(arg[1] or os.getenv("SM_BENCH_ROUTER_SEQ") or "50")
local WRK_S = tonumber(arg[2] or os.getenv("SM_BENCH_WRK_S") or "5")
local exe = core.sys.paths().exe
local root = core.sys.paths().lua .. "/.."
local proc = dofile(root .. "/bench/lib/proc.lua")
local sh = proc.sh

local function pct(t, q)
  local s = table.move(t, 1, #t, 1, {})
  table.sort(s)
  return s[math.max(1, math.ceil(#s * q))] or 0
end

local tmp = sh("mktemp -d /tmp/sm-bench-tls.XXXXXX"):gsub("%s+$", "")
local cert, key = tmp .. "/cert.pem", tmp .. "/key.pem"
assert(core.tls.generate(cert, key))
sh("cc -O2 -o " .. tmp .. "/native_worker " .. root .. "/bench/native_worker.c -lpthread")
local base = 24000 + core.sys.getpid() % 2000 * 4   -- below the ephemeral range (32768+): no clash with a client socket

local function up(port, cacert)
  for _ = 1, 100 do
    local url = (cacert and "https" or "http") .. "://127.0.0.1:" .. port .. "/_health"
    if sh("curl -s -o /dev/null -w '%{http_code}' " .. (cacert and "--cacert " .. cacert .. " " or "") .. url) == "200" then
      return true
    end
    core.sys.sleep(0.05)
  end
end

-- A native worker in mode and two edges in front of it, plain and TLS.
local function edges(mode, n)
  local uds = string.format("%s/native-%s.sock", tmp, mode)
  local nw = core.proc.spawn({ tmp .. "/native_worker", uds, mode }, { die_with_parent = true })
  core.sys.sleep(0.2)
  local plain, tls = base + n * 2, base + n * 2 + 1
  local e = {
    nw = nw, plain = plain, tls = tls,
    ep = core.proc.spawn({ exe, "lua", root .. "/bench/tls.lua", "--edge", tostring(plain), uds }, { die_with_parent = true }),
    et = core.proc.spawn({ exe, "lua", root .. "/bench/tls.lua", "--edge", tostring(tls), uds, cert, key }, { die_with_parent = true }),
  }
  assert(up(plain) and up(tls, cert), "the edges did not start")
  return e
end

local function stop(e)
  for _, p in ipairs({ e.ep, e.et, e.nw }) do p:kill(15) p:wait(5) end
end

-- curl's time_starttransfer of N new connections, in ms.
local function first_bytes(url, extra)
  local t = {}
  for _ = 1, N do
    local out = sh("curl -s -o /dev/null -w '%{http_code} %{time_starttransfer}' " .. (extra or "") .. " " .. url)
    local code, s = out:match("^(%d+) ([%d.]+)")
    if code == "200" then t[#t + 1] = tonumber(s) * 1000 end
  end
  return t
end

local function wrk(url, pid, extra)
  local c0 = proc.cpu_ns(pid)
  local out = sh(string.format("wrk -t1 -c32 -d%ds --timeout 10s %s %s 2>&1", WRK_S, extra or "", url))
  local c1 = proc.cpu_ns(pid)
  local reqs = tonumber(out:match("(%d+) requests in")) or 0
  return { reqs = reqs, rps = out:match("Requests/sec:%s*([%d.]+)") or "?", lat = out:match("Latency%s+(%S+)") or "?",
    cpu_us = reqs > 0 and (c1 - c0) / 1e3 / reqs or 0, out = out }
end

-- ---- handshake + first byte ----
local ka = edges("keepalive", 0)
local tp = first_bytes("http://127.0.0.1:" .. ka.plain .. "/index.html")
local tt = first_bytes("https://127.0.0.1:" .. ka.tls .. "/index.html", "--cacert " .. cert)
if #tp > 0 and #tt > 0 then
  print(string.format("tls: handshake + first byte (curl time_starttransfer, a new connection each, %d of %d runs): TLS 1.3 ECDSA P-256 p50 %.2f ms, p99 %.2f ms; plain HTTP p50 %.2f ms, p99 %.2f ms; ratio TLS/plain p50 %.1f×",
    #tt, N, pct(tt, 0.5), pct(tt, 0.99), pct(tp, 0.5), pct(tp, 0.99), pct(tt, 0.5) / pct(tp, 0.5)))
else
  print("tls: handshake + first byte: no run succeeded")
end

-- ---- throughput: keep-alive, then a connection (and a handshake) per request ----
local function both(e, what)
  local p = wrk("http://127.0.0.1:" .. e.plain .. "/index.html", e.ep:pid())
  local t = wrk("https://127.0.0.1:" .. e.tls .. "/index.html", e.et:pid())
  if p.reqs > 0 and t.reqs > 0 then
    print(string.format("tls: wrk -c32 -d%ds, %s: TLS %d requests (%s/s, mean latency %s), router CPU %.1f µs per request; plain HTTP %d requests (%s/s, mean latency %s), router CPU %.1f µs per request (target ≤ 30); TLS/plain CPU %.1f×",
      WRK_S, what, t.reqs, t.rps, t.lat, t.cpu_us, p.reqs, p.rps, p.lat, p.cpu_us, t.cpu_us / math.max(p.cpu_us, 0.001)))
  else
    print("tls: wrk " .. what .. " answered no requests: " .. (t.reqs == 0 and t.out or p.out))
  end
end
both(ka, "keep-alive")
stop(ka)
local cl = edges("close", 1)
both(cl, "a new connection per request (TLS: a full handshake each)")
stop(cl)
sh("rm -rf " .. tmp)
