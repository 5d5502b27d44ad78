-- bench/policy.lua: what health checks and a restart policy cost the
-- router (docs/policies.md, Must-show 9 of issue 12), printed, never
-- asserted.  The router with one worker — bench/native_worker.c, which
-- answers the vsock CONNECT, the agent's PROXY and HTTP at native speed, so
-- the router is what is measured — runs twice in the same run under the
-- same `wrk -c32` load: without policies, and with a Lua health function
-- every second (sm.policy.checker, through sm.policy.agent's async GET to
-- the worker) plus a restart-policy call every second (sm.policy.guard).
-- Both edges run for the whole benchmark (the edges on CPU 0, wrk and the
-- worker on CPU 1), and wrk bursts alternate between them, each mode first
-- every other round (ABBA), so drift on a shared machine falls on both.
-- Printed: the router's own CPU per request — the edge process's on-CPU
-- time less what its Lua callbacks used (core.loop.stats) — for each, the
-- median of the per-round ratios and their spread (this host's noise);
-- then the whole process's figure, the policies' own work included.
--   build/sm lua bench/policy.lua [ROUNDS] [WRK_SECONDS]   (default 8, 3; SM_BENCH_POLICY_ROUNDS, SM_BENCH_WRK_S)
local core = require "sm.core"

if arg[1] == "--edge" then   -- --edge PORT UDS with|without: the router and, with, the policies
  local loop = require "sm.loop"
  local rt = assert(core.router.new{ port = tonumber(arg[2]), snapshot = "bench", max_workers = 1, worker_conns = 4096 })
  assert(rt:add_worker(1, arg[3], 8080))
  assert(rt:ready(1))
  local checks, healthy, decisions = 0, 0, 0
  if arg[4] == "with" then
    local checker = require "sm.policy.checker"
    local guard = require "sm.policy.guard"
    local policy = require "sm.policy"
    local w = { id = 1, agent = require("sm.policy.agent").vm(arg[3], 8080, 1), ready_at = core.sys.monotime() }
    local h = { name = "health function", interval = 1, timeout = 5, retries = 3, start_period = 0,
      fn = function(ctx)
        checks = checks + 1
        local s, line = ctx.vm:get("/index.html")
        if s == 200 then healthy = healthy + 1 end
        return s == 200, line
      end }
    loop.go(checker.run, w, h, { alive = function() return true end, log = function() end,
      health = function(_, st) rt:set_health(1, st) end,
      unhealthy = function(_, why) io.stderr:write("bench: unhealthy: ", why, "\n") end })
    local restart = assert(policy.restart("on-failure"))
    loop.go(function()
      while true do
        loop.sleep(1)
        local ok, a, b = guard.call("restart/on_failure", 1, restart,
          { reason = "exit", exit_code = 1, restarts = 0, last_health = w.health_last })
        if ok and policy.decision(a, b).restart then decisions = decisions + 1 end
      end
    end)
  end
  local asked = 0
  loop.on_signal(10, function()   -- SIGUSR1: how much CPU Lua has used on this loop so far
    asked = asked + 1
    io.stdout:write(string.format("lua%d=%d\n", asked, core.loop.stats().lua_cpu_ns))
    io.stdout:flush()
  end)
  loop.on_signal(15, function()
    io.stdout:write(string.format("checks=%d healthy=%d decisions=%d\n", checks, healthy, decisions))
    io.stdout:flush()
    rt:close()
    loop.stop()
  end)
  assert(loop.run())
  return 0
end

local ROUNDS = tonumber(arg[1] or os.getenv("SM_BENCH_POLICY_ROUNDS") or "8")
local WRK_S = tonumber(arg[2] or os.getenv("SM_BENCH_WRK_S") or "3")
local root = core.sys.paths().lua .. "/.."

local proc = dofile(root .. "/bench/lib/proc.lua")
local sh = proc.sh
local cpu_ns = proc.cpu_ns
local TASKSET = "/usr/bin/taskset"

local tmp = sh("mktemp -d /tmp/sm-bench-policy.XXXXXX"):gsub("%s+$", "")
sh("cc -O2 -o " .. tmp .. "/native_worker " .. root .. "/bench/native_worker.c -lpthread")
local uds = tmp .. "/w.sock"
local nw = core.proc.spawn({ TASKSET, "-c", "1", tmp .. "/native_worker", uds }, { die_with_parent = true })
core.sys.sleep(0.2)

-- An edge of this mode on a free port: { p =, port =, mode =, asked = }
local function start_edge(mode, port)
  for _ = 1, 5 do   -- a port some other program holds: the edge exits at once; the next one
    local e = core.proc.spawn({ TASKSET, "-c", "0", core.sys.paths().exe, "lua", root .. "/bench/policy.lua",
      "--edge", tostring(port), uds, mode }, { stdout = "pipe", stderr = "pipe", die_with_parent = true })
    core.sys.sleep(1.5)   -- up, and (with) a first check done
    if not e:wait(0) then return { p = e, port = port, mode = mode, asked = 0 } end
    port = port + 97
  end
  error("no free port for the " .. mode .. " edge near " .. port)
end

-- The edge's CPU inside Lua callbacks so far (core.loop.stats), asked with SIGUSR1.
local function lua_ns(e)
  e.asked = e.asked + 1
  e.p:kill(10)
  assert(e.p:expect("lua" .. e.asked .. "=", 5), "the " .. e.mode .. " edge did not answer SIGUSR1")
  return tonumber(e.p:buffered():match("lua" .. e.asked .. "=(%d+)"))
end

-- One wrk burst at edge e: µs per request of the whole process, of the
-- router alone (Lua callbacks taken off), requests, Lua ms.
local function burst(e)
  local l0, c0 = lua_ns(e), cpu_ns(e.p:pid())
  local out = sh(string.format("%s -c 1 wrk -t1 -c32 -d%ds --timeout 10s http://127.0.0.1:%d/index.html 2>&1",
    TASKSET, WRK_S, e.port))
  local c1, l1 = cpu_ns(e.p:pid()), lua_ns(e)
  local n = tonumber(out:match("(%d+) requests in")) or 0
  if n == 0 then error("wrk answered nothing through the " .. e.mode .. " edge: " .. out) end
  return (c1 - c0) / 1e3 / n, ((c1 - c0) - (l1 - l0)) / 1e3 / n, n, (l1 - l0) / 1e6
end

local base = 20000 + core.sys.getpid() % 12000   -- below the ephemeral range (32768-)
local edges = { without = start_edge("without", base), with = start_edge("with", base + 1) }
local sums, ratios = { without = { 0, 0, 0, 0 }, with = { 0, 0, 0, 0 } }, {}
for r = 1, ROUNDS do
  local own = {}
  for _, mode in ipairs(r % 2 == 1 and { "without", "with" } or { "with", "without" }) do
    local raw, mine, n, lua_ms = burst(edges[mode])
    local s = sums[mode]
    s[1], s[2], s[3], s[4] = s[1] + raw, s[2] + mine, s[3] + n, s[4] + lua_ms
    own[mode] = mine
  end
  ratios[r] = own.with / own.without
end
local said = ""
for _, e in pairs(edges) do
  e.p:kill(15)
  if e.mode == "with" then said = e.p:expect("checks=", 5) and e.p:buffered() or "" end
  e.p:wait(5)
end
nw:kill(9)
sh("rm -rf " .. tmp)

table.sort(ratios)
local median = ratios[(#ratios + 1) // 2]
if #ratios % 2 == 0 then median = (ratios[#ratios // 2] + ratios[#ratios // 2 + 1]) / 2 end
local wo, wi = sums.without, sums.with
local function avg(t, k) return t[k] / ROUNDS end
print(string.format("policy: the router's own CPU per request (the edge process's CPU less its Lua callbacks, core.loop.stats) under wrk -c32, %d alternating %d s bursts per edge (native worker): without policies %.1f µs (%.0f requests/burst), with a Lua health function every 1 s + a restart policy every 1 s %.1f µs (%.0f requests/burst); ratio with/without: median %.3f of %d rounds (range %.3f–%.3f), of the means %.3f",
  ROUNDS, WRK_S, avg(wo, 2), avg(wo, 3), avg(wi, 2), avg(wi, 3), median, #ratios, ratios[1], ratios[#ratios], wi[2] / wo[2]))
print(string.format("policy: the whole edge process (router + Lua): without %.1f µs, with %.1f µs per request, ratio %.3f; Lua callbacks per burst: without %.2f ms, with %.2f ms (%.3f µs per request); the with edge's policies: %s",
  avg(wo, 1), avg(wi, 1), wi[1] / wo[1], avg(wo, 4), avg(wi, 4), wi[4] * 1e3 / wi[3], said:match("checks=%d+ healthy=%d+ decisions=%d+") or "?"))
return 0
