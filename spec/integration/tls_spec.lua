-- TLS at the edge with real restored VMs (docs/tls.md): `sm daemon` with
-- --inbound-tls-cert/key and with --inbound-tls-autogen serves the guest's
-- page and /_health to curl --cacert; plain HTTP to the port fails at once;
-- a bad pair is a startup error.  Loopback only.  The snapshot is
-- spec/support/http_snapshot.lua's (SM_TEST_HTTP_SNAPSHOT=DIR reuses one).
local run = require "support.run"

local sh, trim = run.out, run.trim

describe("sm daemon over TLS (docs/tls.md)", function()
  if run.skip_without_kvm(pending) then return end

  local tmp, snap, env
  local port_base = run.ports(100)

  setup(function()
    tmp = trim(sh("mktemp -d /tmp/sm-tls.XXXXXX"))
    sh("mkdir -m 700 " .. tmp .. "/xdg " .. tmp .. "/s")
    env = "env XDG_RUNTIME_DIR=" .. tmp .. "/xdg XDG_STATE_HOME=" .. tmp .. "/state XDG_DATA_HOME=" .. tmp
      .. "/data SM_IMAGES_DIR=" .. tmp .. "/images "
    run.must(string.format("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes " ..
      "-keyout key.pem -out cert.pem -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost " ..
      "-days 2 2>/dev/null && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key", tmp))
    snap = os.getenv("SM_TEST_HTTP_SNAPSHOT")
    if snap then return end
    local out, code, err = sh(env .. run.quote(run.bin) .. " lua " .. run.quote(run.root
      .. "/spec/support/http_snapshot.lua") .. " " .. tmp .. "/s")
    assert(code == 0, out .. err)
    snap = tmp .. "/s/snap"
  end)

  teardown(function() sh("rm -rf " .. run.quote(tmp)) end)

  local next_port = 0
  -- `sm daemon` in the background with TLS args; { pid=, port=, log=, url= } once /_health answers over TLS.
  local function start(args, cacert)
    next_port = next_port + 1
    local port = port_base + next_port
    local log = string.format("%s/daemon-%d.log", tmp, port)
    local pid = trim(sh(env .. "sh -c " .. run.quote("exec " .. run.quote(run.bin) .. " daemon --http-port "
      .. port .. " --snapshot " .. snap .. " --port 8080 --upstream-timeout 200 " .. args .. " >" .. log .. " 2>&1")
      .. " & echo $!"))
    finally(function() sh("kill " .. pid .. " 2>/dev/null; sleep 0.3; kill -9 " .. pid .. " 2>/dev/null") end)
    local d = { pid = pid, port = port, log = log, url = "https://127.0.0.1:" .. port }
    for _ = 1, 200 do
      local _, code = sh("curl -sf -o /dev/null --max-time 1 --cacert " .. cacert() .. " " .. d.url .. "/_health")
      if code == 0 then return d end
      sh("sleep 0.05")
    end
    error("the daemon did not answer /_health over TLS: " .. sh("cat " .. log))
  end

  local function get(url, cacert)
    local out = sh("curl -s --max-time 240 --cacert " .. cacert .. " -w '\\n%{http_code} %{size_download}' " .. url)
    local body, code, size = out:match("^(.*)\n(%d+) (%d+)$")
    return tonumber(code), body, tonumber(size)
  end

  it("--inbound-tls-cert/key: the guest's page, 1 MiB and /_health to curl --cacert", function()
    local cacert = tmp .. "/cert.pem"
    local d = start("--inbound-tls-cert " .. tmp .. "/cert.pem --inbound-tls-key " .. tmp .. "/key.pem",
      function() return cacert end)
    local code, body = get(d.url .. "/index.html", cacert)
    assert.equal(200, code, body .. sh("cat " .. d.log))
    assert.equal("hello-router\n", body)
    local bcode, _, size = get(d.url .. "/big", cacert)
    assert.equal(200, bcode)
    assert.equal(1048576, size)
    local hcode, health = get(d.url .. "/_health", cacert)
    assert.equal(200, hcode)
    assert.matches('"live":1', health, 1, true)
    -- keep-alive: two requests on one TLS connection, both proxied
    local two = sh("curl -s --max-time 60 --cacert " .. cacert .. " " .. d.url .. "/index.html " .. d.url .. "/index.html")
    assert.equal("hello-router\nhello-router\n", two)
    -- plain HTTP to the TLS port: a clear 400, at once
    local t0 = os.clock()
    local out = sh("curl -s --max-time 5 -w '\\n%{http_code} %{time_total}' http://127.0.0.1:" .. d.port .. "/index.html")
    local pbody, pcode, secs = out:match("^(.*)\n(%d+) ([%d.]+)$")
    assert.equal("400", pcode, out)
    assert.matches("this port speaks TLS", pbody, 1, true)
    assert.is_true(tonumber(secs) < 2, "answered in " .. secs .. " s")
    assert.is_true(os.clock() - t0 < 2)
  end)

  it("--inbound-tls-autogen: the page and /_health to curl --cacert with the generated certificate", function()
    local cacert = tmp .. "/state/sm/tls/cert.pem"
    local d = start("--inbound-tls-autogen", function() return cacert end)
    local code, body = get(d.url .. "/index.html", cacert)
    assert.equal(200, code, body .. sh("cat " .. d.log))
    assert.equal("hello-router\n", body)
    local lcode, lbody = get("https://localhost:" .. d.port .. "/index.html", cacert)
    assert.equal(200, lcode)
    assert.equal("hello-router\n", lbody)
    local hcode = get(d.url .. "/_health", cacert)
    assert.equal(200, hcode)
    local fp = trim(sh("openssl x509 -noout -fingerprint -sha256 -in " .. cacert)):match("=([%x:]+)")
    assert.matches("SHA-256 " .. fp, sh("cat " .. d.log), 1, true)
  end)

  it("sm run --detach --inbound-tls-autogen: ready over TLS, an https endpoint, the page, ps, --stop", function()
    run.must("python3 " .. run.root .. "/tests/oci/mkimage.py web " .. tmp .. "/web")
    local port = port_base + 50
    local sm = env .. " timeout 600 " .. run.quote(run.bin)
    local out, code, err = sh(sm .. " run --detach --memory 128 --ready-timeout-ms 180000 --http-port " .. port
      .. " --name webtls --inbound-tls-autogen oci-layout:" .. tmp .. "/web:1")
    finally(function() sh(sm .. " run --stop --http-port " .. port .. " --stop-grace 5") end)
    assert.equal(0, code, err)
    assert.equal("endpoint: https://127.0.0.1:" .. port .. "/\n", out)
    local cacert = tmp .. "/state/sm/tls/cert.pem"
    local pcode, body = get("https://127.0.0.1:" .. port .. "/", cacert)
    assert.equal(200, pcode)
    assert.matches("hello from the web image", body, 1, true)
    local ps = sh(sm .. " ps")
    assert.matches("https://127.0.0.1:" .. port .. "/", ps, 1, true)
    local scode
    out, scode, err = sh(sm .. " run --stop --http-port " .. port .. " --stop-grace 5")
    assert.equal(0, scode, err)
    local _, gone = sh("curl -s -o /dev/null --max-time 2 --cacert " .. cacert .. " https://127.0.0.1:" .. port .. "/")
    assert.is_true(gone ~= 0)
  end)

  it("a bad key/cert pair is a one-line startup error", function()
    local out, code, err = sh(env .. run.quote(run.bin) .. " daemon --http-port " .. (port_base + 99) .. " --snapshot " .. snap
      .. " --inbound-tls-cert " .. tmp .. "/cert.pem --inbound-tls-key " .. tmp .. "/other.key")
    assert.equal(1, code, out .. err)
    assert.is_true(run.one_line(err), err)
    assert.matches("other.key does not match the certificate " .. tmp .. "/cert.pem", err, 1, true)
  end)
end)
