-- The recipes in examples/ run as their comments say (docs/recipes.md),
-- against tests/oci/mkimage.py's web image (busybox httpd, as busybox:1.36
-- has) from a local OCI layout through SM_EXAMPLE_IMAGE.  Each example is
-- copied to a scratch directory first, so editing its files leaves the
-- repository alone.
local run = require "support.run"

local OCI = run.root .. "/tests/oci"
local T = " timeout 900 "
local tmp, env, base

local function sm(args)
  return run.sm(args, env, T)
end

local must = run.must

local function get(port, path, secs) return run.http_get(tmp, port, path, secs) end

local function detach(recipe, port)
  return sm({ "run", recipe, "--detach", "--http-port", tostring(port), "--ready-timeout-ms", "240000" })
end

local function stop(port) return sm({ "run", "--stop", "--http-port", tostring(port), "--stop-grace", "2" }) end

describe("examples/ (real VMs)", function()
  if run.skip_without_kvm(pending) then return end

  setup(function()
    tmp = run.tmpdir("examples")
    must("mkdir -m 700 " .. tmp .. "/xdg && cp -r " .. run.quote(run.root .. "/examples") .. " " .. tmp .. "/ex")
    must("python3 " .. OCI .. "/mkimage.py web " .. tmp .. "/web")
    env = { XDG_RUNTIME_DIR = tmp .. "/xdg", XDG_STATE_HOME = tmp .. "/state", XDG_DATA_HOME = tmp .. "/data",
      XDG_CONFIG_HOME = tmp .. "/config", SM_RUN_TRACE = "1", SM_BAKE_TIMEOUT = "300",
      SM_EXAMPLE_IMAGE = "oci-layout:" .. tmp .. "/web:1" }
    base = run.ports(20)
  end)

  teardown(function()
    for p = base, base + 3 do stop(p) end
    run.sh("pkill -9 -f " .. run.quote("[s]m-vmm.*" .. tmp) .. "; rm -rf " .. run.quote(tmp))
  end)

  it("static-site: serves the files it copies in; an edited file bakes again, an unchanged recipe does not", function()
    local recipe = tmp .. "/ex/static-site/recipe.lua"
    local code, out, err = detach(recipe, base)
    assert.are.equal(0, code, err)
    assert.matches("bake: no snapshot yet (static-site)", err, 1, true)
    assert.matches("bake: step 1 (" .. recipe .. ":16) copy public/ -> /www/", err, 1, true)
    local status, body = get(base, "/")
    assert.are.equal(200, status)
    assert.matches("copied into the guest by examples/static-site/recipe.lua", body, 1, true)
    status, body = get(base, "/css/site.css")
    assert.are.equal(200, status)
    assert.are.equal("h1 { font-family: sans-serif; }\n", body)
    assert.are.equal(0, stop(base))
    code, out, err = detach(recipe, base)			-- unchanged: no bake
    assert.are.equal(0, code, err)
    assert.matches("bake: skipped (snapshot static-site is up to date)", err, 1, true)
    assert.are.equal(0, stop(base))
    local f = assert(io.open(tmp .. "/ex/static-site/public/index.html", "w"))
    f:write("<h1>edited</h1>\n")
    f:close()
    code, out, err = detach(recipe, base)
    assert.are.equal(0, code, err)
    assert.matches("bake: copied file " .. tmp .. "/ex/static-site/public/ changed (static-site)", err, 1, true)
    status, body = get(base, "/")
    assert.are.equal("<h1>edited</h1>\n", body)
    assert.are.equal(0, stop(base))
  end)

  it("notes: a volume, after_restore writes what the workload serves, a Lua health check marks it healthy", function()
    local recipe = tmp .. "/ex/notes/recipe.lua"
    local p = base + 3
    local code, out, err = detach(recipe, p)
    assert.are.equal(0, code, err)
    local status, body = get(p, "/restores.txt")
    assert.are.equal(200, status)
    assert.matches("^%d+\n$", body)		-- one restore so far, written before the first client
    status, body = get(p, "/")
    assert.are.equal("<h1>notes</h1>\n", body)
    local healthy
    for _ = 1, 120 do
      local _, h = get(p, "/_health")
      healthy = h:find('"health":"healthy"', 1, true)
      if healthy then break end
      run.sh("sleep 1")
    end
    assert.truthy(healthy, "the Lua health check never passed")
    assert.are.equal(0, stop(p))
    code, out, err = detach(recipe, p)		-- the volume keeps what the first worker wrote
    assert.are.equal(0, code, err)
    status, body = get(p, "/restores.txt")
    assert.matches("^%d+\n%d+\n$", body)
    assert.are.equal(0, stop(p))
  end)

  it("two-services: one daemon serves both, each on its port; stopping it stops both", function()
    local recipe = tmp .. "/ex/two-services/recipe.lua"
    local p = base + 1
    local code, out, err = detach(recipe, p)
    assert.are.equal(0, code, err)
    assert.are.equal(string.format("endpoint: http://127.0.0.1:%d/\nendpoint: http://127.0.0.1:%d/\n", p, p + 1), out)
    local status, body = get(p, "/cgi-bin/time")		-- api: the first by name
    assert.are.equal(200, status)
    assert.matches('^{"service":"api","uptime_s":[%d.]+}\n$', body)
    status, body = get(p + 1, "/")
    assert.are.equal(200, status)
    assert.are.equal("<h1>edited</h1>\n", body)		-- the site copies static-site/public/, edited above
    code, out = sm({ "ps", "--format", "json" })
    local rows = require("cjson").decode(out)
    assert.are.equal(2, #rows)
    assert.are.equal(rows[1].pid, rows[2].pid)
    assert.are.same({ "api", "site" }, { rows[1].snapshot, rows[2].snapshot })
    assert.are.equal(0, stop(p + 1))
    code, out = sm({ "ps", "--format", "json" })
    assert.are.equal("[]\n", out)
    local _, left = run.sh("{ pgrep -f " .. run.quote("[s]m-vmm.*" .. tmp) .. "; true; }")
    assert.are.equal("", left)
  end)
end)
