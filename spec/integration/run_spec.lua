-- `sm run` against real images built locally (tests/oci/mkimage.py web:
-- busybox httpd, entrypoint /bin/web-start writing what it sees to /info)
-- and served by the real registry (Debian's docker-registry on 127.0.0.1).
-- docs/run.md is the reference.  Bakes are the expensive part here, so the
-- suite bakes a handful of snapshots and restores them for everything
-- else; the boot snapshot is shared with the other suites (default cache).
local run = require "support.run"
local cjson = require "cjson"

local OCI = run.root .. "/tests/oci"
local T = " timeout 600 "
local tmp, env, reg, ref, base

local function sm(args, extra_env, prefix)
  local e = {}
  for k, v in pairs(env) do e[k] = v end
  for k, v in pairs(extra_env or {}) do e[k] = v end
  return run.sm(args, e, (prefix or "") .. T)
end

local must = run.must

local function get(port, path, secs) return run.http_get(tmp, port, path, secs) end

local function health(port)
  local code, body = get(port, "/_health", 10)
  if code ~= 200 then return nil end
  return cjson.decode(body)
end

local function detach(port, args, extra_env)
  local a = { "run", "--detach", "--memory", "128", "--ready-timeout-ms", "180000", "--http-port", tostring(port) }
  for _, x in ipairs(args) do a[#a + 1] = x end
  return sm(a, extra_env)
end

local function stop(port) return sm({ "run", "--stop", "--http-port", tostring(port), "--stop-grace", "5" }) end

-- pids of sm-vmm processes whose command line matches pattern ("[s]" so
-- the shell running pgrep does not match itself; braces so the capture
-- takes pgrep's output, not only the last command's)
local function vmms_of(pattern)
  local _, out = run.sh("{ pgrep -f " .. run.quote("[s]m-vmm.*" .. pattern) .. "; true; }")
  return out
end

local function wait_until(secs, fn)
  local deadline = os.time() + secs
  repeat
    local v = fn()
    if v then return v end
    run.sh("sleep 0.2")
  until os.time() > deadline
end

describe("sm run (real images, real registry)", function()
  if run.skip_without_kvm(pending) then return end

  setup(function()
    tmp = run.tmpdir("run")
    must("mkdir -m 700 " .. tmp .. "/xdg")
    env = { XDG_RUNTIME_DIR = tmp .. "/xdg", XDG_STATE_HOME = tmp .. "/state", XDG_DATA_HOME = tmp .. "/data",
      SM_IMAGES_DIR = tmp .. "/images", SM_RUN_TRACE = "1" }
    must("python3 " .. OCI .. "/mkimage.py web " .. tmp .. "/web")
    must("python3 " .. OCI .. "/mkimage.py web " .. tmp .. "/web40 40")
    reg = tmp .. "/reg"
    local port = must(OCI .. "/registry.sh start " .. reg .. " open"):match("(%d+)%s*$")
    ref = "localhost:" .. port .. "/test/web:1"
    must("timeout 120 skopeo copy -q --dest-tls-verify=false oci:" .. tmp .. "/web:1 docker://127.0.0.1:" .. port .. "/test/web:1")
    must("timeout 120 skopeo copy -q oci:" .. tmp .. "/web:1 oci-archive:" .. tmp .. "/web.tar:1")
    must("python3 " .. OCI .. "/mkimage.py docker-save " .. tmp .. "/web " .. tmp .. "/web-docker.tar")
    base = run.ports(20)
  end)

  teardown(function()
    for p = base, base + 12 do stop(p) end
    run.sh(OCI .. "/registry.sh stop " .. reg)
    -- "[s]": else pkill matches (and kills) this very shell, and rm never runs
    run.sh("pkill -9 -f " .. run.quote("[s]m-vmm.*" .. tmp) .. "; rm -rf " .. run.quote(tmp))
  end)

  it("serves a registry image: the page, /_health, ps, exec in the image; --stop leaves no VMM or socket", function()
    local p = base
    local code, out, err = detach(p, { "--name", "web", ref })
    assert.are.equal(0, code, err)
    assert.are.equal("endpoint: http://127.0.0.1:" .. p .. "/\n", out)
    assert.matches("bake: no snapshot yet", err, 1, true)
    local status, body = get(p, "/")
    assert.are.equal(200, status)
    assert.matches("hello from the web image", body, 1, true)
    local h = health(p)
    assert.are.equal("ok", h.status)
    assert.are.equal("web", h.snapshot)
    assert.are.equal(1, math.tointeger(h.workers.live))
    assert.is_number(h.uptime_s)
    code, out = sm({ "ps", "--format", "json" })
    local rows = cjson.decode(out)
    assert.are.equal(1, #rows)
    assert.are.equal(p, math.tointeger(rows[1].port))
    assert.are.equal("web", rows[1].snapshot)
    code, out, err = sm({ "exec", tostring(p), "--", "cat", "/layers/1", "/etc/passwd" })
    assert.are.equal(0, code, err)
    assert.matches("^1\nroot:x:0:0", out)
    code, out = sm({ "images", "--format", "json" })
    local imgs = cjson.decode(out)
    assert.are.equal("web", imgs[1].name)
    assert.are.equal(ref, imgs[1].image)
    assert.are.equal(8080, math.tointeger(imgs[1].port))
    code, _, err = stop(p)
    assert.are.equal(0, code, err)
    assert.is_nil(health(p))
    assert.are.equal("", vmms_of(tmp .. "/data/sm/snapshots/web/"))
    assert.is_nil(io.open(tmp .. "/xdg/sm/daemon-" .. p .. "/w1.sock"))	-- the workers' sockets
    assert.is_nil(io.open(tmp .. "/xdg/sm/daemon-" .. p))
    assert.is_nil(io.open(tmp .. "/state/sm/router-" .. p .. ".pid"))
    code, out = sm({ "ps" })
    assert.matches("^PORT[^\n]*\n$", out)
  end)

  it("skips an unchanged bake; oci-layout:, oci-archive: and docker-archive: inputs serve too", function()
    for i, src in ipairs({ ref, "oci-layout:" .. tmp .. "/web:1", "oci-archive:" .. tmp .. "/web.tar:1",
        "docker-archive:" .. tmp .. "/web-docker.tar" }) do
      local p = base + i
      local code, _, err = detach(p, { "--name", "web", src })
      assert.are.equal(0, code, src .. ": " .. err)
      if i == 1 then assert.matches("bake: skipped (snapshot web is up to date)", err, 1, true) end
      local status, body = get(p, "/")
      assert.are.equal(200, status, src)
      assert.matches("hello from the web image", body, 1, true)
      assert.are.equal(0, (stop(p)))
      assert.are.equal("", vmms_of(tmp .. "/data/sm/snapshots/web/"))
    end
  end)

  it("bakes again when a flag changes; --env --cmd --entrypoint --workdir --user --hostname reach the workload", function()
    local p = base + 5
    local code, _, err = detach(p, { "--name", "web-custom", "--entrypoint", "/bin/web-start", "--cmd", '["x","y"]',
      "--env", "FOO=bar", "--workdir", "/tmp", "--user", "app", "--hostname", "h1", ref })
    assert.are.equal(0, code, err)
    local status, info = get(p, "/info")
    assert.are.equal(200, status)
    assert.matches("args:x y\n", info, 1, true)
    assert.matches("user:1234:1234\n", info, 1, true)
    assert.matches("groups:1234 50\n", info, 1, true)	-- app's membership in the image's /etc/group
    assert.matches("pwd:/tmp\n", info, 1, true)
    assert.matches("host:h1\n", info, 1, true)
    assert.matches("env:FOO=bar\n", info, 1, true)
    assert.matches("env:GREETING=hi\n", info, 1, true)	-- the image's Env stays
    assert.are.equal(0, (stop(p)))
    -- the same name with one flag changed: a new bake (the old snapshot is replaced)
    code, _, err = detach(p, { "--name", "web-custom", "--entrypoint", "/bin/web-start", ref })
    assert.are.equal(0, code, err)
    assert.matches("bake: image, recipe or options changed", err, 1, true)
    status, info = get(p, "/info")
    assert.matches("args:\n", info, 1, true)		-- --entrypoint dropped the image's CMD
    assert.matches("user:0:0\n", info, 1, true)
    assert.matches("groups:0\n", info, 1, true)
    assert.matches("pwd:/www\n", info, 1, true)		-- the image's WorkingDir
    assert.matches("host:web-custom\n", info, 1, true)
    assert.are.equal(0, (stop(p)))
  end)

  it("foreground: streams the workload's output, and SIGINT stops it cleanly with status 0", function()
    local p = base + 6
    -- the inner sh execs sm, so its pid is sm's; the outer one records sm's exit status
    local inner = string.format("echo $$ > %s/fg.pid; exec env XDG_RUNTIME_DIR=%s XDG_STATE_HOME=%s XDG_DATA_HOME=%s SM_IMAGES_DIR=%s %s run --memory 128 --name web --http-port %d %s",
      tmp, env.XDG_RUNTIME_DIR, env.XDG_STATE_HOME, env.XDG_DATA_HOME, env.SM_IMAGES_DIR, run.quote(run.bin), p, ref)
    local outer = string.format("sh -c %s > %s/fg.out 2>&1; echo \"rc=$?\" >> %s/fg.out", run.quote(inner), tmp, tmp)
    run.sh("setsid sh -c " .. run.quote(outer) .. " </dev/null >/dev/null 2>&1 &")
    assert.is_truthy(wait_until(10, function() local f = io.open(tmp .. "/fg.pid") if f then f:close() end return f end))
    local pf = io.open(tmp .. "/fg.pid")
    local pid = pf:read("n")
    pf:close()
    assert.is_truthy(wait_until(120, function() return health(p) end), "the foreground daemon came up")
    assert.are.equal(200, (get(p, "/")))
    assert.is_truthy(wait_until(30, function()
      local f = io.open(tmp .. "/fg.out")
      local s = f and f:read("a") or ""
      if f then f:close() end
      return s:find("[w1] ", 1, true)
    end), "a worker's output line reached the terminal")
    run.sh("kill -INT " .. pid)
    local out = wait_until(60, function()
      local f = io.open(tmp .. "/fg.out")
      local s = f and f:read("a") or ""
      if f then f:close() end
      return s:find("rc=%d+") and s
    end)
    assert.is_truthy(out, "sm run ended after SIGINT")
    assert.matches("rc=0\n", out, 1, true)
    assert.matches("stopping (SIGINT)", out, 1, true)
    assert.matches("response:200", out, 1, true)
    assert.is_nil(health(p))
    assert.are.equal("", vmms_of(tmp .. "/data/sm/snapshots/web/"))
  end)

  it("scales from zero: an idle worker is reaped, the next request restores one; workers differ in entropy and identity, with the right clock", function()
    local p = base + 7
    -- (exec sessions are not the router's: the first exec must come well inside the idle timeout)
    local code, _, err = detach(p, { "--name", "web", "--idle-timeout", "8", ref })
    assert.are.equal(0, code, err)
    local probe = "head -c 16 /dev/urandom | od -An -tx1; cat /run/sm/worker-id; date +%s"
    local function one()
      local c, out, e = sm({ "exec", tostring(p), "--", "sh", "-c", probe })
      assert.are.equal(0, c, e)
      return out
    end
    local a = one()
    assert.is_truthy(wait_until(60, function() local h = health(p) return h and math.tointeger(h.workers.live) == 0 end),
      "the idle worker was reaped (/_health live 0)")
    local status, body = get(p, "/")		-- scale from zero: a request restores a worker
    assert.are.equal(200, status)
    assert.matches("hello from the web image", body, 1, true)
    local b = one()
    local ra, ia, ta = a:match("^(.-)\n(%S+)\n(%d+)\n$")
    local rb, ib, tb = b:match("^(.-)\n(%S+)\n(%d+)\n$")
    assert.is_truthy(ra and rb, a .. " / " .. b)
    assert.are_not.equal(ra, rb)			-- /dev/urandom
    assert.are_not.equal(ia, ib)			-- /run/sm/worker-id (docs/clone-safety.md)
    assert.is_true(math.abs(tonumber(tb) - os.time()) <= 5, "guest clock " .. tb .. " vs host " .. os.time())
    assert.is_true(math.abs(tonumber(ta) - os.time()) <= 120)
    assert.are.equal(0, (stop(p)))
  end)

  it("a named volume keeps a file across --stop and a new run, an fsync'd write survives kill -9 of the VMM, a second VM is refused", function()
    local p = base + 8
    finally(function() stop(p) end)	-- a failure here must not leave its daemon to the next case
    local args = { "--name", "webvol", "--volume", "data:/data", ref }
    local code, _, err = detach(p, args)
    assert.are.equal(0, code, err)
    code, _, err = sm({ "exec", tostring(p), "--", "sh", "-c", "echo kept > /data/f && sync" })
    assert.are.equal(0, code, err)
    assert.are.equal(0, (stop(p)))
    code, _, err = detach(p, args)
    assert.are.equal(0, code, err)
    assert.matches("bake: skipped", err, 1, true)
    local out
    code, out, err = sm({ "exec", tostring(p), "--", "cat", "/data/f" })
    assert.are.equal("kept\n", out, err)
    -- fsync'd, then the worker's VMM is killed: the data is on the host file
    code, _, err = sm({ "exec", tostring(p), "--", "sh", "-c", "echo synced > /data/g && sync" })
    assert.are.equal(0, code, err)
    run.sh("pkill -9 -f " .. run.quote("sm-vmm.*webvol/vm"))
    assert.is_truthy(wait_until(30, function() return vmms_of("webvol/vm") == "" end))
    code, out, err = sm({ "exec", tostring(p), "--", "cat", "/data/g" })
    assert.are.equal("synced\n", out, err .. select(2, sm({ "logs", "--router", tostring(p) })))
    -- the volume is held: another daemon asking for it is refused, and leaves nothing
    code, _, err = detach(p + 1, args)
    assert.are.equal(1, code)
    assert.matches("in use read%-write by another VM", err)
    assert.is_nil(io.open(tmp .. "/state/sm/router-" .. (p + 1) .. ".pid"))
    assert.are.equal(0, (stop(p)))
  end)

  it("runs an image with 40 layers", function()
    local p = base + 10
    local code, _, err = detach(p, { "--name", "web40", "oci-layout:" .. tmp .. "/web40:1" })
    assert.are.equal(0, code, err)
    local out
    code, out, err = sm({ "exec", tostring(p), "--", "sh", "-c", "ls /layers | wc -l; cat /layers/40" })
    assert.are.equal(0, code, err)
    assert.are.equal("40\n40\n", out:gsub(" ", ""))
    assert.are.equal(200, (get(p, "/")))
    assert.are.equal(0, (stop(p)))
  end)

  describe("bad input: one clear line, nothing half-made", function()
    local function nothing_left(name, port)
      local _, ls = run.sh("ls -a " .. tmp .. "/data/sm/snapshots")
      assert.is_nil(ls:find(name, 1, true), ls)
      assert.is_nil(io.open(tmp .. "/state/sm/router-" .. port .. ".pid"))
      assert.are.equal("", vmms_of(tmp .. "/data/sm/snapshots/\\." .. name))
    end

    it("an image that does not exist", function()
      local code, _, err = detach(base + 11, { (ref:gsub("web:1", "nope:1")) })
      assert.are.equal(1, code)
      assert.matches("^sm run: pulling .*nope:1: .*\n$", err:gsub("sm run: trace:[^\n]*\n", ""))
      nothing_left("nope", base + 11)
    end)

    it("a workload that exits at once during the bake: its output is shown", function()
      local code, _, err = detach(base + 11, { "--name", "dies", "--entrypoint", "", "--cmd",
        '["/bin/sh","-c","echo dying now; exit 3"]', ref })
      assert.are.equal(1, code)
      assert.matches("the workload exited (status 3) before it listened on guest port 8080", err, 1, true)
      assert.matches("dying now", err, 1, true)
      nothing_left("dies", base + 11)
    end)

    it("a workload that never listens: the bake times out naming the port", function()
      local code, _, err = detach(base + 11, { "--name", "deaf", "--entrypoint", "", "--cmd", '["/bin/sleep","1000"]', ref },
        { SM_BAKE_TIMEOUT = "5" })
      assert.are.equal(1, code)
      assert.matches("nothing listened on guest port 8080 within 5 s", err, 1, true)
      nothing_left("deaf", base + 11)
    end)

    it("a VMM killed while the bake writes its snapshot: a clear error and no snapshot; the next run bakes and serves", function()
      local p = base + 11
      local code, _, err = detach(p, { "--name", "cut", ref }, { SM_VMM_FAULT = "kill-mid-snapshot" })
      assert.are.equal(1, code)
      assert.matches("killed", err)
      nothing_left("cut", p)
      code, _, err = detach(p, { "--name", "cut", ref })
      assert.are.equal(0, code, err)
      assert.are.equal(200, (get(p, "/")))
      assert.are.equal(0, (stop(p)))
    end)

    it("a write failure while baking (RLIMIT_FSIZE, as a full disk): a clear error, no snapshot, the layer cache intact", function()
      local p = base + 11
      local function images() return select(2, run.sh("cd " .. tmp .. "/images && find . -type f | sort | xargs sha256sum")) end
      local before = images()
      local a = { "run", "--detach", "--memory", "128", "--ready-timeout-ms", "180000", "--http-port", tostring(p),
        "--name", "full", ref }
      local code, _, err = sm(a, nil, "bash -c 'ulimit -f 16384; exec \"$@\"' limited")
      assert.are.equal(1, code)
      assert.matches("File too large (its file system is full, or a file-size limit", err, 1, true)
      nothing_left("full", p)
      assert.are.equal(before, images())
      code, _, err = detach(p, { "--name", "full", ref })
      assert.are.equal(0, code, err)
      assert.are.equal(200, (get(p, "/")))
      assert.are.equal(0, (stop(p)))
    end)

    it("a port another program holds", function()
      local p = base + 12
      local _, pid = run.sh(string.format("setsid python3 -c 'import socket,time; s=socket.socket(); s.bind((\"127.0.0.1\",%d)); s.listen(); time.sleep(120)' </dev/null >/dev/null 2>&1 & echo $!", p))
      -- python can take seconds to start on a loaded host: wait until it really holds the port
      local held = wait_until(30, function()
        return run.sh(string.format("bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d'", p)) == 0
      end)
      local code, _, err = detach(p, { "--name", "web", ref })
      run.sh("kill " .. pid:gsub("%s+", ""))
      if code == 0 then stop(p) end -- never leave a daemon behind for the next test
      assert.is_truthy(held, "the holder listened on " .. p)
      assert.are.equal(1, code)
      assert.matches("127.0.0.1:" .. p .. " is in use by another program", err, 1, true)
      assert.is_nil(io.open(tmp .. "/state/sm/router-" .. p .. ".pid"))
    end)

    it("kill -9 of the daemon: its workers go with it, sm ps sweeps the pid file, sm run on its port works again", function()
      local p = base + 9
      local code, _, err = detach(p, { "--name", "web", ref })
      assert.are.equal(0, code, err)
      local f = io.open(tmp .. "/state/sm/router-" .. p .. ".pid")
      local pid = f:read("n")
      f:close()
      assert.are_not.equal("", vmms_of(tmp .. "/data/sm/snapshots/web/"))
      run.sh("kill -9 " .. pid)
      assert.is_truthy(wait_until(30, function() return vmms_of(tmp .. "/data/sm/snapshots/web/") == "" end),
        "no orphan sm-vmm")
      local out
      code, out = sm({ "ps" })
      assert.matches("^PORT[^\n]*\n$", out)
      assert.is_nil(io.open(tmp .. "/state/sm/router-" .. p .. ".pid"))
      -- and the port is free for a new run at once (the snapshot is reused: no bake)
      code, _, err = detach(p, { "--name", "web", ref })
      assert.are.equal(0, code, err)
      assert.are.equal(200, (get(p, "/")))
      assert.are.equal(0, (stop(p)))
    end)
  end)
end)
