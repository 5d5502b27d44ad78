-- bench/agent.lua: host ↔ guest through virtio-vsock and the guest agent,
-- beside native host peers measured in the same run (DESIGN.md §9):
--   * exec round trip: p50 of N `true` runs through the agent, beside a
--     native fork+exec of /bin/true on the host;
--   * port-proxy throughput: MiB echoed through vm:connect to a guest
--     `nc -e cat`, beside the same through a Unix-socket echo on the host;
--   * host-side cost: VMM CPU seconds per MiB (all threads, which includes
--     running the guest, and the vsock event thread alone);
--   * restore → agent answers → first proxied HTTP answer, restoring a
--     snapshot of a guest serving busybox httpd, beside starting the same
--     httpd natively on the host and getting its first answer.
--   build/sm lua bench/agent.lua [EXEC_RUNS] [MIB] [RESTORES]  (default 30, 4, 10)
local core = require "sm.core"
local vm = require "sm.vm"

if arg[1] == "--echo-server" then		-- the native peer, in a child process
  local l = assert(core.net.unix_listen(arg[2]))
  local s = assert(l:accept(60))
  while true do
    local d = s:recv(262144, 120)
    if not d or d == "" then break end
    assert(s:send(d, 120) == #d)
  end
  return 0
end

local RUNS = tonumber(arg[1] or os.getenv("SM_BENCH_EXECS") or "30")
local MIB = tonumber(arg[2] or os.getenv("SM_BENCH_MIB") or "4")
local RESTORES = tonumber(arg[3] or os.getenv("SM_BENCH_AGENT_RESTORES") or "10")
local TICK = 100				-- USER_HZ

local function p50(t)
  local s = table.move(t, 1, #t, 1, {})
  table.sort(s)
  return s[(#s + 1) // 2]
end

local function cpu(path)			-- utime + stime, seconds
  local f = io.open(path)
  if not f then return 0 end
  local st = f:read("a")
  f:close()
  local rest = st:match("%) (.*)$")
  local fields = {}
  for x in rest:gmatch("%S+") do fields[#fields + 1] = x end
  return (tonumber(fields[12]) + tonumber(fields[13])) / TICK
end

local function evloop_tid(pid)
  local p = io.popen("grep -l '^sm-evloop' /proc/" .. pid .. "/task/*/comm 2>/dev/null")
  local line = p:read("l")
  p:close()
  return line and line:match("task/(%d+)/comm")
end

-- Push MIB through stream s and read it back (send and receive interleaved).
local function echo(s, mib)
  local chunk = string.rep("0123456789abcdef", 4096)	-- 64 KiB
  local total, sent, got = math.floor(mib * 1048576), 0, 0
  local t0 = core.sys.monotime()
  while got < total do
    if sent < total then
      sent = sent + assert(s:send(chunk:sub(1, math.min(#chunk, total - sent)), 0.02))
      if sent == total then s:shutdown() end
    end
    local d = s:recv(262144, sent < total and 0 or 60)
    if d == "" then break end
    got = got + (d and #d or 0)
  end
  assert(got == total, "echo lost bytes: " .. got .. " of " .. total)
  return core.sys.monotime() - t0
end

local function http_get(s) dofile("bench/lib/peers.lua").http_get(s, "/index.html") end

-- Restores of one snapshot of a guest serving HTTP: ms to the agent's first
-- answer and to the first proxied HTTP answer, each measured from spawn.
local function restore_to_http(dir)
  local agent = require "sm.agent"
  local WWW = "mkdir -p /www && echo hello-http > /www/index.html && exec httpd -f -p 8080 -h /www"
  local src = vm.boot{ vsock_uds = dir .. "/src.sock", console = "null", argv = { "/bin/sh", "-c", WWW } }
  assert(src:wait_agent(240) and src:wait_listener(8080, 120), "the httpd guest did not come up")
  assert(src:snapshot(dir .. "/snap", 120))
  src:kill(9)
  src:wait(30)
  local to_agent, to_http = {}, {}
  for i = 1, RESTORES do
    local t0 = core.sys.monotime()
    local v = vm.restore(dir .. "/snap", { vsock_uds = dir .. "/r.sock", console = "null" })
    while not agent.ping(dir .. "/r.sock", 5) do
      assert(core.sys.monotime() - t0 < 60, "restored agent did not answer")
      core.sys.sleep(0.002)
    end
    to_agent[i] = core.sys.monotime() - t0
    http_get(v:connect(8080, 60))
    to_http[i] = core.sys.monotime() - t0
    v:kill(9)
    v:wait(30)
  end
  return to_agent, to_http
end

-- The native peer: busybox httpd started on the host, until its first answer.
local function native_http(dir)
  os.execute("mkdir -p " .. dir .. "/www && echo hello-http > " .. dir .. "/www/index.html")
  return dofile("bench/lib/peers.lua").native_httpd_s(dir .. "/www", RESTORES)
end

local name = "bench-agent-" .. tostring(math.floor(core.sys.monotime() * 1000) % 100000)
io.stdout:write("booting a detached guest (", name, ")...\n")
io.stdout:flush()
local v = vm.start_detached(name, { memory_mib = tonumber(os.getenv("SM_BENCH_MEM") or "192") })
local ok, err = pcall(function()
  local pid = v.vmm_pid
  -- exec round trips
  v:exec{ argv = { "/bin/true" } }
  local times, ntimes = {}, {}
  local cpu0 = cpu("/proc/" .. pid .. "/stat")
  for i = 1, RUNS do
    local t0 = core.sys.monotime()
    local r = v:exec{ argv = { "/bin/true" } }
    assert(r.code == 0)
    times[i] = core.sys.monotime() - t0
  end
  local exec_cpu = (cpu("/proc/" .. pid .. "/stat") - cpu0) / RUNS
  for i = 1, RUNS do
    local t0 = core.sys.monotime()
    core.proc.spawn({ "/bin/true" }):wait(10)
    ntimes[i] = core.sys.monotime() - t0
  end
  print(string.format("exec round trip (true), p50 of %d: %.1f ms   native fork+exec: %.2f ms   ratio %.0fx",
    RUNS, p50(times) * 1000, p50(ntimes) * 1000, p50(times) / p50(ntimes)))
  print(string.format("  VMM CPU per exec (all threads, incl. the guest): %.1f ms", exec_cpu * 1000))
  -- the transport alone: a new vsock connection + PING/OK, no process started
  local agent = require "sm.agent"
  local pings = {}
  for i = 1, RUNS do
    local t0 = core.sys.monotime()
    assert(agent.ping(v.opts.vsock_uds, 10) == agent.VERSION)
    pings[i] = core.sys.monotime() - t0
  end
  print(string.format("  agent PING round trip (new vsock connection, one frame each way), p50: %.1f ms", p50(pings) * 1000))
  -- throughput through the port proxy
  v:exec{ argv = { "/bin/sh", "-c", "nc -ll -p 7000 -e /bin/cat >/dev/null 2>&1 &" } }
  assert(v:wait_listener(7000, 60))
  local tid = evloop_tid(pid)
  local c0, e0 = cpu("/proc/" .. pid .. "/stat"), tid and cpu("/proc/" .. pid .. "/task/" .. tid .. "/stat") or 0
  local s = v:connect(7000, 60)
  local secs = echo(s, MIB)
  s:close()
  local c1, e1 = cpu("/proc/" .. pid .. "/stat"), tid and cpu("/proc/" .. pid .. "/task/" .. tid .. "/stat") or 0
  -- the native peer: a Unix-socket echo process on the host
  local path = vm.runtime_dir() .. "/bench-echo.sock"
  local srv = core.proc.spawn({ core.sys.paths().exe, "lua", arg[0], "--echo-server", path }, { stdout = "null" })
  local ns
  for _ = 1, 100 do ns = core.net.unix_connect(path) if ns then break end core.sys.sleep(0.05) end
  local nsecs = echo(assert(ns), MIB)
  ns:close()
  srv:wait(10)
  os.remove(path)
  print(string.format("port proxy echo, %g MiB each way: %.3f MiB/s   native Unix-socket echo: %.1f MiB/s   ratio %.0fx",
    MIB, MIB / secs, MIB / nsecs, (MIB / nsecs) / (MIB / secs)))
  print(string.format("  VMM CPU per MiB moved (both ways; all threads, incl. the guest): %.3f s", (c1 - c0) / (2 * MIB)))
  print(string.format("  host-side vsock device cost (event thread only): %.2f ms per MiB", (e1 - e0) * 1000 / (2 * MIB)))
end)
v:stop(10)
if not ok then error(err, 0) end

local dir = assert(io.popen("mktemp -d /tmp/sm-bench-agent.XXXXXX")):read("l")
ok, err = pcall(function()
  local to_agent, to_http = restore_to_http(dir)
  local native = native_http(dir)
  print(string.format("restore → agent answers, p50 of %d: %.1f ms;  → first proxied HTTP answer: %.1f ms"
    .. "   native busybox httpd start → first answer: %.1f ms   ratio %.0fx",
    RESTORES, p50(to_agent) * 1000, p50(to_http) * 1000, p50(native) * 1000, p50(to_http) / p50(native)))
end)
os.execute("rm -rf " .. dir)
if not ok then error(err, 0) end
return 0
