-- The command surface: help, version, usage errors and the errors of
-- `sm boot` that happen before any guest runs (CLI.md, docs/vmm.md).
local run = require "support.run"

describe("sm", function()
  it("prints help listing its commands", function()
    local code, out = run.sm({ "--help" })
    assert.equal(0, code)
    assert.matches("usage: sm <command>", out, 1, true)
    assert.matches("boot", out, 1, true)
  end)

  it("every command it lists has a --help that starts with its usage", function()
    local _, out = run.sm({ "--help" })
    local n = 0
    for line in out:match("commands:\n(.-)\n\n"):gmatch("[^\n]+") do
      local name = line:match("^%s+(%S+)")
      local code, usage, err = run.sm({ name, "--help" })
      assert.equal(0, code, name .. ": " .. err)
      assert.matches("usage: sm " .. name, usage, 1, true)
      n = n + 1
    end
    assert.is_true(n >= 8, out)
  end)

  it("prints its version", function()
    local code, out = run.sm({ "--version" })
    assert.equal(0, code)
    assert.matches("^sm %d+%.%d+%.%d+\n$", out)
  end)

  it("refuses an unknown command with exit 2 and one line", function()
    local code, _, err = run.sm({ "frobnicate" })
    assert.equal(2, code)
    assert.is_true(run.one_line(err))
    assert.matches("unknown command 'frobnicate'", err, 1, true)
  end)
end)

describe("sm boot", function()
  local function boot(args, env)
    local a = { "boot" }
    for _, x in ipairs(args) do a[#a + 1] = x end
    return run.sm(a, env)
  end

  it("has --help", function()
    local code, out = boot({ "--help" })
    assert.equal(0, code)
    assert.matches("usage: sm boot", out, 1, true)
  end)

  it("needs a command", function()
    local code, _, err = boot({})
    assert.equal(2, code)
    assert.is_true(run.one_line(err))
    assert.matches("no command", err, 1, true)
  end)

  for _, case in ipairs({
    { { "--vcpus", "0" }, "--vcpus 0: must be 1..16" },
    { { "--vcpus", "17" }, "--vcpus 17: must be 1..16" },
    { { "--memory", "32" }, "--memory 32: must be 64..16384 MiB" },
    { { "--vcpus", "many" }, "--vcpus needs a whole number" },
    { { "--bogus" }, "unknown option '--bogus'" },
  }) do
    it("refuses " .. table.concat(case[1], " ") .. " as a usage error", function()
      local a = case[1]
      a[#a + 1] = "--"
      a[#a + 1] = "/bin/true"
      local code, _, err = boot(a)
      assert.equal(2, code)
      assert.is_true(run.one_line(err), err)
      assert.matches(case[2], err, 1, true)
    end)
  end

  it("says which disk does not exist", function()
    local code, _, err = boot({ "--disk", "/nonexistent/disk.img", "--", "/bin/true" })
    assert.equal(125, code)
    assert.is_true(run.one_line(err), err)
    assert.matches("disk /nonexistent/disk.img: No such file or directory", err, 1, true)
  end)

  it("says the kernel file is missing and how to get one", function()
    local code, _, err = boot({ "--kernel", "/nonexistent/vmlinux", "--", "/bin/true" })
    assert.equal(125, code)
    assert.is_true(run.one_line(err), err)
    assert.matches("kernel /nonexistent/vmlinux: No such file or directory", err, 1, true)
    assert.matches("make kernel", err, 1, true)
  end)

  it("refuses a kernel that is not a vmlinux", function()
    local code, _, err = boot({ "--kernel", run.root .. "/Makefile", "--", "/bin/true" })
    assert.equal(125, code)
    assert.is_true(run.one_line(err), err)
    assert.matches("not a vmlinux", err, 1, true)
  end)

  it("says /dev/kvm is missing", function()
    local code, _, err = boot({ "--", "/bin/true" }, { SM_KVM_DEVICE = "/nonexistent/kvm" })
    assert.equal(125, code)
    assert.is_true(run.one_line(err), err)
    assert.matches("/nonexistent/kvm: no such device", err, 1, true)
  end)
end)
