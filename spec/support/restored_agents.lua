-- Must-show 5 of the agent issue, run inside sm:
--   sm lua spec/support/restored_agents.lua DIR N
-- Boots a VM with an agent socket and busybox httpd as its workload, opens a
-- proxied connection, snapshots the VM (it carries on), then restores the
-- snapshot N times at once, each with its own socket, and on every restored
-- VM runs an exec and a proxied HTTP GET, and checks that the connection
-- held open across the snapshot is gone in the guest.  DIR is a private (0700) scratch
-- directory.  Prints "key=value" lines; exit status 0 when all passed.
local core = require "sm.core"
local vm = require "sm.vm"

local dir, n = arg[1], tonumber(arg[2] or "3")
local function out(k, v) io.stdout:write(k, "=", tostring(v), "\n") io.stdout:flush() end

local function get(v, port)
  local s = v:connect(port, 60)
  assert(s:send("GET /index.html HTTP/1.0\r\n\r\n", 10))
  local parts = {}
  repeat
    local d = s:recv(65536, 60)
    parts[#parts + 1] = d
  until not d or d == ""
  s:close()
  local resp = table.concat(parts)
  return resp:match("^HTTP/1%.%d 200") ~= nil and resp:find("hello-http", 1, true) ~= nil
end

local src = vm.boot{ vsock_uds = dir .. "/src.sock", memory_mib = 128, console = "capture",
  argv = { "/bin/sh", "-c", "mkdir -p /www && echo hello-http > /www/index.html && exec httpd -f -p 8080 -h /www" } }
assert(src:wait_agent(240))
assert(src:wait_listener(8080, 120), "httpd did not listen")
-- open across the snapshot: the source keeps it, restored VMs get it reset
local held = src:connect(8080, 60)
local ok, err = src:snapshot(dir .. "/snap", 120)
out("snapshot", ok or err)
assert(held:send("GET /index.html HTTP/1.0\r\n\r\n", 10))
local d = held:recv(65536, 60)
out("held_after_snapshot", d and d:match("^HTTP/1%.%d 200") ~= nil)
held:close()
src:kill(9)
src:wait(30)

local vms, t0 = {}, core.sys.monotime()
for i = 1, n do
  vms[i] = vm.restore(dir .. "/snap", { vsock_uds = string.format("%s/r%d.sock", dir, i), cid = 3 + i,
    console = "capture" })
end
local passed = 0
for i, v in ipairs(vms) do
  local agent_ok = v:wait_agent(60)
  if i == 1 then out("first_agent_ms", string.format("%.0f", (core.sys.monotime() - t0) * 1000)) end
  local r = agent_ok and v:exec{ argv = { "/bin/sh", "-c", "echo restored-" .. i } }
  local exec_ok = r and r.code == 0 and r.stdout == "restored-" .. i .. "\n"
  local http_ok = agent_ok and get(v, 8080)
  -- the connection held across the snapshot was reset in this guest: the
  -- agent closed its TCP side, so nothing is established any more
  local tcp = agent_ok and v:exec{ argv = { "/bin/sh", "-c", "netstat -tn | grep -c ESTABLISHED" } }
  local reset_ok = tcp and tcp.stdout == "0\n"
  out("vm" .. i, string.format("agent=%s exec=%s http=%s held_reset=%s", agent_ok, exec_ok, http_ok, reset_ok))
  if exec_ok and http_ok and reset_ok then passed = passed + 1 end
end
for _, v in ipairs(vms) do v:kill(9) v:wait(30) end
out("restored_ok", passed)
return (ok and passed == n) and 0 or 1
