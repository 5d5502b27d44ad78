-- Page operations (docs/emulating-hosts.md "Page operations", tried and
-- not enabled): a guest kernel built with guest/kernel/tried/pageops.patch
-- and booted with sm_pageops hands its page clears and copies to the VMM
-- (src/devices/pageops.c) on a host that emulates guest kernel mode.  Its
-- memory must hold what it should: zeroed pages read zero, a forked
-- child's copy-on-write pages equal its parent's.  Runs only when the guest
-- kernel ($SM_KERNEL, else the built one) has the patch.
local run = require "support.run"

local function kernel_has_pageops()
  local k = os.getenv("SM_KERNEL") or (run.root .. "/build/guest/vmlinux")
  local map = run.trim(select(2, run.sh("readlink -f " .. run.quote(k)))):gsub("vmlinux$", "System.map")
  return run.sh("grep -q ' sm_pageops_clear$' " .. run.quote(map)) == 0
end

describe("page operations (real guest)", function()
  if run.skip_without_kvm(pending) then return end
  if not kernel_has_pageops() then
    pending("the guest kernel lacks guest/kernel/tried/pageops.patch (not applied by default)")
    return
  end

  it("are done by the VMM on emulating hosts only, none refused, and the guest's memory stays right", function()
    local tmp = run.tmpdir("pageops")
    local f = assert(io.open(tmp .. "/p.lua", "w"))
    f:write([[
local core, vm = require "sm.core", require "sm.vm"
local v = assert(vm.boot{ argv = { "/bin/sh", "-c", arg[1] }, console = "capture" })
local r = assert(v:wait(300))
print(string.format("emulating=%s status=%s code=%s page_ops=%s refused=%s",
  tostring(core.sys.emulating_host()), r.status, tostring(r.code), tostring(r.page_ops), tostring(r.page_ops_refused)))
io.write(r.stdout or "", r.stderr or "")
]])
    f:close()
    -- 8 MiB of fresh anonymous memory; then a 256 KiB string a subshell
    -- (a fork) reads and rewrites while its parent keeps the original
    local script = "head -c 8388608 /dev/zero | md5sum; "
      .. "big=$(head -c 262144 /dev/zero | tr '\\0' a); "
      .. "( small=${big%aaaa}; echo child ${#big} ${#small}; echo \"$big\" | md5sum ); "
      .. "echo parent ${#big}; echo \"$big\" | md5sum"
    local code, out, err = run.sm({ "lua", tmp .. "/p.lua", script }, { SM_KERNEL_ARGS = "sm_pageops" }, " timeout 400 ")
    run.sh("rm -rf " .. run.quote(tmp))
    assert.are.equal(0, code, out .. err)
    local emulating, status, rc, ops, refused = out:match("emulating=(%w+) status=(%w+) code=(%w+) page_ops=(%d+) refused=(%d+)")
    assert.are.equal("exit", status, out)
    assert.are.equal("0", rc, out)
    assert.matches("96995b58d4cbf6aaa9041b4f00c7f6ae", out)
    assert.matches("child 262144 262140", out)
    assert.matches("parent 262144", out)
    local sums = {}
    for s in out:gmatch("\n(%x+)  %-") do sums[#sums + 1] = s end
    assert.are.equal(3, #sums, out)
    assert.are.equal(sums[2], sums[3], "the child's copy of the string differs from its parent's:\n" .. out)
    if emulating == "true" then
      assert.is_true(tonumber(ops) > 100, "only " .. ops .. " page operations by the VMM:\n" .. out)
    else
      assert.are.equal("0", ops, "page operations on a host that does not emulate guest kernel mode")
    end
    assert.are.equal("0", refused, out)
  end)
end)
