-- The VMM's seccomp sandbox (src/vmm/sandbox.c, docs/security.md): on by
-- default, a forbidden call is reported and kills the VMM by SIGSYS.  The
-- other integration suites are the proof that the allowlist is enough:
-- they run with the sandbox on.
local run = require "support.run"

local T = " timeout 300 "

describe("the VMM sandbox", function()
  if run.skip_without_kvm(pending) then return end

  it("is on: execve after set-up kills the VMM by SIGSYS with a one-line report", function()
    local code, _, err = run.sm({ "boot", "--", "/bin/true" }, { SM_VMM_SANDBOX_PROBE = "execve" }, T)
    assert.are_not.equal(0, code)
    assert.truthy(err:find("sandbox: forbidden system call 59 (x86-64)", 1, true), err)
  end)

  it("the VMM process itself dies by signal 31 (SIGSYS), not by an exit", function()
    local tmp = run.tmpdir("sandbox")
    local script = tmp .. "/probe.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
local vm = require "sm.vm"
local v = vm.boot({ argv = { "/bin/true" }, console = "capture" })
local res = assert(v:wait(240))
print("status=" .. tostring(res.status) .. " signal=" .. tostring(res.vmm_signal))
]])
    f:close()
    -- first without the probe: the same VM runs to its end (and its boot
    -- snapshot exists, so the probe below hits a restore, not the boot)
    local code, out, err = run.sm({ "lua", script }, nil, T)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("status=exit signal=nil", 1, true), out .. err)
    code, out, err = run.sm({ "lua", script }, { SM_VMM_SANDBOX_PROBE = "execve" }, T)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("status=crash signal=31", 1, true), out .. err)
  end)

  it("with --no-snapshots (the daemon's workers) mkdir is forbidden too; without it, allowed", function()
    local tmp = run.tmpdir("sandbox")
    local script = tmp .. "/probe.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
local vm = require "sm.vm"
local v = vm.restore(arg[1], { argv = { "/bin/true" }, console = "capture", no_snapshots = arg[2] == "no" })
local res = assert(v:wait(240))
print("status=" .. tostring(res.status) .. " signal=" .. tostring(res.vmm_signal) .. " msg=" .. tostring(res.message))
local ok, err = v:snapshot(arg[1] .. ".x")
print("snapshot=" .. tostring(ok) .. " " .. tostring(err))
]])
    f:close()
    -- a snapshot of a guest to restore (sm boot --snapshot-to; the probe fires at restore)
    local snap = tmp .. "/snap"
    local code, _, err = run.sm({ "boot", "--snapshot-after-ms", "300", "--snapshot-to", snap, "--", "/bin/sm-counter", "5" }, nil, T)
    assert.are.equal(0, code, err)
    local out
    code, out, err = run.sm({ "lua", script, snap, "no" }, { SM_VMM_SANDBOX_PROBE = "mkdir" }, T)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("status=crash signal=31", 1, true), out .. err)
    assert.truthy(out:find("snapshot=nil this VM was restored with no_snapshots", 1, true), out)
    code, out, err = run.sm({ "lua", script, snap, "yes" }, { SM_VMM_SANDBOX_PROBE = "mkdir" }, T)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("status=crash signal=nil msg=sandbox probe: mkdir was allowed", 1, true), out .. err)
    run.sh("rm -rf " .. run.quote(tmp))
  end)

  it("SM_VMM_SANDBOX=0 turns it off (the probe's execve then succeeds: the VMM becomes /bin/true)", function()
    local code, _, err = run.sm({ "boot", "--", "/bin/true" },
      { SM_VMM_SANDBOX = "0", SM_VMM_SANDBOX_PROBE = "execve" }, T)
    assert.are_not.equal(0, code)
    assert.truthy(err:find("the VMM died without a report", 1, true), err)
    assert.falsy(err:find("sandbox", 1, true), err)
  end)
end)
