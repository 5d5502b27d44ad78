-- Restart policies, the decision convention and the backoff example as pure
-- functions (docs/policies.md, "Restart"); containment and option checks run
-- inside sm (`sm lua`), where sm.core and the loop exist ("Containment").
local t = require "support.run"
local policy = require "sm.policy"

local function ctx(o)
  local c = { reason = "exit", exit_code = 1, restarts = 0, uptime = 3, last_health = {}, worker = 1 }
  for k, v in pairs(o or {}) do c[k] = v end
  return c
end

local function decide(name, c) return policy.decision(require("sm.policy.restart." .. name)(ctx(c))) end

describe("restart policies (docs/policies.md, Restart)", function()
  it("no: gives up, with a reason", function()
    local d = decide("no")
    assert.is_false(d.restart)
    assert.matches("no", d.reason)
  end)

  it("on_failure: restarts failures after 0.2, 0.4 ... 10 s, not an exit 0; gives up after 10", function()
    assert.same({ restart = true, delay = 0.2 }, decide("on_failure"))
    assert.same({ restart = true, delay = 0.8 }, decide("on_failure", { restarts = 2 }))
    assert.same({ restart = true, delay = 10 }, decide("on_failure", { restarts = 9 }))
    assert.is_true(decide("on_failure", { reason = "health", exit_code = nil }).restart)
    assert.is_true(decide("on_failure", { reason = "vmm", exit_code = nil, signal = 9 }).restart)
    assert.is_true(decide("on_failure", { exit_code = nil, signal = 9 }).restart)
    local d = decide("on_failure", { exit_code = 0 })
    assert.is_false(d.restart)
    assert.matches("exited 0", d.reason)
    assert.matches("gave up after 10", decide("on_failure", { restarts = 10 }).reason)
  end)

  it("always restarts even an exit 0; unless_stopped not a workload someone stopped", function()
    assert.is_true(decide("always", { exit_code = 0 }).restart)
    assert.is_true(decide("unless_stopped", { exit_code = 0 }).restart)
    assert.is_false(decide("unless_stopped", { exit_code = nil, signal = 15 }).restart)
  end)

  it("the decision convention: true [, s], a number, or false|nil [, reason]", function()
    assert.same({ restart = true, delay = 0 }, policy.decision(true))
    assert.same({ restart = true, delay = 3 }, policy.decision(true, 3))
    assert.same({ restart = true, delay = 1.5 }, policy.decision(1.5))
    assert.same({ restart = false, reason = "nope" }, policy.decision(false, "nope"))
    assert.same({ restart = false, reason = "the policy said no" }, policy.decision(nil))
    assert.is_false(policy.decision(-1).restart)
    assert.is_false(policy.decision(0 / 0).restart)
    assert.is_false(policy.decision(1e9).restart)
    assert.matches("returned a string", policy.decision("soon").reason)
  end)

  it("reasons from user code or the guest fit one log line", function()
    assert.equal("state is bad x", policy.oneline("state is bad\n\r\0x\n"))
    assert.equal(300, #policy.oneline(string.rep("a", 1000)))
    assert.equal("a b", policy.decision(false, "a\nb").reason)
  end)

  it("are found by flag or module name; an unknown one is refused", function()
    assert.equal(require "sm.policy.restart.on_failure", (policy.restart("on-failure")))
    assert.equal(require "sm.policy.restart.unless_stopped", (policy.restart("unless-stopped")))
    local fn, err = policy.restart("sometimes")
    assert.is_nil(fn)
    assert.matches("'sometimes' is not one of ours", err)
    assert.is_nil((policy.health("ping")))
  end)

  it("examples/backoff_restart.lua: 1, 2, 4 ... 60 s, never while the endpoint says draining", function()
    local p = dofile(t.root .. "/examples/backoff_restart.lua")
    local delays = {}
    for n = 0, 7 do delays[#delays + 1] = policy.decision(p(ctx{ restarts = n })).delay end
    assert.same({ 1, 2, 4, 8, 16, 32, 60, 60 }, delays)
    local d = policy.decision(p(ctx{ reason = "health", last_health = { { ok = false, why = "HTTP/1.1 503 Draining" } } }))
    assert.same({ restart = false, reason = "the health endpoint says draining" }, d)
    assert.is_false(policy.decision(p(ctx{ exit_code = 0 })).restart)
    assert.is_false(policy.decision(p(ctx{ restarts = 10 })).restart)
  end)
end)

describe("inside sm (docs/policies.md, Containment and Options)", function()
  local tmp
  setup(function() tmp = t.tmpdir("policy") end)
  teardown(function() t.sh("rm -rf " .. tmp) end)

  local function sm_lua(src, env)
    local path = tmp .. "/s.lua"
    local f = assert(io.open(path, "w"))
    f:write(src)
    f:close()
    local e = { SM_ROOT = t.root }
    for k, v in pairs(env or {}) do e[k] = v end
    return t.sm({ "lua", path }, e)
  end

  it("guard.call: results, a raise, a timeout and a loop that never yields all come back; the loop goes on", function()
    local code, out, err = sm_lua([[
      local loop = require "sm.loop"
      local guard = require "sm.policy.guard"
      local core = require "sm.core"
      loop.go(function()
        print(guard.call("p", 1, function(a) loop.sleep(0.01) return a + 1, "x" end, 41))
        print(guard.call("p", 1, function() error("boom") end))
        print(guard.call("p", 0.1, function() loop.sleep(5) end))
        local t0 = core.sys.monotime()
        local ok, why = guard.call("p", 5, function() while true do end end)
        print(ok, why, core.sys.monotime() - t0 < 2)
        print(guard.call("p", 5, function() local x = 0 for i = 1, 1e5 do x = x + i end return x end))
        loop.stop()
      end)
      assert(loop.run())
    ]])
    assert.equal(0, code, err)
    local l = {}
    for line in out:gmatch("[^\n]+") do l[#l + 1] = line end
    assert.equal("true\t42\tx", l[1])
    assert.matches("^false\tp: .*boom$", l[2])
    assert.equal("false\tp: no answer within 0.1 s", l[3])
    assert.matches("^false\tp: ran 0%.%d+ s without yielding .*stopped\ttrue$", l[4])
    assert.equal("true\t5000050000", l[5])
  end)

  it("options: a wrong field is one error naming it", function()
    local code, out, err = sm_lua([[
      local options = require "sm.policy.options"
      for _, o in ipairs{
        { health = { check = "ping" } }, { health = { interval = 0 } }, { health = { retries = 1.5 } },
        { health = { path = "no-slash" } }, { health = { check = "cmd" } }, { health = { every = 1 } },
        { restart = "sometimes" }, { after_restore = "yes" },
      } do print((select(2, pcall(options.check, o)))) end
      local p = options.check{ health = { cmd = "true", interval = 1 }, restart = "on-failure" }
      print(p.health.name, p.health.retries, p.health.timeout, p.restart.name)
    ]])
    assert.equal(0, code, err)
    assert.equal(table.concat({
      "health.check: health policy 'ping' is not one of ours (cmd, http, tcp, or a function)",
      "health.interval = 0: must be 0.05..86400 seconds",
      "health.retries = 1.5: must be a whole number 1..100",
      'health.path = "no-slash": must start with / and hold visible ASCII only',
      "health.cmd: the cmd check needs a command (a shell string or an argv table)",
      "health.every: unknown field (known: check, path, port, cmd, interval, timeout, retries, start_period)",
      "restart: restart policy 'sometimes' is not one of ours (always, no, on-failure, unless-stopped, or a function)",
      "after_restore: expected a function, got string",
      "health/cmd\t3\t5\trestart/on_failure", "" }, "\n"), out)
  end)

  it("sm run passes --restart, --health-cmd and --health-interval on to sm daemon, and nothing without them", function()
    local code, out, err = sm_lua([[
      local run = require "sm.run"
      local r = run.options({ restart = "unless-stopped", health_cmd = "test -e /x", health_interval = 5 }, "img")
      print(table.concat(run.daemon_argv(r, { dir = "/snap" }), " ", 2))
      print(table.concat(run.daemon_argv(run.options({}, "img"), { dir = "/snap" }), " ", 2))
    ]], { XDG_STATE_HOME = tmp .. "/state", SM_HTTP_PORT = "8080" })
    assert.equal(0, code, err)
    local with, without = out:match("^([^\n]*)\n([^\n]*)\n$")
    assert.matches(" %-%-restart unless%-stopped %-%-health%-cmd test %-e /x %-%-health%-interval 5$", with)
    assert.is_nil(without:find("restart", 1, true))
    assert.is_nil(without:find("health", 1, true))
  end)

  it("a file under $XDG_CONFIG_HOME/sm/lua replaces a built-in policy", function()
    t.sh("mkdir -p " .. tmp .. "/xdg/sm/lua/sm/policy/restart")
    local f = assert(io.open(tmp .. "/xdg/sm/lua/sm/policy/restart/on_failure.lua", "w"))
    f:write('return function(ctx) return 7 end\n')
    f:close()
    local code, out, err = sm_lua([[
      local policy = require "sm.policy"
      print(policy.decision(policy.restart("on-failure")({ restarts = 0 })).delay)
    ]], { XDG_CONFIG_HOME = tmp .. "/xdg" })
    assert.equal(0, code, err)
    assert.equal("7\n", out)
  end)
end)
