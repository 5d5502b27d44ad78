-- bench/policy.lua: what health checks and a restart policy cost the
-- router (docs/policies.md, Must-show 9 of issue 12), printed, never
-- asserted.  The router with one worker — bench/native_worker.c, which
-- answers the vsock CONNECT, the agent's PROXY and HTTP at native speed, so
-- the router is what is measured — runs twice in the same run under the
-- same `wrk -c32` load: without policies, and with a Lua health function
-- every second (sm.policy.checker, through sm.policy.agent's async GET to
-- the worker) plus a restart-policy call every second (sm.policy.guard).
-- Printed: the process's on-CPU time per request for each and their ratio,
-- raw (the policies' own work included) and with each one's idle rate
-- (measured just before, without load) taken off.  Rounds alternate.
--   build/sm lua bench/policy.lua [ROUNDS] [WRK_SECONDS]   (default 3, 10; SM_BENCH_WRK_S)
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
  loop.on_signal(15, function()
    io.stdout:write(string.format("checks=%d healthy=%d decisions=%d\n", checks, healthy, decisions))
    io.stdout:flush()
    rt:close()
    loop.stop()
  end)
  assert(loop.run())
  return 0
end

local ROUNDS = tonumber(arg[1] or os.getenv("SM_BENCH_POLICY_ROUNDS") or "3")
local WRK_S = tonumber(arg[2] or os.getenv("SM_BENCH_WRK_S") or "10")
local root = core.sys.paths().lua .. "/.."

local proc = dofile(root .. "/bench/lib/proc.lua")
local sh = proc.sh

local cpu_ns = proc.cpu_ns

local tmp = sh("mktemp -d /tmp/sm-bench-policy.XXXXXX"):gsub("%s+$", "")
sh("cc -O2 -o " .. tmp .. "/native_worker " .. root .. "/bench/native_worker.c -lpthread")
local uds = tmp .. "/w.sock"
local nw = core.proc.spawn({ tmp .. "/native_worker", uds }, { die_with_parent = true })
core.sys.sleep(0.2)
local base = 30000 + core.sys.getpid() % 20000

-- One edge under load: µs per request raw, µs per request idle taken off, requests.
local function measure(mode, port)
  local e
  for _ = 1, 5 do   -- a port some other program holds: the edge exits at once; the next one
    e = core.proc.spawn({ core.sys.paths().exe, "lua", root .. "/bench/policy.lua", "--edge", tostring(port), uds, mode },
      { stdout = "pipe", stderr = "pipe", die_with_parent = true })
    core.sys.sleep(1.5)   -- up, and (with) a first check done
    if not e:wait(0) then break end
    port = port + 97
  end
  local i0, it0 = cpu_ns(e:pid()), core.sys.monotime()
  core.sys.sleep(2)
  local idle = (cpu_ns(e:pid()) - i0) / (core.sys.monotime() - it0)
  local c0, t0 = cpu_ns(e:pid()), core.sys.monotime()
  local out = sh(string.format("wrk -t1 -c32 -d%ds --timeout 10s http://127.0.0.1:%d/index.html 2>&1", WRK_S, port))
  local c1, t1 = cpu_ns(e:pid()), core.sys.monotime()
  e:kill(15)
  local said = e:expect("\n", 5) and e:buffered() or ""
  e:wait(5)
  local n = tonumber(out:match("(%d+) requests in")) or 0
  if n == 0 then error("wrk answered nothing through the " .. mode .. " edge: " .. out) end
  return (c1 - c0) / 1e3 / n, ((c1 - c0) - idle * (t1 - t0)) / 1e3 / n, n, said:match("checks=%d+ healthy=%d+ decisions=%d+")
end

local sums, said = { without = { 0, 0, 0 }, with = { 0, 0, 0 } }, "?"
for r = 1, ROUNDS do
  for i, mode in ipairs({ "without", "with" }) do
    local raw, net, n, what = measure(mode, base + r * 2 + i)
    local s = sums[mode]
    s[1], s[2], s[3] = s[1] + raw, s[2] + net, s[3] + n
    if mode == "with" then said = what or "?" end
  end
end
nw:kill(9)
sh("rm -rf " .. tmp)
local wo, wi = sums.without, sums.with
print(string.format("policy: router CPU per request under wrk -c32 -d%ds × %d rounds (native worker): without policies %.1f µs (%.0f requests/round), with a Lua health function every 1 s + a restart policy every 1 s %.1f µs (%.0f requests/round); ratio with/without %.3f (idle-corrected: %.1f vs %.1f µs, ratio %.3f); last round's policies: %s",
  WRK_S, ROUNDS, wo[1] / ROUNDS, wo[3] / ROUNDS, wi[1] / ROUNDS, wi[3] / ROUNDS, wi[1] / wo[1], wo[2] / ROUNDS, wi[2] / ROUNDS,
  wi[2] / wo[2], said))
return 0
