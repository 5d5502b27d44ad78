-- sm daemon without a guest: arguments, help, and the loop/router bindings
-- it stands on (docs/router.md).  Real VMs: spec/integration/daemon_spec.lua.
local run = require "support.run"

describe("sm daemon (no guest needed)", function()
  local tmp, env

  setup(function()
    tmp = select(2, run.sh("mktemp -d /tmp/sm-daemoncli.XXXXXX")):gsub("\n", "")
    env = { XDG_RUNTIME_DIR = tmp .. "/xdg", XDG_STATE_HOME = tmp .. "/state" }
    run.sh("mkdir -m 700 " .. tmp .. "/xdg " .. tmp .. "/snap && touch " .. tmp .. "/snap/metadata.json")
  end)
  teardown(function() run.sh("rm -rf " .. run.quote(tmp)) end)

  it("is listed by sm --help and has complete --help", function()
    local _, out = run.sm({ "--help" })
    assert.matches("daemon", out, 1, true)
    local code, usage = run.sm({ "daemon", "--help" })
    assert.equal(0, code)
    for _, opt in ipairs({ "--http-port", "--snapshot", "--port", "--workers-per-snapshot", "--idle-timeout",
      "--no-standby", "standby", "/_health", "502", "503", "504", "431" }) do
      assert.matches(opt, usage, 1, true)
    end
  end)

  it("needs --snapshot, and a snapshot directory there", function()
    local code, _, err = run.sm({ "daemon" }, env)
    assert.equal(2, code)
    assert.is_true(run.one_line(err), err)
    code, _, err = run.sm({ "daemon", "--snapshot", tmp .. "/none" }, env)
    assert.equal(1, code)
    assert.matches("no bake.json or metadata.json there", err, 1, true)
  end)

  it("refuses out-of-range values as usage errors", function()
    for _, a in ipairs({ { "--http-port", "0" }, { "--port", "70000" }, { "--workers-per-snapshot", "0" },
      { "--idle-timeout", "-1" }, { "--queue-timeout", "x" }, { "--worker-conns", "0" }, { "--worker-conns", "5000" } }) do
      local code, _, err = run.sm({ "daemon", "--snapshot", tmp .. "/snap", a[1], a[2] }, env)
      assert.equal(2, code, a[1] .. " " .. a[2])
      assert.is_true(run.one_line(err), err)
    end
  end)

  it("refuses a port another program holds with a message saying so", function()
    local script = tmp .. "/hold.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
      local core = require "sm.core"
      local rt = assert(core.router.new{ port = 0 + arg[1] })
      local again, msg, errno = core.router.new{ port = 0 + arg[1] }
      print(again, msg, errno)
      rt:close()
    ]])
    f:close()
    local port = 24000 + math.random(0, 999)
    local out, rc = run.combined(run.quote(run.bin) .. " lua " .. script .. " " .. port)
    assert.equal(0, rc, out)
    assert.matches("nil\tlisten 127%.0%.0%.1:" .. port .. ": Address already in use\t98", out)
  end)

  it("sm.loop: coroutines sleep, wait on events with a timeout, read a child's lines and see it exit", function()
    local script = tmp .. "/loop.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
      local core = require "sm.core"
      local loop = require "sm.loop"
      local got = {}
      loop.go(function()
        local t0 = core.sys.monotime()
        loop.sleep(0.05)
        got[#got + 1] = core.sys.monotime() - t0 >= 0.045 and "slept" or "early"
        local ev = loop.event()
        got[#got + 1] = select(2, ev:wait(0.02)) or "no timeout"
        core.loop.timer(10, function() ev:set("woken") end)
        got[#got + 1] = ev:wait(1)
        local p = core.proc.spawn({ "/bin/sh", "-c", "echo one; echo two; exit 3" }, { stdout = "pipe" })
        local lines, exited = loop.event(), loop.event()
        local seen = {}
        loop.lines(assert(p:take_fd("stdout")), function(l)
          if l then seen[#seen + 1] = l else lines:set() end
        end)
        local w
        w = loop.on_readable(assert(p:pidfd()), function() w:close() exited:set(p:wait(1).code) end)
        lines:wait(5)
        got[#got + 1] = table.concat(seen, ",")
        got[#got + 1] = "exit " .. tostring(exited:wait(5))
        loop.stop()
      end)
      assert(loop.run())
      print(table.concat(got, " "))
    ]])
    f:close()
    local out, rc = run.combined(run.quote(run.bin) .. " lua " .. script)
    assert.equal(0, rc, out)
    assert.equal("slept timeout woken one,two exit 3\n", out)
  end)

  it("sm.loop: an error in a callback stops the loop and is its result", function()
    local script = tmp .. "/boom.lua"
    local f = assert(io.open(script, "w"))
    f:write("local core = require 'sm.core'\n"
      .. "core.loop.timer(1, function() error('boom in a timer') end)\n"
      .. "print(core.loop.run())\n")
    f:close()
    local out, rc = run.combined(run.quote(run.bin) .. " lua " .. script)
    assert.equal(0, rc, out)
    assert.matches("nil\t.*boom in a timer", out)
  end)
end)
