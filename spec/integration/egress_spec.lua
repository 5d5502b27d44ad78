-- Egress with real guests (docs/network.md): no eth0 without it; with it a
-- guest wget of a file from an HTTP server this test starts on the host's
-- 127.0.0.1 (10.0.2.2 to the guest) is byte-identical under
-- allowlist:127.0.0.1/32, and refused by the VMM under deny_private (its
-- log line says so; the server saw nothing); a recipe bake step downloads
-- with egress.during_bake and the served snapshot has no network.
-- Traffic goes only to 127.0.0.1 (the test rules): no name is resolved, the
-- denied frames are the VMM's to drop.  The VMs restore the boot snapshots
-- (one without egress, shared with the other suites; one with).
local run = require "support.run"

local T = " timeout 900 "
local tmp, env, port, sum

local function sm(args) return run.sm(args, env, T) end

local function served_lines()
  local _, out = run.sh("grep -c 'GET /f' " .. tmp .. "/server.log")
  return tonumber(out) or 0
end

-- (no -T: this guest's busybox wget segfaults with it)
local function wget_cmd()
  return string.format("wget -q -O /tmp/f http://10.0.2.2:%d/f; echo wget=$?; sha256sum /tmp/f 2>/dev/null; true", port)
end

describe("egress (real guests)", function()
  if run.skip_without_kvm(pending) then return end

  setup(function()
    tmp = run.tmpdir("egress-int")
    run.must("mkdir -m 700 " .. tmp .. "/xdg " .. tmp .. "/www && head -c 1048576 /dev/urandom > " .. tmp .. "/www/f")
    sum = run.must("sha256sum " .. tmp .. "/www/f"):match("^(%x+)")
    port = run.ports(1)
    -- the only server the guests talk to: on the host's loopback
    run.must(string.format("cd %s/www && { setsid timeout 1800 python3 -m http.server %d --bind 127.0.0.1 > %s/server.log 2>&1 & echo $! > %s/server.pid; }",
      tmp, port, tmp, tmp))
    run.must(string.format("for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:%d/ && exit 0; sleep 0.1; done; exit 1", port))
    env = { XDG_RUNTIME_DIR = tmp .. "/xdg", XDG_STATE_HOME = tmp .. "/state", XDG_DATA_HOME = tmp .. "/data",
      XDG_CONFIG_HOME = tmp .. "/config", SM_IMAGES_DIR = tmp .. "/images", SM_BAKE_TIMEOUT = "600" }
  end)

  teardown(function()
    run.sh(string.format("kill $(cat %s/server.pid); pkill -9 -f '[s]m-vmm.*%s'; rm -rf %s", tmp, tmp, tmp))
  end)

  it("egress off: the guest has only lo, and a connect fails at once", function()
    local code, out, err = sm({ "boot", "--", "/bin/sh", "-c",
      "ls /sys/class/net; t0=$(date +%s); " .. wget_cmd() .. "; echo secs=$(( $(date +%s) - t0 ))" })
    assert.are.equal(0, code, err)
    assert.are.equal("lo", out:match("^(.-)\n"), out)
    assert.matches("wget=1", out)
    assert.matches("unreachable", err)
    -- ENETUNREACH from connect(), not a timeout: the bound only tells the two
    -- apart (wget's own fork+exec takes a second or more on emulating hosts)
    assert.is_true(tonumber(out:match("secs=(%d+)")) <= 10, out)
  end)

  it("allowlist:127.0.0.1/32: wget from the host's 127.0.0.1 is byte-identical", function()
    local before = served_lines()
    local code, out, err = sm({ "boot", "--egress-policy", "allowlist:127.0.0.1/32", "--", "/bin/sh", "-c",
      "ls /sys/class/net | tr '\\n' ' '; echo; " .. wget_cmd() })
    assert.are.equal(0, code, err)
    assert.matches("^eth0 lo \n", out)
    assert.matches("wget=0", out)
    assert.are.equal(sum, out:match("\n(%x+)  /tmp/f"), out)
    assert.are.equal(before + 1, served_lines())
  end)

  it("deny_private (the default): the VMM refuses it, says so, the server sees nothing", function()
    local before = served_lines()
    local code, out, err = sm({ "boot", "--enable-egress", "--", "/bin/sh", "-c", wget_cmd() })
    assert.are.equal(0, code, err)
    assert.matches("wget=1", out)
    assert.matches("Connection refused", err)		-- the VMM's RST: at once, no time-out
    assert.matches(string.format("egress: denied TCP 10%%.0%%.2%%.2:%d %%(127%%.0%%.0%%.1%%) by policy deny_private", port), err)
    local _, n = err:gsub("egress: denied", "")
    assert.is_true(n <= 2, "rate-limited: " .. err)	-- SYN retries are not each logged
    assert.are.equal(before, served_lines())
  end)

  it("a restore cannot gain egress: sm restore --enable-egress of a snapshot without it is refused", function()
    local code, _, err = sm({ "boot", "--snapshot-after-ms", "100", "--snapshot-to", tmp .. "/off",
      "--", "/bin/sleep", "30" })
    assert.are.equal(0, code, err)
    code, _, err = sm({ "restore", "--enable-egress", tmp .. "/off" })
    assert.are.equal(125, code)
    assert.matches("taken without egress: a restored VM cannot gain a network device", err)
  end)

  it("a bake step downloads with egress.during_bake; the served snapshot has no network", function()
    run.must("python3 " .. run.root .. "/tests/oci/mkimage.py web " .. tmp .. "/web")
    local recipe = tmp .. "/dl.lua"
    local f = assert(io.open(recipe, "w"))
    f:write(string.format([[
return {
  image = "oci-layout:%s/web:1",
  name = "dl",
  memory = 128,
  egress = { policy = "allowlist:127.0.0.1/32", during_bake = true },
  bake = {
    { copy = "/bin/busybox", to = "/bin/busybox" },
    { run = "busybox wget -q -O /www/f http://10.0.2.2:%d/f" },
  },
  entrypoint = { "/bin/sh", "-c" },
  cmd = { "ls /sys/class/net > /www/net.txt; exec /bin/web-start" },
}
]], tmp, port))
    f:close()
    local before = served_lines()
    local code, out, err = sm({ "pull", recipe })
    assert.are.equal(0, code, out .. err)
    assert.are.equal(before + 1, served_lines())
    local meta = run.must("cat " .. tmp .. "/data/sm/snapshots/dl/vm/metadata.json")
    assert.matches('"net_mtu": 0', meta)
    local hp = run.ports(1)
    code, out, err = sm({ "run", recipe, "--detach", "--http-port", tostring(hp), "--ready-timeout-ms", "240000" })
    assert.are.equal(0, code, out .. err)
    local status, body = run.http_get(tmp, hp, "/f")
    assert.are.equal(200, status)
    assert.are.equal(sum, run.must("sha256sum " .. tmp .. "/body"):match("^(%x+)"))
    status, body = run.http_get(tmp, hp, "/net.txt")
    assert.are.equal(200, status)
    assert.are.equal("lo\n", body)
    sm({ "run", "--stop", "--http-port", tostring(hp), "--stop-grace", "2" })
  end)
end)
