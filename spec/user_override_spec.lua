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
end)
