-- sm.vm without booting: command line policy, argv encoding, status parsing.
package.loaded["sm.core"] = package.loaded["sm.core"] or { paths = function() return { guest = "/g", exe = "/sm" } end,
  agent_proto = { types = {} } }
local vm = require "sm.vm"

describe("sm.vm", function()
  it("keeps the guest console quiet and reboots on panic", function()
    local c = vm.cmdline()
    assert.matches("console=ttyS0", c, 1, true)
    assert.matches(" quiet", c, 1, true)
    assert.matches("panic=-1", c, 1, true)
    assert.matches("8250.nr_uarts=2", c, 1, true)
  end)

  it("keeps the workload off the kernel command line (it goes over the init channel)", function()
    local c = vm.cmdline("loglevel=4")
    assert.matches(" loglevel=4$", c)
    assert.not_matches("sm%.argv", c)
  end)

  it("parses the VMM's status line", function()
    local t = vm.parse_status("end=exit value=7 setup_us=1234 ready_us=50000000 emul_exits=3 msg=workload exited with 7")
    assert.equal("exit", t["end"])
    assert.equal(7, t.value)
    assert.equal(1234, t.setup_us)
    assert.equal(3, t.emul_exits)
    assert.equal("workload exited with 7", t.msg)
  end)

  it("keeps spaces and = in the message", function()
    local t = vm.parse_status("end=error value=0 msg=kernel /x y: not a vmlinux (a=b)")
    assert.equal("error", t["end"])
    assert.equal("kernel /x y: not a vmlinux (a=b)", t.msg)
  end)
end)
