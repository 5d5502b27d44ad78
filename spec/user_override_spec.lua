-- A user's $XDG_CONFIG_HOME/sm/lua comes first on package.path (DESIGN §8):
-- dropping a module there replaces ours.
local run = require "support.run"

describe("user Lua overrides", function()
  it("replace a command from $XDG_CONFIG_HOME/sm/lua", function()
    local _, dir = run.sh("mktemp -d /tmp/sm-xdg.XXXXXX")
    dir = dir:gsub("\n", "")
    assert.equal(0, (run.sh("mkdir -p " .. dir .. "/sm/lua/sm/cmd")))
    local f = assert(io.open(dir .. "/sm/lua/sm/cmd/version.lua", "w"))
    f:write('return { summary = "mine", usage = "", run = function() io.write("user version\\n") return 3 end }\n')
    f:close()
    local code, out, err = run.sm({ "version" }, { XDG_CONFIG_HOME = dir })
    run.sh("rm -rf " .. dir)
    assert.equal(3, code, err)
    assert.equal("user version\n", out)
  end)

  -- docs/recipes.md §1: the bake pipeline is a module like any other; a
  -- user's sm/bake/steps.lua wrapping ours sees every step of a recipe
  it("replace the bake pipeline's steps module, wrapping ours", function()
    local _, dir = run.sh("mktemp -d /tmp/sm-xdg.XXXXXX")
    dir = dir:gsub("\n", "")
    assert.equal(0, (run.sh("mkdir -p " .. dir .. "/sm/lua/sm/bake")))
    local f = assert(io.open(dir .. "/sm/lua/sm/bake/steps.lua", "w"))
    f:write([[
local ours = dofile(require("sm.core").sys.paths().lua .. "/sm/bake/steps.lua")
local mine = setmetatable({}, { __index = ours })
function mine.describe(bake, rec)
  io.write("user steps: ", #bake, " step(s), first runs ", bake[1].run, "\n")
  os.exit(7)
end
return mine
]])
    f:close()
    f = assert(io.open(dir .. "/r.lua", "w"))
    f:write('return { image = "oci-layout:/nowhere/x:1", bake = { { run = "make" } } }\n')
    f:close()
    f = assert(io.open(dir .. "/key.lua", "w"))
    f:write([[
local r = require("sm.run").resolve({}, arg[1])[1]
require("sm.bake").key({ digest = "d", layers = {} }, { argv = {}, env = {} }, r)
]])
    f:close()
    local code, out, err = run.sm({ "lua", dir .. "/key.lua", dir .. "/r.lua" }, { XDG_CONFIG_HOME = dir })
    run.sh("rm -rf " .. dir)
    assert.equal(7, code, err)
    assert.equal("user steps: 1 step(s), first runs make\n", out)
  end)
end)
