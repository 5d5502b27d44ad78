-- GET a page from a server inside a detached guest, through the agent's
-- port proxy (no network device needed):
--   sm boot --detach --name web -- /bin/sh -c 'mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www'
--   sm lua examples/http_get.lua web 8080 /index.html
local vm = require "sm.vm"

local name, port, path = arg[1], tonumber(arg[2] or "80"), arg[3] or "/"
if not name then
  io.stderr:write("usage: sm lua examples/http_get.lua NAME [PORT] [PATH]\n")
  return 2
end
local v = assert(vm.attach(name))
assert(v:wait_listener(port, 60), "nothing listens on guest port " .. port)
local s = v:connect(port, 30)
assert(s:send(string.format("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path), 10))
local parts = {}
repeat
  local d = s:recv(65536, 30)
  parts[#parts + 1] = d
until not d or d == ""
s:close()
local resp = table.concat(parts)
io.stdout:write(resp)
return resp:match("^HTTP/1%.%d 2") and 0 or 1
