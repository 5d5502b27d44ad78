-- sm.vm without booting: command line policy, argv encoding, status parsing.
package.loaded["sm.core"] = package.loaded["sm.core"] or {
  sys = { paths = function() return { guest = "/g", exe = "/sm" } end,
    limits = { min_memory_mib = 64, max_memory_mib = 16384, max_vcpus = 16, max_disks = 46, cmdline_max = 2047 } },
  agent = { proto = { types = {} } } }
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

  it("names disk slots as virtio_blk does (vda..vdz, vdaa..)", function()
    assert.equal("vda", vm.disk_name(0))
    assert.equal("vdz", vm.disk_name(25))
    assert.equal("vdaa", vm.disk_name(26))
    assert.equal("vdat", vm.disk_name(45))
    assert.equal("vdba", vm.disk_name(52))
  end)

  it("turns a rootfs, volumes and the run config into disks and init entries (docs/init-channel.md)", function()
    local disks, init = vm.guest_config({ rootfs = { layers = { "l1.sqfs", "l2.sqfs" } }, hostname = "h",
      volumes = { { path = "v.ext4", target = "/data" } }, env = { "A=1" }, workdir = "/w", user = "app",
      stop_grace = 3 }, true)
    assert.same({ { path = "l1.sqfs", readonly = true }, { path = "l2.sqfs", readonly = true },
      { path = "v.ext4", readonly = false } }, disks)
    assert.same({ "l:vda", "l:vdb", "h:h", "v:vdc:/data", "e:A=1", "w:/w", "u:app", "t:3" }, init)
    -- a snapshot with its rootfs prepared: the layers are attached again, not mounted
    local _, again = vm.guest_config({ rootfs = { layers = { "l1.sqfs" } } }, false)
    assert.same({}, again)
  end)

  it("refuses a relative volume target and an env entry without =", function()
    assert.has_error(function() vm.guest_config({ volumes = { { path = "v", target = "data" } } }, true) end)
    assert.has_error(function() vm.guest_config({ env = { "NOEQ" } }, true) end)
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
