-- The agent protocol's one codec seen from Lua (docs/agent-protocol.md):
-- sm.core's binding of src/net/agent-proto.c produces the very bytes of
-- tests/vectors/agent-proto.txt that tests/unit/test_agent_proto.c checks
-- on the C side, and refuses bad requests with nil, "what: why", errno.
local t = require "support.run"

local tmp
setup(function() tmp = t.tmpdir("agent-codec") end)
teardown(function() t.sh("rm -rf " .. tmp) end)

local function sm_lua(src)
  local path = tmp .. "/s.lua"
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
  return t.sm({ "lua", path }, { SM_ROOT = t.root })
end

describe("core.agent_* (the C codec)", function()
  it("encodes the shared vectors byte for byte", function()
    local rc, out, err = sm_lua([[
      local core = require "sm.core"
      local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
      local want = {}
      for line in io.lines(os.getenv("SM_ROOT") .. "/tests/vectors/agent-proto.txt") do
        local name, h = line:match("^([%w%-]+) (%x+)$")
        if name then want[name] = h end
      end
      local agent = require "sm.agent"
      assert(hex(agent.encode_exec{ argv = { "/bin/echo", "hi there" }, env = { A = "b" }, cwd = "/tmp",
        user = "nobody", tty = true, rows = 40, cols = 120 }) == want["exec-tty"], "exec-tty")
      assert(hex(agent.encode_exec{ argv = { "true" } }) == want["exec-plain"], "exec-plain")
      assert(hex(agent.frame(agent.types.PING)) == want.ping, "ping")
      print("ok")]])
    assert.are.equal(0, rc, err)
    assert.are.equal("ok\n", out)
  end)

  it("fails each bad request with nil, 'subject: why', errno", function()
    local rc, out, err = sm_lua([[
      local core = require "sm.core"
      local function show(...) print(select("#", ...), ...) end
      show(core.agent_exec_frame{ argv = {} })
      show(core.agent_exec_frame{ argv = { "a\0b" } })
      show(core.agent_exec_frame{ argv = { 1 } })
      local many = {}
      for i = 1, 257 do many[i] = "x" end
      show(core.agent_exec_frame{ argv = many })
      show(core.agent_exec_frame{ argv = { string.rep("x", 70000) } })
      show(core.agent_frame(35, string.rep("x", 65537)))
      show(core.agent_header("\2\1\0\0\0\0\0\0"))
      show(core.agent_header("short"))
      show(core.agent_header(core.agent_frame(35, "xyz"):sub(1, 8)))]])
    assert.are.equal(0, rc, err)
    assert.are.equal(table.concat({
      "3\tnil\texec: empty argv\t22",
      "3\tnil\texec: arguments cannot contain NUL bytes\t22",
      "3\tnil\texec: argv, env, cwd and user must be strings\t22",
      "3\tnil\texec: at most 256 arguments and 256 environment entries\t22",
      "3\tnil\texec: the request is over 64 KiB\t90",
      "3\tnil\tagent frame: payload over 64 KiB\t90",
      "3\tnil\tagent frame: unsupported protocol version\t71",
      "3\tnil\tagent frame: short header\t71",
      "2\t35\t3", "" }, "\n"), out)
  end)
end)
