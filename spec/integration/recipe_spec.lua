-- Recipes with real VMs (docs/recipes.md): bake steps in the bake VM, the
-- stage snapshot the workload starts from, a failing step, a bake function,
-- a snapshot function, what bakes again and what does not, sm pull and
-- sm images.  The image is tests/oci/mkimage.py's web image (busybox httpd
-- serving /www on 8080) from a local OCI layout; bakes restore the boot
-- snapshot shared with the other suites.
local run = require "support.run"

local OCI = run.root .. "/tests/oci"
local T = " timeout 900 "
local tmp, env, base

local function sm(args, extra_env)
  local e = {}
  for k, v in pairs(env) do e[k] = v end
  for k, v in pairs(extra_env or {}) do e[k] = v end
  return run.sm(args, e, T)
end

local must = run.must

local function write(name, text)
  local path = tmp .. "/" .. name
  must("mkdir -p " .. run.quote(path:match("^(.*)/")))
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

local function get(port, path, secs) return run.http_get(tmp, port, path, secs) end

local function stop(port) return sm({ "run", "--stop", "--http-port", tostring(port), "--stop-grace", "2" }) end

local function exists(path) return run.sh("test -e " .. run.quote(path)) == 0 end

describe("recipes (real VMs)", function()
  if run.skip_without_kvm(pending) then return end

  setup(function()
    tmp = run.tmpdir("recipe-int")
    must("mkdir -m 700 " .. tmp .. "/xdg")
    env = { XDG_RUNTIME_DIR = tmp .. "/xdg", XDG_STATE_HOME = tmp .. "/state", XDG_DATA_HOME = tmp .. "/data",
      XDG_CONFIG_HOME = tmp .. "/config", SM_IMAGES_DIR = tmp .. "/images", SM_RUN_TRACE = "1", SM_BAKE_TIMEOUT = "300" }
    must("python3 " .. OCI .. "/mkimage.py web " .. tmp .. "/web")
    base = run.ports(20)
  end)

  teardown(function()
    for p = base, base + 3 do stop(p) end
    run.sh("pkill -9 -f " .. run.quote("[s]m-vmm.*" .. tmp) .. "; rm -rf " .. run.quote(tmp))
  end)

  it("runs env/workdir/run steps on top of the image; the workload sees them; unchanged → no bake", function()
    local recipe = write("site/site.lua", string.format([[
return {
  image = "oci-layout:%s/web:1",
  name = "site",
  memory = 128,
  env = { FROM_RECIPE = "yes" },
  bake = {
    { env = { STAGE = "baked" } },
    { run = "echo \"made by the recipe, $STAGE\" > /www/recipe.txt" },
    { workdir = "/tmp" },
    { run = { "sh", "-c", "pwd > /www/wd.txt; id -u >> /www/wd.txt" } },
  },
  -- the snapshot once the workload has written /www/info (web-start does, then serves)
  snapshot = function(vm) return vm:exec{ argv = { "test", "-s", "/www/info" } }.code == 0 end,
}
]], tmp))
    local code, out, err = sm({ "run", recipe, "--detach", "--http-port", tostring(base), "--ready-timeout-ms", "180000" })
    assert.are.equal(0, code, err)
    assert.are.equal("endpoint: http://127.0.0.1:" .. base .. "/\n", out)
    assert.matches("bake: no snapshot yet (site)", err, 1, true)
    assert.matches("bake: step 2 (" .. recipe .. ":8)", err, 1, true)
    assert.matches("bake: the snapshot function said yes", err, 1, true)
    local status, body = get(base, "/recipe.txt")
    assert.are.equal(200, status)
    assert.are.equal("made by the recipe, baked\n", body)
    status, body = get(base, "/wd.txt")
    assert.are.equal("/tmp\n0\n", body)
    -- Dockerfile semantics: ENV and WORKDIR reach the workload; the recipe's env too
    status, body = get(base, "/info")
    assert.matches("pwd:/tmp\n", body, 1, true)
    assert.matches("env:STAGE=baked\n", body, 1, true)
    assert.matches("env:FROM_RECIPE=yes\n", body, 1, true)
    assert.are.equal(0, stop(base))
    code, out, err = sm({ "pull", recipe })
    assert.are.equal(0, code, err)
    assert.matches("snapshot site: [^\n]+ %(up to date%)\n", out)
    assert.matches("bake: skipped (snapshot site is up to date)", err, 1, true)
    code, out = sm({ "images" })
    assert.matches("\nsite +oci%-layout:[^ ]+/web:1 +site%.lua ", out)
  end)

  it("a failing run step stops the bake with its output, exit code and file:line, and leaves no snapshot", function()
    local recipe = write("fail.lua", string.format([[
return {
  image = "oci-layout:%s/web:1",
  name = "failing",
  memory = 128,
  bake = {
    { run = "echo fine" },
    { run = "echo about to fail; echo on stderr >&2; exit 3" },
    { run = "echo never" },
  },
}
]], tmp))
    local code, out, err = sm({ "pull", recipe })
    assert.are.equal(1, code, out .. err)
    assert.matches("sm pull: baking oci%-layout:[^\n]+: step 2 %(" .. recipe:gsub("%p", "%%%0") .. ":7%) `echo about to fail; echo on stderr >&2; exit 3` exited 3:\nabout to fail\non stderr\n$", err)
    assert.is_nil(err:find("never", 1, true))
    assert.is_false(exists(tmp .. "/data/sm/snapshots/failing"))
    local _, left = run.sh("ls -A " .. tmp .. "/data/sm/snapshots")
    assert.are.equal("site\n", left)   -- no temporary directory either
  end)

  it("a bake function: b:exec returns any exit, b:run fails on one, at the ready point", function()
    local recipe = write("fn.lua", string.format([[
return {
  image = "oci-layout:%s/web:1",
  name = "fn",
  memory = 128,
  snapshot = "ready",
  bake = function(b)
    local r = b:exec{ argv = { "sh", "-c", "echo out; exit 5" } }
    assert(r.code == 5 and r.stdout == "out\n", "exec result")
    b.env[#b.env + 1] = "N=" .. r.code
    b:run("echo $N > /www/n.txt")
    if os.getenv("FAIL_BAKE") then error("stopped on purpose") end
  end,
}
]], tmp))
    local code, out, err = sm({ "pull", recipe }, { FAIL_BAKE = "1" })
    assert.are.equal(1, code, out .. err)
    assert.matches("sm pull: baking [^\n]+: the bake function failed: [^\n]*stopped on purpose\n$", err)
    code, out, err = sm({ "pull", recipe })
    assert.are.equal(0, code, err)
    assert.matches("snapshot fn: [^\n]+ %(baked%)\n", out)
    code, out, err = sm({ "run", recipe, "--detach", "--http-port", tostring(base + 1), "--ready-timeout-ms", "180000" })
    assert.are.equal(0, code, err)
    local status, body = get(base + 1, "/n.txt")
    assert.are.equal(200, status)
    assert.are.equal("5\n", body)
    assert.are.equal(0, stop(base + 1))
  end)
end)
