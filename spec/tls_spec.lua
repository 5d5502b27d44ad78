-- TLS at the edge without a guest (docs/tls.md): the flags, the startup
-- errors, --inbound-tls-autogen's files, and a real `sm daemon` answering
-- /_health over HTTPS to curl --cacert (loopback only).  The proxied page
-- over TLS with a real VM: spec/integration/tls_spec.lua.
local run = require "support.run"

local starts = 0

local function start_daemon(tmp, env, port, args)
  starts = starts + 1
  local cmd = { "env" }
  for k, v in pairs(env) do cmd[#cmd + 1] = k .. "=" .. run.quote(v) end
  table.move({ run.quote(run.bin), "daemon", "--snapshot", tmp .. "/snap", "--no-standby", "--http-port", tostring(port) },
    1, 7, #cmd + 1, cmd)
  for _, a in ipairs(args) do cmd[#cmd + 1] = run.quote(a) end
  local log = string.format("%s/daemon-%d-%d.log", tmp, port, starts)   -- its own: a stopping daemon may still write
  local _, pid = run.sh(table.concat(cmd, " ") .. " >" .. log .. " 2>&1 & echo $!")
  pid = assert(tonumber(pid:match("%d+")))
  for _ = 1, 100 do
    local f = io.open(log)
    local s = f and f:read("a") or ""
    if f then f:close() end
    if s:find("serving", 1, true) then return pid, s end
    os.execute("sleep 0.05")
  end
  error("the daemon did not start: " .. (io.open(log) and io.open(log):read("a") or ""))
end

local function stop(pid)
  os.execute("kill " .. pid .. "; for i in $(seq 50); do kill -0 " .. pid .. " 2>/dev/null || break; sleep 0.1; done")
end

local function curl(args)
  local code, out = run.sh("curl -sS -m 5 -w '\\n%{http_code}' " .. args)
  local body, status = out:match("^(.*)\n(%d+)$")
  return tonumber(status), body, code
end

describe("TLS at the edge (no guest needed)", function()
  local tmp, env

  setup(function()
    tmp = run.tmpdir("tls")
    env = { XDG_RUNTIME_DIR = tmp .. "/xdg", XDG_STATE_HOME = tmp .. "/state" }
    run.must("mkdir -m 700 " .. tmp .. "/xdg " .. tmp .. "/snap && touch " .. tmp .. "/snap/metadata.json")
    run.must(string.format("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes " ..
      "-keyout key.pem -out cert.pem -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -days 2 2>/dev/null && " ..
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.crt " ..
      "-subj /CN=other -days 2 2>/dev/null", tmp))
  end)
  teardown(function() run.sh("rm -rf " .. run.quote(tmp)) end)

  it("documents the flags in sm run --help and sm daemon --help", function()
    for _, cmd in ipairs({ "run", "daemon" }) do
      local _, usage = run.sm({ cmd, "--help" })
      for _, opt in ipairs({ "--inbound-tls-cert", "--inbound-tls-key", "--inbound-tls-autogen" }) do
        assert.matches(opt, usage, 1, true)
      end
    end
  end)

  it("refuses a bad pair at startup with one line naming the file and the fix", function()
    local cases = {
      { { "--inbound-tls-cert", tmp .. "/cert.pem", "--inbound-tls-key", tmp .. "/other.key" }, 1,
        "key " .. tmp .. "/other.key does not match the certificate " .. tmp .. "/cert.pem" },
      { { "--inbound-tls-cert", tmp .. "/missing.pem", "--inbound-tls-key", tmp .. "/key.pem" }, 1,
        "certificate " .. tmp .. "/missing.pem: cannot read it" },
      { { "--inbound-tls-cert", tmp .. "/key.pem", "--inbound-tls-key", tmp .. "/key.pem" }, 1, "not a PEM certificate" },
      { { "--inbound-tls-cert", tmp .. "/cert.pem", "--inbound-tls-key", tmp .. "/cert.pem" }, 1,
        "not an unencrypted PEM private key" },
      { { "--inbound-tls-cert", tmp .. "/cert.pem" }, 2, "--inbound-tls-cert needs --inbound-tls-key" },
      { { "--inbound-tls-autogen", "--inbound-tls-key", tmp .. "/key.pem" }, 2, "drop --inbound-tls-cert" },
    }
    for _, c in ipairs(cases) do
      local argv = { "daemon", "--snapshot", tmp .. "/snap", "--http-port", "24999" }
      table.move(c[1], 1, #c[1], #argv + 1, argv)
      local code, _, err = run.sm(argv, env)
      assert.equal(c[2], code, err)
      assert.is_true(run.one_line(err), err)
      assert.matches(c[3], err, 1, true)
    end
  end)

  it("serves /_health over HTTPS with --inbound-tls-cert/key; plain HTTP to it gets a 400 at once", function()
    local port = 25000 + math.random(0, 499)
    local pid = start_daemon(tmp, env, port, { "--inbound-tls-cert", tmp .. "/cert.pem", "--inbound-tls-key", tmp .. "/key.pem" })
    local status, body = curl(string.format("--cacert %s/cert.pem https://127.0.0.1:%d/_health", tmp, port))
    local t0 = os.time()
    local pstatus, pbody = curl(string.format("http://127.0.0.1:%d/_health", port))
    local elapsed = os.time() - t0
    local _, connect = run.sm({ "run", "--connect", "--http-port", tostring(port) }, env)
    local _, ps = run.sm({ "ps" }, env)
    local script = tmp .. "/ready.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
      local core, run = require "sm.core", require "sm.run"
      local port = tonumber(arg[1])
      print(run.wait_ready(port, "/_health", 3000, nil, core.tls.fingerprint(arg[2])))
      print(run.wait_ready(port, "/_health", 300, nil, "00:11:22"))
    ]])
    f:close()
    local _, ready = run.sm({ "lua", script, tostring(port), tmp .. "/cert.pem" }, env)
    stop(pid)
    assert.matches("^true\nnil\tTLS: the daemon's certificate is not the one it was started with", ready)
    assert.equal(200, status, body)
    assert.matches('^{"status":"ok","snapshot":"snap"', body)
    assert.equal(400, pstatus)
    assert.matches("this port speaks TLS", pbody, 1, true)
    assert.is_true(elapsed <= 2, "plain HTTP answered in " .. elapsed .. " s")
    assert.matches("endpoint: https://127.0.0.1:" .. port .. "/", connect, 1, true)
    assert.matches("https://127.0.0.1:" .. port .. "/", ps, 1, true)
  end)

  it("--inbound-tls-autogen: made once, 0600 in a 0700 directory, its fingerprint printed; curl --cacert trusts it", function()
    local port = 25500 + math.random(0, 499)
    local pid, log = start_daemon(tmp, env, port, { "--inbound-tls-autogen" })
    local dir = tmp .. "/state/sm/tls"
    local status, body = curl(string.format("--cacert %s/cert.pem https://127.0.0.1:%d/_health", dir, port))
    local lstatus = curl(string.format("--cacert %s/cert.pem https://localhost:%d/_health", dir, port))
    stop(pid)
    assert.equal(200, status, body)
    assert.equal(200, lstatus)
    local _, modes = run.sh(string.format("stat -c '%%a %%n' %s %s/cert.pem %s/key.pem", dir, dir, dir))
    assert.matches("^700 .*\n600 .*cert%.pem\n600 .*key%.pem\n$", modes)
    local _, fp = run.sh("openssl x509 -noout -fingerprint -sha256 -in " .. dir .. "/cert.pem")
    fp = fp:match("=([%x:]+)")
    assert.matches("made a self-signed TLS certificate", log, 1, true)
    assert.matches("SHA-256 " .. fp, log, 1, true)
    -- the second start reuses the pair
    pid, log = start_daemon(tmp, env, port, { "--inbound-tls-autogen" })
    stop(pid)
    assert.is_nil(log:find("made a self-signed", 1, true), log)
    assert.matches("TLS certificate " .. dir .. "/cert.pem (SHA-256 " .. fp .. ")", log, 1, true)
  end)

  it("recipe field tls: cert/key relative to the recipe, or autogen; flags replace it", function()
    local f = assert(io.open(tmp .. "/app.lua", "w"))
    f:write('return { image = "localhost:5000/x:1", tls = { cert = "./cert.pem", key = "key.pem" } }\n')
    f:close()
    local script = tmp .. "/resolve.lua"
    f = assert(io.open(script, "w"))
    f:write([[
      local run = require "sm.run"
      local r = run.resolve({}, arg[1])[1]
      print(r.tls.cert, r.tls.key, r.tls.autogen)
      r = run.resolve({ inbound_tls_autogen = true }, arg[1])[1]
      print(r.tls.cert, r.tls.autogen)
    ]])
    f:close()
    local code, out, err = run.sm({ "lua", script, tmp .. "/app.lua" }, env)
    assert.equal(0, code, err)
    assert.equal(string.format("%s/cert.pem\t%s/key.pem\tnil\n%s/state/sm/tls/cert.pem\ttrue\n", tmp, tmp, tmp), out)
  end)
end)
