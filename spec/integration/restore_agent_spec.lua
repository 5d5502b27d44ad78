-- The guest agent across snapshots (issue 4, must-show 5; docs/vsock.md,
-- docs/snapshot-format.md).  Every VM here restores a snapshot: the boot
-- snapshot (shared with the other suites) or one taken of a VM running
-- busybox httpd.  Every wait has a timeout.
local run = require "support.run"

local T = " timeout 300 "
local tmp, env

local function sm(args) return run.sm(args, env, T) end

describe("the agent after restore", function()
  if run.skip_without_kvm(pending) then return end

  setup(function()
    tmp = run.tmpdir("restore-agent")
    run.sh("mkdir -m 700 " .. tmp .. "/xdg " .. tmp .. "/snaps")
    env = { XDG_RUNTIME_DIR = tmp .. "/xdg" }
  end)

  teardown(function()
    for _, name in ipairs({ "ra-boot", "ra-1", "ra-2" }) do
      local f = io.open(tmp .. "/xdg/sm/vms/" .. name .. "/vmm.pid")
      local pid = f and f:read("n")
      if f then f:close() end
      if pid then run.sh("kill -9 " .. pid .. " 2>/dev/null") end
    end
    if tmp then run.sh("rm -rf " .. run.quote(tmp)) end
  end)

  it("sm boot --detach restores the boot snapshot (no boot) and its agent answers", function()
    local code, out, err = sm({ "boot", "--", "/bin/true" })	-- the boot snapshot exists after this
    assert.equal(0, code, err)
    code, out, err = run.sm({ "boot", "--detach", "--name", "ra-boot" },
      { XDG_RUNTIME_DIR = env.XDG_RUNTIME_DIR, SM_TRACE = "1" }, T)
    assert.equal(0, code, err)
    assert.equal("ra-boot\n", out)
    assert.matches("boot snapshot %S+: restoring", err)
    code, out, err = sm({ "exec", "ra-boot", "--", "/bin/echo", "from-boot-snapshot" })
    assert.equal(0, code, err)
    assert.equal("from-boot-snapshot\n", out)
    code, _, err = sm({ "stop", "--time", "30", "ra-boot" })
    assert.equal(0, code, err)
  end)

  it("a snapshot of a VM serving HTTP, restored 3 times at once: exec and the port proxy work on each", function()
    local code, out, err = sm({ "lua", run.root .. "/spec/support/restored_agents.lua", tmp .. "/snaps", "3" })
    io.stderr:write("# ", (out:gsub("\n", "; ")), "\n")
    assert.equal(0, code, out .. err)
    assert.matches("snapshot=true", out, 1, true)
    assert.matches("held_after_snapshot=true", out, 1, true)	-- the source VM's connection lives on
    assert.matches("restored_ok=3", out, 1, true)
  end)

  it("sm restore --detach --name: two VMs of one snapshot, each with its own agent socket", function()
    -- let the snapshot age, so a guest clock that stood still would show it
    local _, taken = run.sh("stat -c %Y " .. tmp .. "/snaps/snap/metadata.json")
    local wait = 10 - (os.time() - (tonumber(taken) or 0))
    if wait > 0 then run.sh("sleep " .. wait) end
    for _, name in ipairs({ "ra-1", "ra-2" }) do
      local code, out, err = sm({ "restore", "--detach", "--name", name, tmp .. "/snaps/snap" })
      assert.equal(0, code, err)
      assert.equal(name .. "\n", out)
    end
    for _, name in ipairs({ "ra-1", "ra-2" }) do
      local code, out, err = sm({ "exec", name, "--", "/bin/sh", "-c", "echo $((40+2)); exit 3" })
      assert.equal(3, code, err)
      assert.equal("42\n", out)
    end
    -- the snapshot is at least 10 s old; the VMM set the guest's wall clock on restore
    local code, out, err = sm({ "exec", "ra-1", "--", "/bin/date", "+%s" })
    assert.equal(0, code, err)
    assert.is_true(math.abs(tonumber(out) - os.time()) <= 3, "guest time " .. out .. " vs host " .. os.time())
    -- the workload in the snapshot is httpd -f: sm stop ends it through the agent
    for _, name in ipairs({ "ra-1", "ra-2" }) do
      local code, out, err = sm({ "stop", "--time", "30", name })
      assert.equal(0, code, err)
      assert.equal(name .. "\n", out)
    end
  end)
end)
