-- sm exec / sm stop / sm boot --detach without a guest: arguments, targets,
-- the runtime directory (issue 4; CLI.md, docs/agent-protocol.md).
local run = require "support.run"

describe("sm exec and sm stop (no guest needed)", function()
  local tmp, env

  setup(function()
    tmp = run.tmpdir("agentcli")
    env = { XDG_RUNTIME_DIR = tmp .. "/xdg", XDG_STATE_HOME = tmp .. "/state" }   -- no daemon of anyone else's
    run.sh("mkdir -m 700 " .. tmp .. "/xdg")
  end)
  teardown(function() run.sh("rm -rf " .. run.quote(tmp)) end)

  it("are listed by sm --help and have complete --help", function()
    local _, out = run.sm({ "--help" })
    assert.matches("exec", out, 1, true)
    assert.matches("stop", out, 1, true)
    local code, usage = run.sm({ "exec", "--help" })
    assert.equal(0, code)
    for _, opt in ipairs({ "--tty", "--env", "--workdir", "--user" }) do assert.matches(opt, usage, 1, true) end
    code, usage = run.sm({ "stop", "--help" })
    assert.equal(0, code)
    assert.matches("--time", usage, 1, true)
  end)

  it("sm exec without a command is a usage error", function()
    local code, _, err = run.sm({ "exec", "vm1" }, env)
    assert.equal(2, code)
    assert.is_true(run.one_line(err), err)
  end)

  it("sm exec with no running VM fails with 125 and says how to start one", function()
    local code, _, err = run.sm({ "exec", "--", "/bin/true" }, env)
    assert.equal(125, code)
    assert.is_true(run.one_line(err), err)
    assert.matches("sm boot --detach", err, 1, true)
  end)

  it("sm exec NAME for an unknown name fails with 125", function()
    local code, _, err = run.sm({ "exec", "nope", "--", "/bin/true" }, env)
    assert.equal(125, code)
    assert.matches("no VM named 'nope'", err, 1, true)
  end)

  it("a stale VM directory (dead VMM) is not a target, and is swept", function()
    run.sh("(mkdir -p -m 700 " .. tmp .. "/xdg/sm/vms/stale && echo 999999 > " .. tmp .. "/xdg/sm/vms/stale/vmm.pid)")
    local code, _, err = run.sm({ "exec", "stale", "--", "/bin/true" }, env)
    assert.equal(125, code)
    assert.matches("not running", err, 1, true)
    code = run.sm({ "stop" }, env)
    assert.equal(1, code)
    assert.equal(1, (run.sh("test -e " .. tmp .. "/xdg/sm/vms/stale")))
  end)

  it("rejects bad names and bad --time", function()
    local code = run.sm({ "exec", "../x", "--", "/bin/true" }, env)
    assert.equal(2, code)
    code = run.sm({ "stop", "--time", "601", "x" }, env)
    assert.equal(2, code)
  end)

  it("sm boot --name needs --detach", function()
    local code, _, err = run.sm({ "boot", "--name", "x", "--", "/bin/true" }, env)
    assert.equal(2, code)
    assert.matches("--detach and --name go together", err, 1, true)
  end)

  it("sm restore --detach: needs --name; a missing snapshot is a one-line error", function()
    local code, _, err = run.sm({ "restore", "--detach", tmp .. "/nosnap" }, env)
    assert.equal(2, code)
    assert.matches("--detach and --name go together", err, 1, true)
    code, _, err = run.sm({ "restore", "--detach", "--name", "r", tmp .. "/nosnap" }, env)
    assert.equal(125, code)
    assert.is_true(run.one_line(err), err)
    assert.matches("nosnap: no such directory", err, 1, true)
  end)

  it("refuses a runtime directory others can enter", function()
    run.sh("mkdir -m 755 " .. tmp .. "/open && mkdir -m 755 " .. tmp .. "/open/sm")
    local code, _, err = run.sm({ "exec", "--", "/bin/true" }, { XDG_RUNTIME_DIR = tmp .. "/open", XDG_STATE_HOME = tmp .. "/state" })
    assert.equal(125, code)
    assert.matches("mode 0700", err, 1, true)
  end)
end)
