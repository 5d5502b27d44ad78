-- sm.core.loop.stats: the loop thread's CPU inside Lua callbacks, which
-- bench/policy.lua takes off the edge's CPU to see the router's own.
local run = require "support.run"

describe("core.loop.stats", function()
  it("counts the CPU time and the number of Lua callbacks the loop ran", function()
    local tmp = run.tmpdir("loop")
    local f = assert(io.open(tmp .. "/stats.lua", "w"))
    f:write([[
local core = require "sm.core"
local before = core.loop.stats()
local fired = 0
core.loop.timer(1, function()
  fired = fired + 1
  local t = core.sys.monotime()
  while core.sys.monotime() - t < 0.05 do end   -- 50 ms on the CPU, inside a callback
end)
core.loop.timer(5, function() fired = fired + 1 end)
assert(core.loop.run())
local after = core.loop.stats()
print(string.format("fired=%d calls=%d cpu_ms=%.1f", fired, after.lua_calls - before.lua_calls,
  (after.lua_cpu_ns - before.lua_cpu_ns) / 1e6))
]])
    f:close()
    local code, out, err = run.sm({ "lua", tmp .. "/stats.lua" })
    run.sh("rm -rf " .. run.quote(tmp))
    assert.equal(0, code, err)
    local fired, calls, ms = out:match("fired=(%d+) calls=(%d+) cpu_ms=([%d.]+)")
    assert.equal("2", fired, out)
    assert.equal("2", calls, out)
    assert.is_true(tonumber(ms) >= 40 and tonumber(ms) < 1000, out)
  end)
end)
