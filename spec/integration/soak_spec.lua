-- The short soak (issue 13; `make soak` is the long one): tests/load/soak.lua
-- at c=64 for 10 s through the router to a restored worker, loopback
-- only.  It asserts what the script checks: no non-2xx, no socket error,
-- the daemon's fds and RSS back at their baseline.  Throughput is printed,
-- never asserted (a guest here answers a few requests a second).
local run = require "support.run"

describe("the daemon under load (short soak)", function()
  if run.skip_without_kvm(pending) then return end

  it("wrk -c64 -d10s: every answer 2xx, no socket error, fds and RSS back to baseline", function()
    local snap = os.getenv("SM_TEST_HTTP_SNAPSHOT")
    local args = { "lua", run.root .. "/tests/load/soak.lua", "-c", "64", "-d", "10" }
    if snap then args[#args + 1] = "--snapshot" args[#args + 1] = snap end
    local code, out, err = run.sm(args, nil, "timeout 1200")
    print((out:gsub("soak: requests=[^\n]*\n", "")))
    assert.equal(0, code, out .. err)
    local r = out:match("soak: requests=[^\n]*")
    assert.is_truthy(r, out)
    assert.matches("non2xx=0 errors=0", r, 1, true)
    assert.matches("result=pass", r, 1, true)
    assert.is_true(tonumber(r:match("requests=(%d+)")) > 0, r)
  end)
end)
