-- An image built from a real distribution's root filesystem bakes and
-- serves (issue 11): Debian bookworm minbase + nginx-light, made by
-- mmdebstrap from this machine's Debian mirror (tests/oci/mkdebian.sh,
-- cached per machine), run with the real CLI from its OCI layout:
-- Debian's own nginx as root with www-data workers, its access log linked
-- to /dev/stdout as Docker's nginx image does.  docs/run.md is the
-- reference.  One bake; the boot snapshot is shared with the other suites.
local run = require "support.run"
local cjson = require "cjson"

local T = " timeout 900 "
local tmp, env, layout, port

local function sm(args)
  return run.sm(args, env, T)
end

local function get(path)
  local _, out = run.sh(string.format("curl -s -m 60 -o %s/body -w '%%{http_code}' http://127.0.0.1:%d%s", tmp, port,
    path or "/"))
  local f = io.open(tmp .. "/body")
  local body = f and f:read("a") or ""
  if f then f:close() end
  return tonumber(out), body
end

local function vmms()
  local _, out = run.sh("{ pgrep -f " .. run.quote("[s]m-vmm.*" .. tmp) .. "; true; }")
  return out
end

describe("sm run (a Debian image: minbase + nginx, from mmdebstrap)", function()
  if run.skip_without_kvm(pending) then return end

  setup(function()
    tmp = run.tmpdir("debian")
    assert(run.sh("mkdir -m 700 " .. tmp .. "/xdg") == 0)
    env = { XDG_RUNTIME_DIR = tmp .. "/xdg", XDG_STATE_HOME = tmp .. "/state", XDG_DATA_HOME = tmp .. "/data",
      SM_IMAGES_DIR = tmp .. "/images", SM_RUN_TRACE = "1", SM_BAKE_TIMEOUT = "600" }
    -- built once per machine (mmdebstrap from the mirror), then cached; a
    -- mirror it cannot reach fails here, naming the mirror
    local code, out, err = run.sh("timeout 1200 " .. run.root .. "/tests/oci/mkdebian.sh")
    assert(code == 0, "tests/oci/mkdebian.sh failed (" .. tostring(code) .. "):\n" .. err)
    io.stderr:write("# ", (err:gsub("\n+$", ""):gsub("\n", "\n# ")), "\n")
    layout = out:match("([^\n]+)\n?$")
    port = run.ports(1)
  end)

  teardown(function()
    if not tmp then return end
    run.sm({ "run", "--stop", "--http-port", tostring(port), "--stop-grace", "5" }, env, " timeout 60 ")
    -- "[s]": else pkill matches (and kills) this very shell, and rm never runs
    run.sh("pkill -9 -f " .. run.quote("[s]m-vmm.*" .. tmp) .. "; rm -rf " .. run.quote(tmp))
  end)

  it("bakes and serves Debian's nginx: the page, exec in the image, the access log in sm logs; --stop leaves no VMM", function()
    local code, out, err = sm({ "run", "--detach", "--name", "debian", "--memory", "128", "--ready-timeout-ms", "600000",
      "--http-port", tostring(port), "oci-layout:" .. layout .. ":1" })
    io.stderr:write("# ", (err:gsub("\n+$", ""):gsub("\n", "\n# ")), "\n")
    assert.are.equal(0, code, err)
    assert.are.equal("endpoint: http://127.0.0.1:" .. port .. "/\n", out)
    local status, body = get("/")
    assert.are.equal(200, status)
    assert.are.equal("<h1>hello from debian nginx</h1>\n", body)
    status = get("/nope")
    assert.are.equal(404, status)		-- nginx's own answer, through the edge
    code, out, err = sm({ "exec", tostring(port), "--", "cat", "/etc/debian_version" })
    assert.are.equal(0, code, err)
    assert.matches("^12%.%d+\n$", out)
    -- one exec for the rest (each guest fork+exec of a dynamic binary costs
    -- seconds where guest kernel mode is emulated):
    -- * the runtime's /etc/hosts and /etc/hostname (the image has none, as
    --   Docker's debian images): localhost and the hostname (the snapshot's
    --   name) resolve;
    -- * /dev/stdout, /dev/fd and friends exist (OCI runtime spec): bash's
    --   <(...), a write to /dev/stderr, nginx's logs linked to /dev/stdout;
    -- * the master runs as root, its worker as www-data (Debian's nginx.conf)
    code, out, err = sm({ "exec", tostring(port), "--", "bash", "-c", [[
      getent hosts localhost debian; cat /etc/hostname
      readlink /dev/stdout /dev/fd; cat <(echo subst) >/dev/stderr
      cd /proc && stat -c %U $(for p in [0-9]*; do read -r c 2>/dev/null <$p/comm && [ "$c" = nginx ] && echo $p; done) | sort]] })
    assert.are.equal(0, code, err)
    assert.matches("^[%x:.]+%s+localhost[^\n]*\n127%.0%.1%.1%s+debian\ndebian\n", out)	-- (::1 or 127.0.0.1)
    assert.matches("\n/proc/self/fd/1\n/proc/self/fd\nroot\nwww%-data\n$", out)
    assert.are.equal("subst\n", err)
    code, out = sm({ "logs", tostring(port) })
    assert.are.equal(0, code)
    assert.matches('"GET / HTTP/1.1" 200', out, 1, true)
    assert.matches('"GET /nope HTTP/1.1" 404', out, 1, true)
    code, out = sm({ "images", "--format", "json" })
    assert.are.equal(80, math.tointeger(cjson.decode(out)[1].port))	-- the image's ExposedPorts
    code, _, err = sm({ "run", "--stop", "--http-port", tostring(port), "--stop-grace", "10" })
    assert.are.equal(0, code, err)
    assert.are.equal("", vmms())
    assert.is_nil(io.open(tmp .. "/state/sm/router-" .. port .. ".pid"))
  end)
end)
