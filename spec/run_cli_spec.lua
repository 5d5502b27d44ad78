-- sm run / ps / logs: flag validation, snapshot names and daemon state
-- files, without KVM (the serving paths are in spec/integration/run_spec.lua).
-- docs/run.md is the reference.
local t = require "support.run"

local tmp, env
setup(function()
  tmp = t.tmpdir("run-cli")
  env = { XDG_STATE_HOME = tmp .. "/state", XDG_DATA_HOME = tmp .. "/data", SM_CACHE_DIR = tmp .. "/cache",
    SM_HTTP_PORT = "" }
end)
teardown(function() t.sh("rm -rf " .. tmp) end)

local function sm(...) return t.sm({ ... }, env) end

describe("sm run flag validation (one line, exit 2, nothing made)", function()
  local cases = {
    { { "--vcpus", "17", "x" }, "^sm run: %-%-vcpus must be 1%.%.16, got 17\n$" },
    { { "--vcpus", "0", "x" }, "^sm run: %-%-vcpus must be 1%.%.16, got 0\n$" },
    { { "--memory", "10", "x" }, "^sm run: %-%-memory must be 64%.%.16384 MiB, got 10\n$" },
    { { "--volume", "data", "x" }, "^sm run: %-%-volume data: expected HOST:GUEST" },
    { { "--volume", "data:rel/path", "x" }, "^sm run: %-%-volume data:rel/path: expected HOST:GUEST" },
    { { "--volume", "a b:/x", "x" }, "^sm run: %-%-volume a b:/x: HOST is a volume name" },
    { { "--probe-path", "health", "x" }, "^sm run: %-%-probe%-path must start with '/'" },
    { { "--pull", "sometimes", "x" }, "^sm run: %-%-pull must be missing, always or never" },
    { { "--restart", "maybe", "x" }, "^sm run: %-%-restart must be no, on%-failure, always or unless%-stopped" },
    { { "--stop-grace", "601", "x" }, "^sm run: %-%-stop%-grace must be 0%.%.600 s" },
    { { "--health-interval", "0", "x" }, "^sm run: %-%-health%-interval must be 1%.%.3600 s" },
    { { "--http-port", "70000", "x" }, "^sm run: %-%-http%-port must be 1%.%.65535" },
    { { "--cmd", "echo hi", "x" }, "^sm run: %-%-cmd echo hi: expected a JSON array of strings" },
    { { "--cmd", "[1,2]", "x" }, "^sm run: %-%-cmd %[1,2%]: expected a JSON array of strings" },
    { { "--env", "NOEQUALS", "x" }, "^sm run: %-%-env NOEQUALS: expected KEY=VALUE" },
    { { "--workers-per-snapshot", "2", "-v", "data:/data", "x" }, "^sm run: %-%-workers%-per%-snapshot 2 with a read%-write %-%-volume" },
    { { "--frobnicate", "x" }, "^sm run: unknown option '%-%-frobnicate'" },
    { {}, "^sm run: missing image" },
    { { "a", "b" }, "^sm run: extra argument 'b'" },
  }
  for _, c in ipairs(cases) do
    it(table.concat(c[1], " "), function()
      local rc, out, err = sm("run", table.unpack(c[1]))
      assert.are.equal(2, rc, err)
      assert.are.equal("", out)
      assert.matches(c[2], err)
      assert.is_true(t.one_line(err), err)
    end)
  end

  it("refuses --no-egress with --enable-egress (docs/network.md)", function()
    local rc, _, err = sm("run", "--no-egress", "--enable-egress", "x")
    assert.are.equal(2, rc)
    assert.matches("%-%-no%-egress cannot go with", err)
  end)

  it("leaves no snapshot, pid file or volume behind after a usage error", function()
    sm("run", "--vcpus", "17", "-v", "data:/data", "x")
    assert.are.equal("", t.combined("ls " .. tmp .. "/state/sm " .. tmp .. "/data/sm 2>/dev/null"))
  end)
end)

describe("sm run --stop / --connect with nothing running", function()
  it("--stop says there is nothing to stop (exit 1, one line)", function()
    local rc, _, err = sm("run", "--stop", "--http-port", "18999")
    assert.are.equal(1, rc)
    assert.matches("^sm run: no sm daemon is running on port 18999 — nothing to stop", err)
    assert.is_true(t.one_line(err))
  end)
  it("--connect says no daemon answers and how to start one", function()
    local rc, _, err = sm("run", "--connect", "--http-port", "18999")
    assert.are.equal(1, rc)
    assert.matches("^sm run: no healthy sm daemon at http://127%.0%.0%.1:18999/ .*sm run IMAGE %-%-detach", err)
  end)
end)

describe("sm ps", function()
  it("lists nothing and sweeps a stale pid file", function()
    t.sh("mkdir -p " .. tmp .. "/state/sm && chmod 700 " .. tmp .. "/state/sm")
    -- a pid that is surely gone: a finished child's
    local _, pid = t.sh("sh -c 'echo $$'")
    pid = pid:gsub("%s+", "")
    t.sh(string.format("echo %s > %s/state/sm/router-18998.pid; printf 'web\\n/x\\n' > %s/state/sm/router-18998.snapshot",
      pid, tmp, tmp))
    local rc, out = sm("ps")
    assert.are.equal(0, rc)
    assert.matches("^PORT%s+PID%s+SNAPSHOT%s+WORKERS%s+HEALTH%s+RM%s+ENDPOINT\n$", out)
    assert.is_nil(io.open(tmp .. "/state/sm/router-18998.pid"))
    assert.is_nil(io.open(tmp .. "/state/sm/router-18998.snapshot"))
    rc, out = sm("ps", "--format", "json")
    assert.are.equal(0, rc)
    assert.are.equal("[]\n", out)
  end)
  it("lists a live daemon from its pid file while its lock is held", function()
    -- a stand-in daemon: holds the port's lock (flock(1) from util-linux) and is alive
    local _, holder = t.sh("setsid flock -x " .. tmp .. "/state/sm/router-18997.pid.lock sleep 30 </dev/null >/dev/null 2>&1 & echo $!")
    holder = holder:gsub("%s+", "")
    t.sh("sleep 0.3")
    local f = assert(io.open(tmp .. "/state/sm/router-18997.pid", "w"))
    f:write(holder, "\n")
    f:close()
    f = assert(io.open(tmp .. "/state/sm/router-18997.snapshot", "w"))
    f:write("web-1\n/snap/web-1\n")
    f:close()
    local rc, out = sm("ps", "--format", "json")
    assert.are.equal(0, rc)
    local rows = require("cjson").decode(out)
    assert.are.equal(1, #rows)
    assert.are.equal(18997, rows[1].port)
    assert.are.equal("web-1", rows[1].snapshot)
    assert.are.equal("http://127.0.0.1:18997/", rows[1].endpoint)
    t.sh("kill -- -" .. holder)		-- flock and its sleep: the lock goes with them
    t.sh("sleep 0.3")
    rc, out = sm("ps", "--format", "json")		-- the lock is free: gone, swept
    assert.are.equal("[]\n", out)
    assert.is_nil(io.open(tmp .. "/state/sm/router-18997.pid"))
  end)
end)

describe("sm.run.snapshot_name", function()
  it("derives snapshot names from image references", function()
    local script = tmp .. "/names.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
      local run = require "sm.run"
      for _, r in ipairs({ "nginx:1.27-alpine", "localhost:5000/test/web:1", "oci-layout:/some/dir/web:1",
          "docker-archive:/tmp/x/busybox-docker.tar", "Foo/../bar@sha256:0123456789abcdef0123" }) do
        print(run.snapshot_name(r))
      end]])
    f:close()
    local rc, out, err = sm("lua", script)
    assert.are.equal(0, rc, err)
    assert.are.equal("nginx-1.27-alpine\nlocalhost-5000-test-web-1\nweb-1\nbusybox-docker\nfoo-..-bar-0123456789ab\n", out)
  end)
end)
