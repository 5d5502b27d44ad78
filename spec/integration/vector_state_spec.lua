-- Guest processes keep their own vector registers (docs/emulating-hosts.md,
-- "Extended register state").  On kvm_pvm hosts guest user mode runs with
-- the host's AVX/AVX-512 enabled; until the VMM did the guest kernel's
-- XSAVE/XRSTOR the kernel ran with noxsave, switched only the SSE state,
-- and two processes using AVX (glibc's string functions do) corrupted each
-- other: busybox find printed "%s%s%s", md5sums of an erofs image came out
-- wrong.  Two sm-vector-check processes yield to each other hundreds of
-- times with every YMM/ZMM and opmask register loaded; none may change.
local run = require "support.run"

describe("vector registers in the guest", function()
  if run.skip_without_kvm(pending) then return end

  it("two processes using every AVX-512 (or AVX) register at once each get theirs back", function()
    local code, out, err = run.sm({ "boot", "--", "/bin/sh", "-c",
      "sm-vector-check 1 400 & sm-vector-check 2 400; wait" }, nil, " timeout 300 ")
    assert.are.equal(0, code, out .. err)
    if out:find("no AVX", 1, true) then
      return pending("this CPU shows no AVX to guest user mode: nothing can leak")
    end
    local n = 0
    for kind, rounds, bad in out:gmatch("vector%-check: (%w+) (%d+) rounds, (%d+) mismatches") do
      n = n + 1
      assert.are.equal("400", rounds)
      assert.are.equal("0", bad, kind .. " registers changed across context switches:\n" .. out)
    end
    assert.are.equal(2, n, out .. err)
  end)
end)
