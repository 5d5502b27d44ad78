-- sm daemon: the HTTP edge router and its worker supervisor (docs/router.md)
-- with real restored VMs, real curl and real sockets on 127.0.0.1.  One
-- snapshot (a guest running busybox httpd on 8080) serves every case;
-- SM_TEST_HTTP_SNAPSHOT=DIR reuses one made by spec/support/http_snapshot.lua.
local run = require "support.run"

local sh, trim = run.out, run.trim

describe("sm daemon (docs/router.md)", function()
  if run.skip_without_kvm(pending) then return end

  local tmp, snap, env
  local daemons = {}
  local port_base = run.ports(100)

  setup(function()
    tmp = trim(sh("mktemp -d /tmp/sm-daemon.XXXXXX"))
    sh("mkdir -m 700 " .. tmp .. "/xdg " .. tmp .. "/s")
    -- its own state dir too: pid files and port locks of no other daemon (nor of ours left there)
    env = "env XDG_RUNTIME_DIR=" .. tmp .. "/xdg XDG_STATE_HOME=" .. tmp .. "/state "
    snap = os.getenv("SM_TEST_HTTP_SNAPSHOT")   -- reuse one made by spec/support/http_snapshot.lua
    if snap then return end
    local out, code, err = sh(env .. run.quote(run.bin) .. " lua " .. run.quote(run.root
      .. "/spec/support/http_snapshot.lua") .. " " .. tmp .. "/s")
    assert(code == 0, out .. err)
    snap = tmp .. "/s/snap"
  end)

  teardown(function()
    for _, d in ipairs(daemons) do sh("kill -9 " .. d.pid .. " 2>/dev/null") end
    sh("rm -rf " .. run.quote(tmp))
  end)

  local next_port = 0
  -- Starts `sm daemon` in the background; returns { pid=, port=, log= } once /_health answers.
  local function start(args)
    next_port = next_port + 1
    local port = port_base + next_port
    local log = string.format("%s/daemon-%d.log", tmp, port)
    local pid = trim(sh(env .. "sh -c " .. run.quote("exec " .. run.quote(run.bin) .. " daemon --http-port "
      .. port .. " --snapshot " .. snap .. " --port 8080 --upstream-timeout 200 " .. (args or "") .. " >" .. log .. " 2>&1")
      .. " & echo $!"))
    local d = { pid = pid, port = port, log = log, url = "http://127.0.0.1:" .. port }
    daemons[#daemons + 1] = d
    finally(function() sh("kill " .. pid .. " 2>/dev/null; sleep 0.3; kill -9 " .. pid .. " 2>/dev/null") end)
    for _ = 1, 100 do
      local _, code = sh("curl -sf -o /dev/null --max-time 1 " .. d.url .. "/_health")
      if code == 0 then return d end
      sh("sleep 0.05")
    end
    error("the daemon did not answer /_health: " .. sh("cat " .. log))
  end

  local function health(d)
    return trim(sh("curl -s --max-time 5 " .. d.url .. "/_health"))
  end

  local function live(d) return tonumber(health(d):match('"live":(%d+)')) end

  local function get(d, path, extra)
    local out = sh("curl -s --max-time 240 " .. (extra or "") .. " -w '\\n%{http_code}' " .. d.url .. path)
    local body, code = out:match("^(.*)\n(%d+)$")
    return tonumber(code), body
  end

  local function stop(d)
    sh("kill " .. d.pid .. "; for i in $(seq 50); do kill -0 " .. d.pid .. " 2>/dev/null || break; sleep 0.1; done")
  end

  local function count(s, pat)
    local n = 0
    for _ in s:gmatch(pat) do n = n + 1 end
    return n
  end

  it("answers /_health itself, restores a worker on the first request and proxies to the guest", function()
    local d = start()
    local h = health(d)
    assert.matches('^{"status":"ok","snapshot":"snap","workers":{"live":0,"idle":0,"starting":0,"standby":[01]}', h)
    assert.matches('"uptime_s":%d+', h)
    local code, body = get(d, "/index.html")
    assert.equal(200, code)
    assert.equal("hello-router\n", body)
    assert.equal(1, live(d))
    -- keep-alive: two requests on one connection, both answered
    local out = sh("curl -s --max-time 60 -o /dev/null -o /dev/null -w '%{http_code} %{num_connects} ' "
      .. d.url .. "/index.html " .. d.url .. "/index.html")
    assert.matches("^200 %d 200 %d$", trim(out))
    -- 1 MiB through the 64 KiB buffers: backpressure loses nothing
    assert.equal("1048576", trim(sh("curl -s --max-time 60 " .. d.url .. "/big | wc -c")))
    stop(d)
    assert.matches("worker 1 running", sh("cat " .. d.log))
    -- a graceful stop ends every VMM, the standby too
    assert.equal("", trim(sh("{ pgrep -f '[s]m-vmm.*/daemon-" .. d.port .. "/'; true; }")))
  end)

  it("answers bad request heads with 400 and oversized ones with 431, and never hangs", function()
    local d = start()
    local raw = sh("timeout 5 bash -c " .. run.quote("exec 3<>/dev/tcp/127.0.0.1/" .. d.port
      .. "; printf 'GET / HTTP/1.1\\nHost: x\\n\\n' >&3; cat <&3"))
    assert.matches("^HTTP/1%.1 400 Bad Request\r\n", raw)
    assert.matches("Connection: close\r\n", raw)
    local code = get(d, "/", "-o /dev/null -H 'X-Big: " .. string.rep("a", 17000) .. "'")
    assert.equal(431, code)
    raw = sh("timeout 5 bash -c " .. run.quote("exec 3<>/dev/tcp/127.0.0.1/" .. d.port
      .. "; printf '\\x16\\x03\\x01\\x02\\x00' >&3; cat <&3"))
    assert.matches("^HTTP/1%.1 400", raw)
    assert.equal(0, live(d))   -- none of these woke a worker
    stop(d)
  end)

  it("scales to zero after the idle timeout and restores again on the next request", function()
    local d = start("--idle-timeout 1")
    assert.equal(200, (get(d, "/index.html")))
    local zero = false
    for _ = 1, 60 do
      if live(d) == 0 then zero = true break end
      sh("sleep 0.1")
    end
    assert.is_true(zero, health(d))
    assert.equal(200, (get(d, "/index.html")))
    stop(d)
    local log = sh("cat " .. d.log)
    assert.equal(2, count(log, "running %(pid"), log)
    assert.matches("worker 1: idle for", log)
  end)

  it("serves 30 concurrent clients with at most 3 workers", function()
    local d = start("--workers-per-snapshot 3")
    local out = sh("{ for i in $(seq 30); do curl -s -o /dev/null --max-time 240 -w '%{http_code}\\n' "
      .. d.url .. "/index.html & done; wait; }")
    assert.equal(30, count(out, "200\n"), out)
    local log = sh("cat " .. d.log)
    local n = count(log, "running %(pid")
    assert.is_true(n >= 1 and n <= 3, log)
    assert.is_true(live(d) <= 3)
    stop(d)
  end)

  it("removes a worker killed with kill -9: its client is cut off, the next request gets a new worker", function()
    local d = start()
    assert.equal(200, (get(d, "/index.html")))
    local pid = sh("cat " .. d.log):match("worker 1 running %(pid (%d+)")
    -- a slow download is in flight (its first bytes are in) when the worker dies
    local slow = tmp .. "/slow.out"
    sh("(curl -s --max-time 240 --limit-rate 20k -o " .. slow .. ".body -w '%{http_code} %{size_download}' "
      .. d.url .. "/big >" .. slow .. " 2>&1; echo \" rc=$?\" >>" .. slow .. ") >/dev/null 2>&1 &")
    for _ = 1, 1200 do   -- bytes of the body itself are through
      local size = tonumber(trim(sh("{ stat -c %s " .. slow .. ".body || echo 0; } 2>/dev/null")))
      if size and size > 4096 then break end
      sh("sleep 0.1")
    end
    sh("kill -9 " .. pid)
    local res
    for _ = 1, 100 do
      res = sh("cat " .. slow)
      if res:match("rc=") then break end
      sh("sleep 0.1")
    end
    local code, size, rc = res:match("^(%d+) (%d+)%s+rc=(%d+)")
    assert.equal("200", code, res)                 -- the response had begun: the client is closed
    assert.is_true(tonumber(size) < 1048576, res)  -- short
    assert.are_not.equal("0", rc)                  -- and curl knows it
    for _ = 1, 50 do
      if live(d) == 0 then break end
      sh("sleep 0.1")
    end
    assert.equal(0, live(d))
    assert.equal(200, (get(d, "/index.html")))
    local log = sh("cat " .. d.log)
    assert.matches("worker 1 ended", log)
    assert.matches("worker 2 running", log)
    stop(d)
  end)

  it("a worker killed with kill -9 before it answered: its waiting clients get 502 at once, the pool replaces it", function()
    local d = start()
    assert.equal(200, (get(d, "/index.html")))
    local pid = sh("cat " .. d.log):match("worker 1 running %(pid (%d+)")
    -- three requests reach the guest's CGI, which answers only after 60 s
    local outs = {}
    for i = 1, 3 do
      outs[i] = string.format("%s/slow%d.out", tmp, i)
      sh("(curl -s --max-time 240 -o /dev/null -w '%{http_code}' " .. d.url .. "/cgi-bin/slow >" .. outs[i]
        .. " 2>&1; echo \" rc=$?\" >>" .. outs[i] .. ") >/dev/null 2>&1 &")
    end
    local bound = false
    for _ = 1, 600 do   -- all three are bound to the worker (its pool entry counts them)
      if tonumber(health(d):match('"conns":(%d+)') or 0) >= 3 then bound = true break end
      sh("sleep 0.1")
    end
    assert.is_true(bound, health(d))
    sh("sleep 2")        -- and have reached httpd, which runs the CGI
    local t0 = os.time()
    sh("kill -9 " .. pid)
    for i = 1, 3 do
      local res
      for _ = 1, 300 do
        res = sh("cat " .. outs[i])
        if res:match("rc=") then break end
        sh("sleep 0.1")
      end
      assert.matches("^502 rc=0", res)
    end
    assert.is_true(os.time() - t0 < 20, "the 502s took " .. (os.time() - t0) .. " s")
    local code, body = get(d, "/index.html")
    assert.equal(200, code)
    assert.equal("hello-router\n", body)
    local log = sh("cat " .. d.log)
    assert.matches("worker 1 ended", log)
    assert.matches("worker 2 running", log)
    stop(d)
  end)

  local function alive(pid)
    local _, code = sh("kill -0 " .. pid .. " 2>/dev/null")
    return code == 0
  end

  -- Waits (up to s seconds) until the daemon's log matches pat; its captures, or nil.
  local function log_wait(d, pat, s)
    for _ = 1, (s or 30) * 10 do
      local caps = { sh("cat " .. d.log):match(pat) }
      if caps[1] then return table.unpack(caps) end
      sh("sleep 0.1")
    end
  end

  -- docs/router.md "Supervisor", docs/vmm.md "Standby"
  it("answers from zero through its standby VMM (go), then prepares the next; a dead standby is replaced", function()
    local d = start()
    local spid = log_wait(d, "standby 1 ready %(pid (%d+)")
    assert.truthy(spid, sh("cat " .. d.log))
    assert.matches('"live":0,"idle":0,"starting":0,"standby":1}', health(d))
    local code, body = get(d, "/index.html")
    assert.equal(200, code)
    assert.equal("hello-router\n", body)
    -- the standby became worker 1, and its VMM said it started at go (running ... standby_us=)
    local log = sh("cat " .. d.log)
    local wpid, setup = log:match("worker 1 running %(pid (%d+), restore set%-up (%d+) µs after go; its standby took")
    assert.equal(spid, wpid, log)
    assert.is_true(tonumber(setup) > 0, log)
    local spid2 = log_wait(d, "standby 2 ready %(pid (%d+)")
    assert.truthy(spid2, sh("cat " .. d.log))
    assert.matches('"live":1,"idle":%d,"starting":0,"standby":1}', health(d))
    -- a standby that dies is logged and replaced (after a back-off)
    sh("kill -9 " .. spid2)
    assert.truthy(log_wait(d, "standby 2 ended"), sh("cat " .. d.log))
    local spid3 = log_wait(d, "standby 3 ready %(pid (%d+)")
    assert.truthy(spid3, sh("cat " .. d.log))
    -- kill -9 of the daemon: no VMM is left, worker or standby
    sh("kill -9 " .. d.pid)
    local gone = false
    for _ = 1, 50 do
      if not alive(wpid) and not alive(spid3) then gone = true break end
      sh("sleep 0.1")
    end
    assert.is_true(gone, "a VMM outlived its daemon (worker " .. wpid .. ", standby " .. spid3 .. ")")
  end)

  it("with --no-standby restores every worker on demand", function()
    local d = start("--no-standby")
    assert.equal(200, (get(d, "/index.html")))
    assert.matches('"standby":0}', health(d))
    local log = sh("cat " .. d.log)
    assert.matches("worker 1 running %(pid %d+, restore set%-up %d+ µs%)", log)
    assert.is_nil(log:find("standby %d"), log)
    stop(d)
  end)

  it("a second daemon on its port is refused naming the first; its workers die with it when killed", function()
    local d = start()
    local code, _, err = run.sm({ "daemon", "--http-port", tostring(d.port), "--snapshot", snap, "--port", "8080" },
      { XDG_RUNTIME_DIR = tmp .. "/xdg", XDG_STATE_HOME = tmp .. "/state" })
    assert.equal(1, code)
    assert.matches("port " .. d.port .. " is already served by sm daemon pid " .. d.pid, err, 1, true)
    assert.equal(200, (get(d, "/index.html")))
    local pid = sh("cat " .. d.log):match("worker 1 running %(pid (%d+)")
    sh("kill -9 " .. d.pid)
    local gone = false
    for _ = 1, 50 do
      local _, alive = sh("kill -0 " .. pid .. " 2>/dev/null")
      if alive ~= 0 then gone = true break end
      sh("sleep 0.1")
    end
    assert.is_true(gone, "sm-vmm " .. pid .. " outlived its daemon")
  end)
end)
