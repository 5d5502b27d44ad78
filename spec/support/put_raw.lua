-- Integration helper run inside sm (`sm lua spec/support/put_raw.lua NAME`):
-- frames the host side would never send, written straight to the agent of
-- the detached VM NAME (docs/agent-protocol.md §PUT), and what it answers.
-- Prints "key=answer" lines; the spec checks them.
local core = require "sm.core"
local agent = require "sm.agent"
local vm = require "sm.vm"

local v = assert(vm.attach(arg[1]))
local uds, T = v.opts.vsock_uds, agent.types
local function out(k, val) io.stdout:write(k, "=", tostring(val):gsub("\n", " "), "\n") io.stdout:flush() end

-- A PUT entry built by hand (the C encoder refuses bad ones).
local function entry(kind, path, target)
  return agent.frame(T.PUT, string.pack("<BBI2i8zzz", kind, 0, 420, 0, path, "", target or ""))
end

-- Sends frames, returns the reply: "OK <n>" | "ERROR <msg>" | the receive error.
local function send(...)
  local s = assert(core.net.vsock_connect(uds, agent.PORT, 10))
  for _, f in ipairs({ ... }) do s:send(f, 10) end
  local t, p = agent.read_frame(s, 30)
  s:close()
  if t == T.OK then return "OK " .. string.unpack("<I4", p) end
  if t == T.ERROR then return "ERROR " .. p end
  return "NONE " .. tostring(p)
end

out("dotdot", send(entry(1, "/tmp/../etc/x")))
out("relative", send(entry(1, "tmp/x")))
out("data_first", send(agent.frame(T.DATA, "x")))
out("data_after_dir", send(entry(2, "/tmp/raw-d"), agent.frame(T.DATA, "x")))
out("unended", send(entry(1, "/tmp/raw-a"), agent.frame(T.DATA, "x"), agent.frame(T.DONE)))
out("nolinktarget", send(entry(3, "/tmp/raw-l")))
out("ok", send(entry(1, "/tmp/raw-b"), agent.frame(T.DATA, "hi"), agent.frame(T.DATA), agent.frame(T.DONE)))
-- the host hangs up in the middle of a file: nothing at the path, no temporary
local s = assert(core.net.vsock_connect(uds, agent.PORT, 10))
s:send(entry(1, "/tmp/raw-cut/f") .. agent.frame(T.DATA, "half"), 10)
core.sys.sleep(0.5)
s:close()
core.sys.sleep(0.5)
local r = v:exec{ argv = { "/bin/sh", "-c", "ls -a /tmp/raw-cut | tr '\\n' ' '; cat /tmp/raw-b; echo; test -e /tmp/raw-a || echo no-a" } }
out("after", r.stdout)
return 0
