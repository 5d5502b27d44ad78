-- spec/support/workload_snapshot.lua (loaded with dofile by the `sm lua`
-- helpers that make test snapshots): boot a guest running the shell
-- script, wait until something listens on 8080, snapshot it to DIR/snap
-- with the workload running, and return that path.
local vm = require "sm.vm"

return function(dir, script)
  local src = vm.boot{ vsock_uds = dir .. "/src.sock", memory_mib = 128, console = "capture",
    argv = { "/bin/sh", "-c", script } }
  assert(src:wait_agent(240))
  assert(src:wait_listener(8080, 300), "httpd did not listen")
  local ok, err = src:snapshot(dir .. "/snap", 120)
  src:kill(9)
  src:wait(30)
  assert(ok, "snapshot: " .. tostring(err))
  return dir .. "/snap"
end
