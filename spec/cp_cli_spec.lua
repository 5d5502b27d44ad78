-- sm cp without a guest: --help, usage errors, targets (docs/run.md §6,
-- docs/agent-protocol.md §PUT).  The copy itself: spec/integration/copy_spec.lua.
local run = require "support.run"

describe("sm cp (no guest needed)", function()
  local tmp, env

  setup(function()
    tmp = run.tmpdir("cpcli")
    env = { XDG_RUNTIME_DIR = tmp .. "/xdg", XDG_STATE_HOME = tmp .. "/state" }
    run.sh("mkdir -m 700 " .. tmp .. "/xdg")
  end)
  teardown(function() run.sh("rm -rf " .. run.quote(tmp)) end)

  it("is listed by sm --help and has a complete --help", function()
    local _, out = run.sm({ "--help" })
    assert.matches("cp ", out, 1, true)
    local code, usage = run.sm({ "cp", "--help" })
    assert.equal(0, code)
    for _, s in ipairs({ "HOST_PATH [TARGET]:/guest/path", "--mode", "--owner", "--timeout", "symlinks" }) do
      assert.matches(s, usage, 1, true)
    end
  end)

  it("refuses a missing or relative destination and a bad --mode with one line, exit 2", function()
    for _, argv in ipairs({ { "cp", "a" }, { "cp", "a", "vm1" }, { "cp", "a", "vm1:rel/path" },
      { "cp", "--mode", "999", "a", "vm1:/x" }, { "cp", "--mode", "rwx", "a", ":/x" } }) do
      local code, _, err = run.sm(argv, env)
      assert.equal(2, code, table.concat(argv, " "))
      assert.is_true(run.one_line(err), err)
    end
  end)

  it("with no running VM fails with 1 and says how to start one", function()
    local code, _, err = run.sm({ "cp", "/etc/hostname", ":/tmp/" }, env)
    assert.equal(1, code)
    assert.is_true(run.one_line(err), err)
    assert.matches("sm boot --detach", err, 1, true)
    code, _, err = run.sm({ "cp", "/etc/hostname", "nosuchvm:/tmp/" }, env)
    assert.equal(1, code)
    assert.matches("nosuchvm", err, 1, true)
  end)
end)
