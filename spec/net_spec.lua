-- sm.core sockets that need no guest: TCP connect to a real server on the
-- host (busybox httpd), and its errors.
local run = require "support.run"

describe("core.net.tcp_connect", function()
  local tmp, port, pid

  setup(function()
    tmp = run.tmpdir("net")
    run.sh("{ mkdir " .. tmp .. "/www && echo hello-tcp > " .. tmp .. "/www/index.html; }")
    -- a port nothing else holds (other suites and engineers use this machine too)
    for i = 0, 19 do
      port = run.ports(1)
      local code, out = run.sh("busybox httpd -p 127.0.0.1:" .. port .. " -h " .. tmp .. "/www && sleep 0.3 && "
        .. "pgrep -n -f 'busybox httpd -p 127.0.0.1:" .. port .. " '")
      pid = code == 0 and out:match("%d+")
      if pid then break end
    end
    local f = assert(io.open(tmp .. "/get.lua", "w"))
    f:write([[
local core = require "sm.core"
local s, err = core.net.tcp_connect(arg[1], arg[2])
if not s then print("error=" .. err) return 1 end
assert(s:send("GET /index.html HTTP/1.0\r\n\r\n", 5))
local parts = {}
repeat local d = s:recv(65536, 5) parts[#parts + 1] = d until not d or d == ""
s:close()
io.write(table.concat(parts))
return 0
]])
    f:close()
  end)

  teardown(function()
    if pid then run.sh("kill " .. pid) end
    run.sh("rm -rf " .. run.quote(tmp))
  end)

  it("talks HTTP to a server on 127.0.0.1", function()
    local code, out, err = run.sm({ "lua", tmp .. "/get.lua", "127.0.0.1", tostring(port) })
    assert.equal(0, code, err)
    assert.matches("^HTTP/1%.%d 200", out)
    assert.matches("hello-tcp", out, 1, true)
  end)

  -- (an unknown host name is not tried: resolving one would send a DNS
  -- query off this machine, against the house rule for network tests)
  it("says why when nothing listens", function()
    local code, out = run.sm({ "lua", tmp .. "/get.lua", "127.0.0.1", "1" })
    assert.equal(1, code)
    assert.matches("error=127.0.0.1: Connection refused", out, 1, true)
  end)
end)
