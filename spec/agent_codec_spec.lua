-- The agent protocol's one codec seen from Lua (docs/agent-protocol.md):
-- sm.core's binding of src/net/agent-proto.c produces the very bytes of
-- tests/vectors/agent-proto.txt that tests/unit/test_agent_proto.c checks
-- on the C side, and refuses bad requests with nil, "what: why", errno.
local t = require "support.run"

local tmp
setup(function() tmp = t.tmpdir("agent-codec") end)
teardown(function() t.sh("rm -rf " .. tmp) end)

local function sm_lua(src, env)
  local path = tmp .. "/s.lua"
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
  env = env or {}
  env.SM_ROOT = t.root
  return t.sm({ "lua", path }, env)
end

describe("core.agent (the C codec)", function()
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
      assert(hex(core.agent.put_frame{ kind = "file", path = "/etc/app.conf", owner = "app:app", mode = 420,
        mtime = 1700000000 }) == want["put-file"], "put-file")
      assert(hex(core.agent.put_frame{ kind = "dir", path = "/", mode = 493, keep = true }) == want["put-dir-keep"],
        "put-dir-keep")
      assert(hex(core.agent.put_frame{ kind = "symlink", path = "/usr/bin/vi", target = "busybox" })
        == want["put-symlink"], "put-symlink")
      assert(hex(agent.frame(agent.types.DATA, "hi")) == want.data, "data")
      assert(hex(agent.frame(agent.types.DATA)) == want["data-end"], "data-end")
      assert(hex(agent.frame(agent.types.DONE)) == want.done, "done")
      assert(agent.VERSION == 2 and core.agent.proto.VERSION == 2, "protocol version 2")
      print("ok")]])
    assert.are.equal(0, rc, err)
    assert.are.equal("ok\n", out)
  end)

  it("core.agent.put checks the host tree and the destination before it sends anything", function()
    local rc, out, err = sm_lua([[
      local core = require "sm.core"
      local dir = os.getenv("TMPD")
      os.execute("mkdir -p " .. dir .. "/t/d && mkfifo " .. dir .. "/t/d/p && touch " .. dir .. "/f")
      local l = assert(core.net.unix_listen(dir .. "/s"))
      local c = assert(core.net.unix_connect(dir .. "/s"))
      local function show(ok, msg, e) print(ok, (msg:gsub(dir:gsub("%p", "%%%0"), "D")), e) end
      show(core.agent.put(c, dir .. "/f", "relative"))
      show(core.agent.put(c, dir .. "/f", "/a//b"))
      show(core.agent.put(c, dir .. "/t", "/x"))
      show(core.agent.put(c, dir .. "/missing", "/x"))
      show(core.agent.put(c, dir .. "/f", "/x", { mode = -1 }))
      local a = l:accept(1)
      print(a:recv(100, 0.1))]], { TMPD = tmp })
    assert.are.equal(0, rc, err)
    assert.are.equal(table.concat({
      "nil\tcopy D/f: guest path relative: must be absolute\t22",
      "nil\tcopy D/f: /a//b: guest path has an empty component (// or a trailing /)\t22",
      "nil\tcopy D/t: D/t/d/p: is a FIFO; only regular files, directories and symlinks can be copied\t22",
      "nil\tcopy D/missing: D/missing: No such file or directory\t2",
      "nil\tcopy D/f: mode must be an integer 0..0o7777\t22",
      "nil\ttimeout", "" }, "\n"), out)	-- nothing was sent
  end)

  it("fails each bad request with nil, 'subject: why', errno", function()
    local rc, out, err = sm_lua([[
      local core = require "sm.core"
      local function show(...) print(select("#", ...), ...) end
      show(core.agent.exec_frame{ argv = {} })
      show(core.agent.exec_frame{ argv = { "a\0b" } })
      show(core.agent.exec_frame{ argv = { 1 } })
      local many = {}
      for i = 1, 257 do many[i] = "x" end
      show(core.agent.exec_frame{ argv = many })
      show(core.agent.exec_frame{ argv = { string.rep("x", 70000) } })
      show(core.agent.frame(35, string.rep("x", 65537)))
      show(core.agent.header("\2\1\0\0\0\0\0\0"))
      show(core.agent.header("short"))
      show(core.agent.header(core.agent.frame(35, "xyz"):sub(1, 8)))
      show(core.agent.put_frame{ kind = "file", path = "etc/x" })
      show(core.agent.put_frame{ kind = "file", path = "/etc/../x" })
      show(core.agent.put_frame{ kind = "symlink", path = "/x" })
      show(core.agent.put_frame{ kind = "file", path = "/x", mode = 8192 })
      show(core.agent.put_frame{ kind = "file" })]])
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
      "2\t35\t3",
      "3\tnil\tput: guest path must be absolute\t22",
      "3\tnil\tput: guest path has a . or .. component\t22",
      "3\tnil\tput: a symlink needs a target, and only a symlink has one\t22",
      "3\tnil\tput: mode has bits beyond 07777\t22",
      "3\tnil\tput: no path\t22", "" }, "\n"), out)
  end)
end)
