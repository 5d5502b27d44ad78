-- Health checks, restart policies and hooks in the daemon (docs/policies.md)
-- with real restored VMs: busybox httpd whose /cgi-bin/h answers 200 or 500
-- by a file in the guest, and a workload that exits with what is written to
-- /www/ctl (spec/support/policy_daemon.lua).  Each case is a daemon started
-- with `sm lua ... serve` on a Lua options file, so checks, hooks and
-- policies can be functions.  SM_TEST_POLICY_SNAPSHOT=DIR reuses a snapshot
-- made by `sm lua spec/support/policy_daemon.lua snapshot DIR0` (DIR0/snap).
local run = require "support.run"

local sh, trim = run.out, run.trim
local function now() return tonumber(trim(sh("date +%s.%N"))) end

describe("daemon policies (docs/policies.md)", function()
  if run.skip_without_kvm(pending) then return end

  local tmp, snap, env
  local daemons = {}
  local helper = run.root .. "/spec/support/policy_daemon.lua"
  local port_base = run.ports(100)

  setup(function()
    tmp = trim(sh("mktemp -d /tmp/sm-policy.XXXXXX"))
    sh("mkdir -m 700 " .. tmp .. "/xdg " .. tmp .. "/s")
    env = "env SM_ROOT=" .. run.quote(run.root) .. " XDG_RUNTIME_DIR=" .. tmp .. "/xdg XDG_STATE_HOME=" .. tmp .. "/state "
    snap = os.getenv("SM_TEST_POLICY_SNAPSHOT")
    if snap then return end
    local out, code, err = sh(env .. run.quote(run.bin) .. " lua " .. run.quote(helper) .. " snapshot " .. tmp .. "/s")
    assert(code == 0, out .. err)
    snap = tmp .. "/s/snap"
  end)

  teardown(function() sh("rm -rf " .. run.quote(tmp)) end)

  local next_port = 0
  -- A daemon serving snap with the options `case` (Lua source returning a
  -- table), or with `flags` the command line of `sm daemon` itself.
  local function start(case, extra_env, flags)
    next_port = next_port + 1
    local port = port_base + next_port
    local file, log = string.format("%s/case-%d.lua", tmp, port), string.format("%s/daemon-%d.log", tmp, port)
    local f = assert(io.open(file, "w"))
    f:write(case or "")
    f:close()
    local argv = flags and ("daemon --http-port " .. port .. " --snapshot " .. snap .. " --port 8080 --no-standby " .. flags)
      or ("lua " .. run.quote(helper) .. " serve " .. snap .. " " .. port .. " " .. file)
    local pid = trim(sh(env .. (extra_env or "") .. " sh -c " .. run.quote("exec " .. run.quote(run.bin) .. " "
      .. argv .. " >" .. log .. " 2>&1") .. " & echo $!"))
    local d = { pid = pid, port = port, log = log, url = "http://127.0.0.1:" .. port }
    -- busted keeps one finally per test: it ends every daemon started so far
    daemons[#daemons + 1] = pid
    finally(function()   -- and forgets them: a pid may be reused once its daemon is gone
      for _, p in ipairs(daemons) do sh("kill " .. p .. " 2>/dev/null; sleep 0.5; kill -9 " .. p .. " 2>/dev/null") end
      daemons = {}
    end)
    for _ = 1, 100 do
      if select(2, sh("curl -sf -o /dev/null --max-time 1 " .. d.url .. "/_health")) == 0 then return d end
      sh("sleep 0.05")
    end
    error("the daemon did not answer /_health: " .. sh("cat " .. log))
  end

  local function health(d) return trim(sh("curl -s --max-time 5 " .. d.url .. "/_health")) end
  local function log(d) return sh("cat " .. d.log) end
  local function get(d, path)
    local out = sh("curl -s --max-time 120 -w '\\n%{http_code}' " .. d.url .. path)
    local body, code = out:match("^(.*)\n(%d+)$")
    return tonumber(code), body and trim(body)
  end
  -- ends: the command ends the workload, so its VM may be gone before the answer
  local function exec(d, id, cmd, ends)
    local out, code, err = sh(env .. run.quote(run.bin) .. " lua " .. run.quote(helper) .. " exec " .. d.port
      .. " " .. id .. " " .. run.quote(cmd))
    assert(code == 0 or ends, "exec in worker " .. id .. ": " .. out .. err)
    return out
  end
  -- Polls until what() matches pat; the time it did.
  local function await(what, pat, secs, d)
    local deadline = now() + (secs or 120)
    repeat
      if what():find(pat) then return now() end
      sh("sleep 0.1")
    until now() > deadline
    error(string.format("no %q within %d s; log:\n%s", pat, secs or 120, d and log(d) or ""))
  end
  local function in_log(d, pat, secs) return await(function() return log(d) end, pat, secs, d) end
  local function in_health(d, pat, secs) return await(function() return health(d) end, pat, secs, d) end

  -- Worker 1 serves, turns healthy, goes bad by exec; then it must be
  -- drained within interval × retries (+ the checks' own time), a fresh
  -- worker must take new requests, and worker 1 must be ended.
  local function goes_unhealthy(d, bound)
    assert.same({ 200, "ok" }, { get(d, "/cgi-bin/h") })
    in_health(d, '"pool":%[{"id":1,"health":"healthy"')
    exec(d, 1, "echo bad > /www/state")
    local t0 = now()
    local t1 = in_log(d, "worker 1 is unhealthy")
    assert.is_true(t1 - t0 <= bound, string.format("unhealthy after %.1f s (bound %g s)", t1 - t0, bound))
    assert.same({ 200, "ok" }, { get(d, "/cgi-bin/h") })   -- a fresh worker, restored from the snapshot
    assert.matches("worker 2 running", log(d))
    in_log(d, "worker 1: unhealthy, drained; ended")
    in_health(d, '"pool":%[{"id":2,')
  end

  it("an http check that starts answering 500 drains the worker and a fresh one serves (Health)", function()
    local d = start([[return { health = { check = "http", path = "/cgi-bin/h", interval = 2, retries = 2, timeout = 60 } }]])
    goes_unhealthy(d, 2 * 2 + 2 * 60)
    assert.matches("health check failed %(2/2%): health/http: HTTP/1%.0 500 Bad", log(d))
  end)

  it("a Lua function check that returns false does the same, using vm:exec (Health)", function()
    local d = start([[return { health = { interval = 2, retries = 2, timeout = 60, check = function(ctx)
      local r, err = ctx.vm:exec({ "cat", "/www/state" }, { timeout = 55 })
      if not r then return false, err end
      return r.stdout == "ok\n", "state is " .. r.stdout
    end } }]])
    goes_unhealthy(d, 2 * 2 + 2 * 60)
    assert.matches("health check failed %(2/2%): health function: state is bad", log(d))
  end)

  it("a check that raises, or loops without yielding, is logged and counted; the daemon keeps serving (Containment)", function()
    local d = start([[local n = 0
      return { health = { interval = 0.3, retries = 3, check = function()
        n = n + 1
        if n == 1 then error("kaboom") end
        if n == 2 then while true do end end
        return true
      end } }]])
    assert.equal(200, (get(d, "/index.html")))
    in_health(d, '"health":"healthy"')
    local l = log(d)
    assert.matches("health check failed %(1/3%): health function: .*kaboom", l)
    assert.matches("health check failed %(2/3%): health function: ran .* without yielding", l)
    assert.equal(200, (get(d, "/index.html")))
    assert.equal("0", trim(sh("kill -0 " .. d.pid .. "; echo $?")))
  end)

  it("a workload that exits 1 is restarted under on-failure after its delay, not under no (Restart)", function()
    local d = start([[return { restart = "on-failure" }]])
    assert.equal(200, (get(d, "/index.html")))
    exec(d, 1, "echo 1 > /www/ctl", true)
    in_log(d, "worker 1 %(exit%): restart/on_failure restarts it in 0%.2 s")
    in_log(d, "worker 2 restored in place of worker 1 %(restart 1%)")   -- no request asked for it
    in_health(d, '"live":1')

    local n = start([[return { restart = "no" }]])
    assert.equal(200, (get(n, "/index.html")))
    exec(n, 1, "echo 1 > /www/ctl", true)
    in_log(n, "worker 1 %(exit%): restart/no gives up: restart policy is no")
    sh("sleep 2")
    assert.matches('"live":0,', health(n))
    assert.is_nil(log(n):find("worker 2"))
  end)

  it("the backoff example's delays grow as written; a user file replacing on_failure takes effect (Restart, Overrides)", function()
    local d = start(string.format("return { restart = dofile(%q) }", run.root .. "/examples/backoff_restart.lua"))
    assert.equal(200, (get(d, "/index.html")))
    exec(d, 1, "echo 1 > /www/ctl", true)
    in_log(d, "worker 1 %(exit%): restart function restarts it in 1 s")
    in_log(d, "worker 2 running")
    exec(d, 2, "echo 3 > /www/ctl", true)
    in_log(d, "worker 2 %(exit%): restart function restarts it in 2 s")
    in_log(d, "worker 3 restored in place of worker 2 %(restart 2%)")

    sh("mkdir -p " .. tmp .. "/cfg/sm/lua/sm/policy/restart")
    local f = assert(io.open(tmp .. "/cfg/sm/lua/sm/policy/restart/on_failure.lua", "w"))
    f:write("return function(ctx) return 1.5 end\n")
    f:close()
    local u = start([[return { restart = "on-failure" }]], "XDG_CONFIG_HOME=" .. tmp .. "/cfg")
    assert.equal(200, (get(u, "/index.html")))
    exec(u, 1, "echo 0 > /www/ctl", true)   -- the built-in would not restart an exit 0
    local t0 = in_log(u, "worker 1 %(exit%): restart/on_failure restarts it in 1%.5 s")
    local t1 = in_log(u, "worker 2 restored in place of worker 1")
    assert.is_true(t1 - t0 >= 1.2, string.format("restored %.2f s after the decision", t1 - t0))
  end)

  it("sm daemon --health-cmd, --health-interval and --restart map onto the cmd check and on_failure", function()
    local d = start(nil, nil, "--health-cmd 'test -s /www/index.html' --health-interval 1 --restart on-failure")
    assert.equal(200, (get(d, "/index.html")))
    in_health(d, '"pool":%[{"id":1,"health":"healthy"')
    exec(d, 1, "echo 1 > /www/ctl", true)
    in_log(d, "worker 1 %(exit%): restart/on_failure restarts it in 0%.2 s")
    in_health(d, '"pool":%[{"id":2,"health":"healthy"')
  end)

  it("after_restore runs on every restored worker before it gets traffic; a tcp check passes (Hooks)", function()
    local d = start([[return { restart = "no", hook_timeout = 60, health = { check = "tcp", interval = 1, timeout = 30 },
      after_restore = function(vm)
      local r, err = vm:exec("echo hooked-" .. vm.id .. " > /www/hook.txt", { timeout = 55 })
      assert(r and r.exit == 0, err)
    end }]])
    assert.same({ 200, "hooked-1" }, { get(d, "/hook.txt") })   -- the very first request sees it
    in_health(d, '"pool":%[{"id":1,"health":"healthy"')
    exec(d, 1, "echo 0 > /www/ctl", true)
    in_log(d, "worker 1 ended")
    assert.same({ 200, "hooked-2" }, { get(d, "/hook.txt") })
  end)

  it("before_stop runs before an idle worker is stopped, with its agent still there (Hooks)", function()
    local d = start([[return { idle_timeout = 1, before_stop = function(vm)
      local r, err = vm:exec({ "cat", "/www/index.html" }, { timeout = 25 })
      io.stderr:write("before_stop of worker ", vm.id, " saw ", r and r.stdout or tostring(err))
    end }]])
    assert.equal(200, (get(d, "/index.html")))
    in_log(d, "worker 1: idle for")
    in_log(d, "before_stop of worker 1 saw hello")
    in_health(d, '"pool":%[%]')
  end)
end)
