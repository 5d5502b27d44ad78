-- sm setup, sm assets-path and the macOS-only commands (CLI.md): no guest needed.
local run = require "support.run"

describe("sm setup", function()
  local tmp

  setup(function()
    tmp = run.tmpdir("setup")
    run.sh("mkdir -m 700 " .. tmp .. "/xdg && { printf 'not a kernel' > " .. tmp .. "/text; }")
    run.sh("{ { printf '%0514d' 0; printf 'HdrS'; } > " .. tmp .. "/bz; }")
  end)
  teardown(function() run.sh("rm -rf " .. run.quote(tmp)) end)

  local function setup_with(env)
    env.XDG_RUNTIME_DIR = env.XDG_RUNTIME_DIR or tmp .. "/xdg"
    return run.sm({ "setup" }, env)
  end

  it("says ready when /dev/kvm and the built assets are usable", function()
    if not run.have_kvm() then return pending("/dev/kvm not accessible here") end
    local code, out, err = setup_with({})
    assert.equal(0, code, out .. err)
    assert.matches("ok:  kernel: ", out, 1, true)
    assert.matches("ok:  initramfs: ", out, 1, true)
    assert.matches("(ready", out, 1, true)
    assert.not_matches("err:", out, 1, true)
  end)

  it("names each problem with its fix, and exits 1 with one line on stderr", function()
    local code, out, err = setup_with({ SM_KVM_DEVICE = tmp .. "/no-kvm", SM_KERNEL = tmp .. "/text",
      SM_INITRAMFS = tmp .. "/missing.cpio" })
    assert.equal(1, code)
    assert.matches("err: " .. tmp .. "/no-kvm: no such device", out, 1, true)
    assert.matches("not a vmlinux (ELF) — build it with `make kernel` or set SM_KERNEL", out, 1, true)
    assert.matches("err: initramfs " .. tmp .. "/missing.cpio: ", out, 1, true)
    assert.matches("make guest", out, 1, true)
    assert.is_true(run.one_line(err), err)
    assert.matches("3 checks failed", err, 1, true)
  end)

  it("recognises a compressed bzImage given as the kernel", function()
    local _, out = setup_with({ SM_KERNEL = tmp .. "/bz" })
    assert.matches("a compressed bzImage — sm boots the uncompressed vmlinux", out, 1, true)
  end)

  it("reports a runtime directory others can enter", function()
    run.sh("mkdir -p -m 755 " .. tmp .. "/open/sm")
    local code, out = setup_with({ XDG_RUNTIME_DIR = tmp .. "/open" })
    assert.equal(1, code)
    assert.matches("err: .*0700", out)
  end)
end)

describe("sm assets-path", function()
  it("prints each asset's path and marks missing ones", function()
    local code, out = run.sm({ "assets-path" }, { SM_KERNEL = "/nonexistent/vmlinux" })
    assert.equal(0, code)
    assert.matches("kernel:    /nonexistent/vmlinux  (missing)", out, 1, true)
    assert.matches("\ninitramfs: ", out, 1, true)
    assert.matches("\nvmm: ", out, 1, true)
  end)
end)

describe("sm codesign and sm entitlements-path", function()
  it("say they are not needed on Linux and exit 0", function()
    for _, c in ipairs({ "codesign", "entitlements-path" }) do
      local code, out = run.sm({ c })
      assert.equal(0, code)
      assert.matches("not needed on Linux", out, 1, true)
    end
  end)
end)
