-- bench/agent.lua: host ↔ guest through virtio-vsock and the guest agent,
-- beside native host peers measured in the same run (DESIGN.md §9):
--   * exec round trip: p50 of N `true` runs through the agent, beside a
--     native fork+exec of /bin/true on the host;
--   * port-proxy throughput: MiB echoed through vm:connect to a guest
--     `nc -e cat`, beside the same through a Unix-socket echo on the host;
--   * host-side cost: VMM CPU seconds per MiB (all threads, which includes
--     running the guest, and the vsock event thread alone).
--   build/sm lua bench/agent.lua [EXEC_RUNS] [MIB]     (default 30, 4)
local core = require "sm.core"
local vm = require "sm.vm"

if arg[1] == "--echo-server" then		-- the native peer, in a child process
  local l = assert(core.unix_listen(arg[2]))
  local s = assert(l:accept(60))
  while true do
    local d = s:recv(262144, 120)
    if not d or d == "" then break end
    assert(s:send(d, 120) == #d)
  end
  return 0
end

local RUNS = tonumber(arg[1] or "30")
local MIB = tonumber(arg[2] or "4")
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
  local total, sent, got = mib * 1048576, 0, 0
  local t0 = core.monotime()
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
  return core.monotime() - t0
end

local name = "bench-agent-" .. tostring(math.floor(core.monotime() * 1000) % 100000)
io.stdout:write("booting a detached guest (", name, ")...\n")
io.stdout:flush()
local v = vm.start_detached(name, { memory_mib = 192 })
local ok, err = pcall(function()
  local pid = v.vmm_pid
  -- exec round trips
  v:exec{ argv = { "/bin/true" } }
  local times, ntimes = {}, {}
  local cpu0 = cpu("/proc/" .. pid .. "/stat")
  for i = 1, RUNS do
    local t0 = core.monotime()
    local r = v:exec{ argv = { "/bin/true" } }
    assert(r.code == 0)
    times[i] = core.monotime() - t0
  end
  local exec_cpu = (cpu("/proc/" .. pid .. "/stat") - cpu0) / RUNS
  for i = 1, RUNS do
    local t0 = core.monotime()
    core.spawn({ "/bin/true" }):wait(10)
    ntimes[i] = core.monotime() - t0
  end
  print(string.format("exec round trip (true), p50 of %d: %.1f ms   native fork+exec: %.2f ms   ratio %.0fx",
    RUNS, p50(times) * 1000, p50(ntimes) * 1000, p50(times) / p50(ntimes)))
  print(string.format("  VMM CPU per exec (all threads, incl. the guest): %.1f ms", exec_cpu * 1000))
  -- the transport alone: a new vsock connection + PING/OK, no process started
  local agent = require "sm.agent"
  local pings = {}
  for i = 1, RUNS do
    local t0 = core.monotime()
    assert(agent.ping(v.opts.vsock_uds, 10) == agent.VERSION)
    pings[i] = core.monotime() - t0
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
  local srv = core.spawn({ core.paths().exe, "lua", arg[0], "--echo-server", path }, { stdout = "null" })
  local ns
  for _ = 1, 100 do ns = core.unix_connect(path) if ns then break end core.sleep(0.05) end
  local nsecs = echo(assert(ns), MIB)
  ns:close()
  srv:wait(10)
  os.remove(path)
  print(string.format("port proxy echo, %d MiB each way: %.3f MiB/s   native Unix-socket echo: %.1f MiB/s   ratio %.0fx",
    MIB, MIB / secs, MIB / nsecs, (MIB / nsecs) / (MIB / secs)))
  print(string.format("  VMM CPU per MiB moved (both ways; all threads, incl. the guest): %.3f s", (c1 - c0) / (2 * MIB)))
  print(string.format("  host-side vsock device cost (event thread only): %.2f ms per MiB", (e1 - e0) * 1000 / (2 * MIB)))
end)
v:stop(10)
if not ok then error(err, 0) end
return 0
