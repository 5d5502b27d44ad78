-- Booting real guests under /dev/kvm (issue: the core).  Each boot costs
-- about a minute on emulating hosts, so this suite boots three times and
-- asks each guest several questions.
local run = require "support.run"

local BOOT_TIMEOUT = 900	-- seconds (a new boot snapshot probes 46 disk slots: minutes on a loaded host); a hung guest fails the test, never the suite

local function sm_boot(args, prefix)
  local a = { "boot" }
  for _, x in ipairs(args) do a[#a + 1] = x end
  return run.sm(a, nil, (prefix or "") .. " timeout " .. BOOT_TIMEOUT)
end

describe("sm boot (real guest)", function()
  if run.skip_without_kvm(pending) then return end

  it("runs a command and prints its output: sm boot -- /bin/echo hello", function()
    local code, out, err = sm_boot({ "--", "/bin/echo", "hello" })
    assert.equal(0, code, err)
    assert.equal("hello\n", out)
  end)

  it("passes the exit status through: sm boot -- /bin/sh -c 'exit 7'", function()
    local code, out, err = sm_boot({ "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 7" })
    assert.equal(7, code, err)
    assert.equal("out\n", out)
    assert.matches("err\n", err, 1, true)
  end)
end)

-- As an ordinary user whose only privilege is rw on /dev/kvm (the kvm group):
-- 4 vCPUs, 512 MiB, a read-write and a read-only virtio-blk disk.
describe("sm boot as a non-root user in the kvm group", function()
  local tmp, kvm_user, plain_user = nil, "sm-test-kvm", "sm-test-nokvm"
  local saved_kvm_mode

  local function as(user, cmd)
    return "runuser -u " .. user .. " -- env HOME=" .. tmp .. "/home " .. cmd
  end

  setup(function()
    local uid = run.sh("id -u")
    if select(2, run.sh("id -u")) ~= "0\n" or not run.have_kvm() then return end
    tmp = run.tmpdir("nonroot")
    local _, mode = run.sh("stat -c '%g %a' /dev/kvm")
    saved_kvm_mode = mode:gsub("\n", "")
    -- an installed-looking copy every user can read: bin/sm, lua/, recipes/, bin/guest/
    assert.equal(0, (run.sh(table.concat({
      "set -e", "cd " .. run.quote(tmp), "mkdir -p bin/guest home",
      "cp " .. run.quote(run.bin) .. " bin/sm",
      "cp -r " .. run.quote(run.root .. "/lua") .. " lua", "cp -r " .. run.quote(run.root .. "/recipes") .. " recipes",
      "cp -L " .. run.quote(run.root .. "/build/guest/vmlinux") .. " bin/guest/vmlinux",
      "cp " .. run.quote(run.root .. "/build/guest/initramfs.cpio") .. " bin/guest/",
      "getent group kvm >/dev/null || groupadd --system kvm",
      "id " .. kvm_user .. " >/dev/null 2>&1 || useradd --system -M -G kvm " .. kvm_user,
      "id " .. plain_user .. " >/dev/null 2>&1 || useradd --system -M " .. plain_user,
      "chgrp kvm /dev/kvm", "chmod 660 /dev/kvm",
      "chmod -R a+rX .", "chmod 777 home",
      "head -c 1048576 /dev/zero > rw.img", "printf host-data-ro > ro.img", "truncate -s 65536 ro.img",
      "chown " .. kvm_user .. " rw.img",
    }, " && "))))
  end)

  teardown(function()
    if not tmp then return end
    local gid, mode = saved_kvm_mode:match("(%d+) (%d+)")
    run.sh("chgrp " .. gid .. " /dev/kvm; chmod " .. mode .. " /dev/kvm; rm -rf " .. run.quote(tmp))
  end)

  it("boots with 4 vCPUs and 512 MiB and round-trips data through virtio-blk", function()
    if not tmp then pending("needs root to create the test users") return end
    local script = table.concat({
      "nproc",
      "free -m | awk '/Mem:/ { print \"mem\", $2 }'",
      "echo guest-wrote-this | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null && echo rw-ok",
      "if echo x | dd of=/dev/vdb bs=512 conv=sync,fsync 2>/dev/null; then echo ro-write-succeeded; else echo ro-refused; fi",
      "echo ro-reads $(dd if=/dev/vdb bs=12 count=1 2>/dev/null)",
      "exit 3",
    }, "; ")
    local code, out, err = run.sh(as(kvm_user, "timeout " .. BOOT_TIMEOUT .. " " .. tmp .. "/bin/sm boot --vcpus 4 --memory 512 --disk "
      .. tmp .. "/rw.img --disk " .. tmp .. "/ro.img:ro -- /bin/sh -c " .. run.quote(script)))
    assert.equal(3, code, err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal("4", lines[1], out)
    local mem = tonumber(out:match("mem (%d+)"))
    assert.is_true(mem ~= nil and mem > 400 and mem <= 512, "guest sees ~512 MiB: " .. out)
    assert.matches("rw-ok", out, 1, true)
    assert.matches("ro-refused", out, 1, true)
    assert.matches("ro-reads host-data-ro", out, 1, true)
    local f = assert(io.open(tmp .. "/rw.img", "rb"))
    local head = f:read(17)
    f:close()
    assert.equal("guest-wrote-this\n", head)
  end)

  -- issue 13: the whole of `sm run` (pull, bake, daemon, router, restored
  -- workers, --stop) as that user, with its own XDG directories
  it("sm run serves an image as that user, and --stop leaves nothing running", function()
    if not tmp then pending("needs root to create the test users") return end
    local home = tmp .. "/home/" .. kvm_user
    local port = run.ports(1)
    -- its cache starts with this machine's boot snapshots (the same kernel
    -- and initramfs give the same keys): a copy, not a second boot
    assert.equal(0, (run.sh(table.concat({
      "set -e", "python3 " .. run.root .. "/tests/oci/mkimage.py web " .. tmp .. "/web >/dev/null",
      "chmod -R a+rX " .. tmp .. "/web", "mkdir -p " .. home .. "/.cache/sm " .. home .. "/xdg",
      "if [ -d \"$HOME/.cache/sm/boot-snapshots\" ]; then cp -r \"$HOME/.cache/sm/boot-snapshots\" " .. home .. "/.cache/sm/; fi",
      "chown -R " .. kvm_user .. " " .. home, "chmod 700 " .. home .. "/xdg",
    }, " && "))))
    local function as_user(args)
      return run.sh("runuser -u " .. kvm_user .. " -- env HOME=" .. home .. " XDG_RUNTIME_DIR=" .. home .. "/xdg timeout "
        .. BOOT_TIMEOUT .. " " .. tmp .. "/bin/sm " .. args)
    end
    local code, _, err = as_user("run --detach --memory 128 --ready-timeout-ms 180000 --http-port " .. port
      .. " oci-layout:" .. tmp .. "/web:1")
    assert.equal(0, code, err)
    local _, body = run.sh("curl -s -m 60 http://127.0.0.1:" .. port .. "/")
    assert.matches("hello from the web image", body, 1, true)
    local _, owner = run.sh("stat -c %U " .. home .. "/.local/share/sm/snapshots")
    assert.equal(kvm_user .. "\n", owner)
    code, _, err = as_user("run --stop --http-port " .. port .. " --stop-grace 5")
    assert.equal(0, code, err)
    local _, left = run.sh("{ pgrep -u " .. kvm_user .. " -f '[s]m-vmm|[s]m daemon|[s]m run'; true; }")
    assert.equal("", left)
  end)

  it("tells a user without /dev/kvm access to join the kvm group", function()
    if not tmp then pending("needs root to create the test users") return end
    local code, _, err = run.sh(as(plain_user, tmp .. "/bin/sm boot -- /bin/true"))
    assert.equal(125, code)
    assert.is_true(run.one_line(err), err)
    assert.matches("/dev/kvm: permission denied — add yourself to the kvm group", err, 1, true)
  end)
end)
