-- Recipes without KVM: the loader's checks and messages, docs/recipes.md
-- against the fields the loader accepts, flags over fields, the default
-- recipe and its user override, services' ports, and what makes a recipe
-- bake again (the key's parts and the copied files' hashes).
-- docs/recipes.md is the reference.
local t = require "support.run"

local tmp, env
setup(function()
  tmp = t.tmpdir("recipe")
  env = { XDG_STATE_HOME = tmp .. "/state", XDG_DATA_HOME = tmp .. "/data", SM_CACHE_DIR = tmp .. "/cache",
    XDG_CONFIG_HOME = tmp .. "/config", SM_HTTP_PORT = "" }
end)
teardown(function() t.sh("rm -rf " .. tmp) end)

local function write(name, text)
  local path = tmp .. "/" .. name
  t.sh("mkdir -p " .. t.quote(path:match("^(.*)/")))
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

-- Runs Lua in sm's own interpreter (sm.core and all); its stdout.
local function lua(code)
  local script = write("script.lua", code)
  local rc, out, err = t.sm({ "lua", script }, env)
  assert.are.equal(0, rc, err)
  return out
end

describe("recipe errors (§1): one line, the recipe path and line, exit 2", function()
  local cases = {
    { "unknown.lua", 'return {\n  image = "x",\n  memroy = 512,\n}\n',
      "^sm run: recipe [^\n]*unknown%.lua:3: field 'memroy': unknown field — did you mean 'memory'%?" },
    { "type.lua", 'return {\n  image = "x",\n  workers = {\n    max = "two",\n  },\n}\n',
      "^sm run: recipe [^\n]*type%.lua:4: field 'workers%.max': want a whole number 1%.%.64, got \"two\"" },
    { "range.lua", 'return { image = "x",\n memory = 10 }\n',
      "^sm run: recipe [^\n]*range%.lua:2: field 'memory': want 64%.%.16384, got 10" },
    { "noimage.lua", '-- no image\nreturn { memory = 128 }\n',
      "^sm run: recipe [^\n]*noimage%.lua:2: field 'image': missing" },
    { "syntax.lua", 'return {\n  image = "x"\n  port = 80,\n}\n',
      "^sm run: recipe [^\n]*syntax%.lua:3: syntax error: '}' expected" },
    { "raises.lua", 'local x = nil\nreturn { image = x.y }\n',
      "^sm run: recipe [^\n]*raises%.lua:2: attempt to index" },
    { "notable.lua", 'return "nginx"\n',
      "^sm run: recipe [^\n]*notable%.lua: must return a table %(got string%)" },
    { "twoverbs.lua", 'return { image = "x",\n bake = {\n  { run = "a", user = "b" },\n } }\n',
      "^sm run: recipe [^\n]*twoverbs%.lua:2: field 'bake%[1%]': want exactly one of run, copy, env, workdir, user" },
    { "stepfield.lua", 'return { image = "x", bake = {\n { run = "true" },\n { copy = "a", too = "/b" },\n} }\n',
      "^sm run: recipe [^\n]*stepfield%.lua:3: field 'bake%[2%]%.too': unknown field — did you mean 'to'%?" },
    { "nocopyto.lua", 'return { image = "x", bake = {\n { copy = "a" },\n} }\n',
      "^sm run: recipe [^\n]*nocopyto%.lua:2: field 'bake%[1%]': copy needs `to" },
    { "snap.lua", 'return { image = "x",\n snapshot = "later" }\n',
      "^sm run: recipe [^\n]*snap%.lua:2: field 'snapshot': want \"listening\", \"ready\" or a function" },
    { "health.lua", 'return { image = "x",\n health = { check = "http", intervall = 1 } }\n',
      "^sm run: recipe [^\n]*health%.lua:2: field 'health%.intervall': unknown field — did you mean 'interval'%?" },
    { "svcname.lua", 'return { image = "x", services = {\n ["a b"] = {},\n} }\n',
      "^sm run: recipe [^\n]*svcname%.lua: field 'services': service names are letters" },
    { "svcfield.lua", 'return { services = {\n web = {\n  image = "x",\n  vcpu = 2,\n },\n} }\n',
      "^sm run: recipe [^\n]*svcfield%.lua:4: field 'services%.web%.vcpu': unknown field — did you mean 'vcpus'%?" },
    { "egress.lua", 'return { image = "x",\n egress = { policy = "deny_private", during_bake = "yes" } }\n',
      "^sm run: recipe [^\n]*egress%.lua:2: field 'egress%.during_bake': want true or false" },
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      local path = write(c[1], c[2])
      local rc, out, err = t.sm({ "run", path }, env)
      assert.are.equal(2, rc, out .. err)
      assert.matches(c[3], err)
      assert.are.equal(1, select(2, err:gsub("\n", "")), err)   -- one line
      assert.are.equal("", out)
    end)
  end

  it("a missing recipe file is one line too", function()
    local rc, _, err = t.sm({ "run", tmp .. "/nope.lua" }, env)
    assert.are.equal(2, rc)
    assert.matches("^sm run: recipe [^\n]*nope%.lua: No such file or directory — give the path of a %.lua recipe\n$", err)
  end)
end)

describe("docs/recipes.md §2", function()
  it("lists exactly the fields the loader accepts", function()
    local recipe = require "sm.recipe"
    local f = assert(io.open(t.root .. "/docs/recipes.md"))
    local doc = f:read("a")
    f:close()
    local section = assert(doc:match("\n## 2%. Field reference\n(.-)\n## "))
    local documented = {}
    for name in section:gmatch("\n| `([%w_.]+)` |") do documented[#documented + 1] = name end
    table.sort(documented)
    assert.are.same(recipe.all_fields(), documented)
  end)
end)

describe("recipe fields and flags (§1)", function()
  it("flags override fields, env adds after the recipe's, relative paths are the recipe's", function()
    local path = write("sub/app.lua", [[
return {
  image = "oci-layout:/nowhere/app:1",
  memory = 512, vcpus = 2, workers = { max = 1, idle_timeout = 7 },
  env = { B = "2", A = 1 }, cmd = "echo hi", hostname = "app",
  volumes = { "./data.img:/data" }, snapshot = "ready",
}
]])
    local out = lua(string.format([[
local run = require "sm.run"
local list = run.resolve({ memory = 128, env = { "A=3" }, http_port = 9001 }, %q)
local r = list[1]
print(#list, r.image, r.memory_mib, r.vcpus, r.workers, r.idle_timeout, r.http_port, r.hostname)
print(table.concat(r.env, " "), table.concat(r.cmd, "|"), r.volumes[1].path, r.volumes[1].guest)
print(r.recipe.snapshot, r.recipe.path == %q)
]], path, path))
    assert.are.equal(table.concat({
      "1\toci-layout:/nowhere/app:1\t128\t2\t1\t7\t9001\tapp",
      "A=1 B=2 A=3\t/bin/sh|-c|echo hi\t" .. tmp .. "/sub/data.img\t/data",
      "ready\ttrue", "" }, "\n"), out)
  end)

  it("`sm run IMAGE` runs the default recipe; the user's default recipe replaces it", function()
    local code = [[
local r = require("sm.run").resolve({}, "busybox:1")[1]
print(r.image, r.memory_mib, require("sm.bake").point(r), r.restart, require("sm.recipe").default_path():match("[^/]+/[^/]+$"))
]]
    assert.are.equal("busybox:1\t256\tlistening\tno\trecipes/default.lua\n", lua(code))
    -- with a volume the default recipe's snapshot is taken ready
    assert.are.equal("ready\n", lua('print(require("sm.bake").point(require("sm.run").resolve({ volume = { "d:/data" } }, "busybox:1")[1]))'))
    write("config/sm/recipes/default.lua", 'local image = ...\nreturn { image = image, memory = 640, snapshot = "ready" }\n')
    assert.are.equal("busybox:1\t640\tready\tno\trecipes/default.lua\n", lua(code))
    t.sh("rm -rf " .. tmp .. "/config/sm/recipes")
  end)

  it("services: one option set each, in name order; ports follow the first", function()
    local path = write("two.lua", [[
return {
  memory = 128,
  services = {
    web = { image = "a:1" },
    api = { image = "b:1", memory = 256, http_port = 9100 },
    zed = { image = "c:1" },
  },
}
]])
    local out = lua(string.format([[
for _, r in ipairs(require("sm.run").resolve({ http_port = 9000 }, %q)) do
  print(r.service, r.image, r.name, r.memory_mib, r.http_port)
end
]], path))
    assert.are.equal("api\tb:1\tapi\t256\t9000\nweb\ta:1\tweb\t128\t9001\nzed\tc:1\tzed\t128\t9002\n", out)
  end)
end)

describe("the bake key and copied files (§3)", function()
  it("steps and the snapshot point are in the key; a copied file's content and mode, not its mtime, rebake", function()
    write("ctx/site/index.html", "one\n")
    write("ctx/site/sub/a.txt", "a\n")
    local out = lua(string.format([[
local steps = require "sm.bake.steps"
local bake = require "sm.bake"
local img = { digest = "sha256:00", layers = {}, config = {} }
local function key(b, snap)
  local r = { image = "x", memory_mib = 128, vcpus = 1, volumes = {}, env = {},
    recipe = { bake = b, snapshot = snap, dir = %q, src = "" } }
  return bake.key(img, bake.run_config({ digest = "d", layers = {}, config = { cmd = { "x" } } }, r), r)
end
print(key({ { run = "a" } }) == key({ { run = "a" } }), key({ { run = "a" } }) ~= key({ { run = "b" } }),
  key({ { run = "a" } }) ~= key({ { run = "a" } }, "ready"))
local inputs = steps.inputs({ { copy = "site", to = "/www/" } }, { dir = %q })
print(#inputs, inputs[1].src:match("ctx/site$") ~= nil, tostring(steps.changed(inputs)))
os.execute("touch -d '2001-01-01' %s/ctx/site/index.html")
print(tostring(steps.changed(inputs)))
os.execute("chmod 600 %s/ctx/site/sub/a.txt")
print(steps.changed(inputs) ~= nil)
os.execute("chmod 644 %s/ctx/site/sub/a.txt; echo two > %s/ctx/site/index.html")
print(steps.changed(inputs) ~= nil)
os.execute("echo one > %s/ctx/site/index.html; ln -s index.html %s/ctx/site/link")
print(steps.changed(inputs) ~= nil)
]], tmp .. "/ctx", tmp .. "/ctx", tmp, tmp, tmp, tmp, tmp, tmp))
    assert.are.equal("true\ttrue\ttrue\n1\ttrue\tnil\nnil\ntrue\ntrue\ntrue\n", out)
  end)
end)
