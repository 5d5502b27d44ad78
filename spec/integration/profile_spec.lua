-- The guest profiler end to end (docs/profiling.md): `sm profile -- boot`
-- restores the boot snapshot, samples the guest and prints the report; a
-- busy loop in guest user mode must come out on top, a read(2)-heavy
-- workload must show named kernel functions.
local run = require "support.run"

local TIMEOUT = 900	-- a new boot snapshot (first VM test after a guest change) takes minutes here

local function profile_boot(out, argv)
  local a = { "profile", "--out", out, "--top", "10", "--", "boot", "--" }
  table.move(argv, 1, #argv, #a + 1, a)
  return run.sm(a, nil, "timeout " .. TIMEOUT)
end

-- The rows of the self table: { pct = n, samples = n, where = "..." }
local function self_rows(report)
  local rows, in_self = {}, false
  for line in report:gmatch("[^\n]*") do
    if line:match("^ +self%%") then in_self = true
    elseif line == "" and #rows > 0 then in_self = false
    elseif in_self then
      local pct, n, where = line:match("^ +([%d.]+) +(%d+)  (.+)$")
      if pct then rows[#rows + 1] = { pct = tonumber(pct), samples = tonumber(n), where = where } end
    end
  end
  return rows
end

describe("sm profile (real guest)", function()
  if run.skip_without_kvm(pending) then return end
  local tmp

  setup(function() tmp = run.tmpdir("profile") end)
  teardown(function() run.sh("rm -rf " .. run.quote(tmp)) end)

  -- the last file is the VM we asked for (an earlier one may be the boot
  -- snapshot's creation): report it alone
  local function last_report(out)
    local file = out
    for n = 2, 9 do
      local f = io.open(out .. "." .. n)
      if f then f:close() file = out .. "." .. n end
    end
    local code, rep, err = run.sm({ "profile", "report", "--top", "10", file })
    assert.equal(0, code, err)
    return rep, file
  end

  it("a busy loop in guest user mode is the top row, with the largest share", function()
    local out = tmp .. "/user.txt"
    local code, stdout, err = profile_boot(out,
      { "/bin/sh", "-c", "i=0; while [ $i -lt 3000000 ]; do i=$((i+1)); done; echo $i" })
    assert.equal(0, code, err)
    assert.equal("3000000\n", stdout)
    assert.matches("samples every 1000 us", err)		-- the report of `sm profile --`
    local rep, file = last_report(out)
    local head = io.open(file):read("l")
    assert.equal("sm-profile 1", head)
    local user = tonumber(rep:match("user ([%d.]+)%%"))
    local rows = self_rows(rep)
    assert.truthy(#rows > 0, rep)
    assert.matches("^%[user cr3=%x+%]$", rows[1].where, nil, false)
    assert.truthy(user > 30, rep)
    assert.truthy(rows[1].pct > 2 * (rows[2] and rows[2].pct or 0), rep)
  end)

  it("a read(2)-heavy workload shows named guest kernel functions", function()
    local out = tmp .. "/kernel.txt"
    local code, _, err = profile_boot(out, { "/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=1M", "count=20" })
    assert.equal(0, code, err)
    local rep = last_report(out)
    local kernel = tonumber(rep:match("kernel ([%d.]+)%%"))
    local rows = self_rows(rep)
    assert.truthy(kernel > 50, rep)
    assert.matches("^[%w_.]+$", rows[1].where, nil, false)	-- a System.map name, not an address
    -- /dev/zero's read clears the user buffer: that is where the time goes
    assert.matches("\n +[%d.]+ +%d+  [%w_]*clear_user[%w_]*\n", rep)
    assert.matches("read_zero", rep)			-- and its caller is on the stack
  end)
end)

-- One phase: a VM started with sampling off counts nothing until
-- vm:profile(true) (docs/profiling.md "One phase", vmm.md control commands).
describe("sm profile: sampling one phase (real guest)", function()
  if run.skip_without_kvm(pending) then return end

  it("SM_PROFILE_PAUSED=1: no samples without vm:profile(true); the busy loop with it", function()
    local tmp = run.tmpdir("profile-phase")
    local script = tmp .. "/phase.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
local vm = require "sm.vm"
local LOOP = { "/bin/sh", "-c", "i=0; while [ $i -lt 2000000 ]; do i=$((i+1)); done" }
local function run(on)
  local v = vm.boot{ console = "capture", argv = LOOP }
  if on then assert(v:profile(true)) end
  local r = v:wait(600)
  assert(r.status == "exit" and r.code == 0, r.message)
  print(vm.profiled[#vm.profiled])
end
run(false)
run(true)
]])
    f:close()
    local code, out, err = run.sm({ "lua", script }, nil, "SM_PROFILE=" .. run.quote(tmp .. "/p.txt") ..
      " SM_PROFILE_PAUSED=1 timeout " .. TIMEOUT)
    assert.equal(0, code, err)
    local off, on = out:match("([^\n]+)\n([^\n]+)\n$")
    local text_off = assert(io.open(off)):read("a")
    assert.matches("\nticks 0\nsamples 0\n", text_off)
    local text_on = assert(io.open(on)):read("a")
    assert.truthy(tonumber(text_on:match("\nsamples (%d+)\n")) > 100, text_on:sub(1, 200))
    local c2, rep = run.sm({ "profile", "report", "--top", "3", on })
    assert.equal(0, c2)
    assert.matches("%[user cr3=%x+%]", rep)
    run.sh("rm -rf " .. run.quote(tmp))
  end)
end)
