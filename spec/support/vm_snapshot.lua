-- Run with `sm lua`: snapshot a running counter guest through vm:snapshot()
-- and keep it running; prints "ok SNAP_LAST AFTER_LAST" (the last value
-- printed before the snapshot call returned, and later).
local vm = require "sm.vm"
local dir = arg[1]
local v = vm.boot{ argv = { "/bin/sm-counter", "50" }, console = "capture" }
assert(v.proc:expect("3\n", 120), "the counter did not start")
local ok, err = v:snapshot(dir)
assert(ok, "vm:snapshot: " .. tostring(err))
local at = tonumber(v.proc:buffered():match("(%d+)\n$"))
assert(v.proc:expect("\n" .. (at + 3) .. "\n", 60), "the VM did not carry on after the snapshot")
v:kill(9)
v:wait(10)
print("ok " .. at)
