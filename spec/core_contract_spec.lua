-- The contract of sm.core (docs/lua-core.md §The failure rule,
-- lua/sm/errors.lua): a function that fails operationally returns
-- nil, "what: message", errno and never raises; a wrong argument type
-- raises "bad argument" as in Lua's own library.
--
-- CASES has an entry for every function and constant of every group: a
-- new one without an entry fails this spec.  Each failing case calls the
-- function with a bad but well-typed argument (a missing path, an absent
-- socket in a temp dir, a bad ref, a bad fd); functions that cannot fail
-- operationally say why in a word.  Network calls touch only loopback and
-- Unix sockets under the temp dir, and every call must return within 1 s.
--
-- busted has no sm.core, so this file runs twice: under busted (describe
-- is defined) it runs itself with `sm lua FILE TMPDIR`, which calls every
-- case and prints one TAP-like line per function; busted turns each line
-- into a test.

local BADFD = 4000		-- no fd of a fresh `sm lua`
local SLOW = 1.0		-- seconds any one call may take

-- The cases run inside sm (the `sm lua` half below); t.tmp is a private
-- directory holding a regular file t.file, t.sock (a listener nobody
-- serves) and t.peer (a connected socket whose other end is closed).
local function cases(core)
  local function nofail(why) return { nofail = why } end
  local const = { const = true }
  return {
    sys = {
      paths = nofail("table"), monotime = nofail("clock"), getpid = nofail("getpid"),
      emulating_host = nofail("probe"), errno = const, limits = const,
      sleep = { nofail = "nanosleep", wrong = function() return core.sys.sleep("soon") end },
      kvm_check = { fail = function(t) return core.sys.kvm_check(t.tmp .. "/no-kvm") end,
        wrong = function() return core.sys.kvm_check({}) end },
    },
    fs = {
      stat = { fail = function(t) return core.fs.stat(t.tmp .. "/missing") end,
        wrong = function() return core.fs.stat({}) end },
      lstat = { fail = function(t) return core.fs.lstat(t.tmp .. "/missing") end,
        wrong = function() return core.fs.lstat({}) end },
      readlink = { fail = function(t) return core.fs.readlink(t.file) end,	-- not a link: EINVAL
        wrong = function() return core.fs.readlink({}) end },
      realpath = { fail = function(t) return core.fs.realpath(t.tmp .. "/missing") end,
        wrong = function() return core.fs.realpath({}) end },
      access = { fail = function(t) return core.fs.access(t.tmp .. "/missing", "r") end,
        wrong = function() return core.fs.access({}) end },
      mkdir = { fail = function(t) return core.fs.mkdir(t.tmp .. "/no/parent") end,
        wrong = function() return core.fs.mkdir({}) end },
      mkdir_p = { fail = function(t) return core.fs.mkdir_p(t.file .. "/sub") end,
        wrong = function() return core.fs.mkdir_p({}) end },
      private_dir = { fail = function() return core.fs.private_dir("relative/dir") end,
        wrong = function() return core.fs.private_dir({}) end },
      readdir = { fail = function(t) return core.fs.readdir(t.tmp .. "/missing") end,
        wrong = function() return core.fs.readdir({}) end },
      rmtree = { fail = function(t) return core.fs.rmtree(t.file .. "/sub") end,	-- ENOTDIR
        wrong = function() return core.fs.rmtree({}) end },
      lock = { fail = function(t) return core.fs.lock(t.tmp .. "/no/dir/lock") end,
        wrong = function() return core.fs.lock({}) end },
    },
    digest = {
      sha256 = { nofail = "pure", wrong = function() return core.digest.sha256({}) end },
      sha256_file = { fail = function(t) return core.digest.sha256_file(t.tmp .. "/missing") end,
        wrong = function() return core.digest.sha256_file({}) end },
    },
    proc = {
      spawn = { fail = function(t) return core.proc.spawn({ t.tmp .. "/no-such-program" }) end,
        wrong = function() return core.proc.spawn("sh") end },
      kill = { fail = function() return core.proc.kill(0x7ffffffe, 0) end,	-- no such process
        wrong = function() return core.proc.kill("init") end },
    },
    tty = {
      isatty = { nofail = "predicate", wrong = function() return core.tty.isatty("stdin") end },
      raw = { fail = function() return core.tty.raw(BADFD) end, wrong = function() return core.tty.raw("x") end },
      restore = { fail = function() return core.tty.restore(BADFD, "not a saved state") end,
        wrong = function() return core.tty.restore(BADFD, {}) end },
      winsize = { fail = function() return core.tty.winsize(BADFD) end, wrong = function() return core.tty.winsize("x") end },
    },
    net = {
      unix_connect = { fail = function(t) return core.net.unix_connect(t.tmp .. "/absent.sock") end,
        wrong = function() return core.net.unix_connect({}) end },
      unix_listen = { fail = function(t) return core.net.unix_listen(t.tmp .. "/no/dir/l.sock") end,
        wrong = function() return core.net.unix_listen({}) end },
      tcp_connect = { fail = function() return core.net.tcp_connect("127.0.0.1", 1) end,	-- refused
        wrong = function() return core.net.tcp_connect({}, 1) end },
      -- the listener takes the connection and never answers CONNECT
      vsock_connect = { fail = function(t) return core.net.vsock_connect(t.sock, 52, 0.2) end,
        wrong = function() return core.net.vsock_connect({}, 52) end },
    },
    agent = {
      proto = const,
      frame = { fail = function() return core.agent.frame(256, "") end,
        wrong = function() return core.agent.frame("EXEC") end },
      exec_frame = { fail = function() return core.agent.exec_frame({ argv = {} }) end,
        wrong = function() return core.agent.exec_frame("true") end },
      put_frame = { fail = function() return core.agent.put_frame({ kind = "fifo", path = "/x" }) end,
        wrong = function() return core.agent.put_frame("file") end },
      header = { fail = function() return core.agent.header("short") end,
        wrong = function() return core.agent.header({}) end },
      exec = { fail = function(t) return core.agent.exec(t.peer, { timeout = 0.5 }) end,	-- the agent hung up
        wrong = function() return core.agent.exec("sock", {}) end },
      put = { fail = function(t) return core.agent.put(t.peer, t.tmp .. "/missing", "/dst") end,
        wrong = function() return core.agent.put("sock", "a", "b") end },
    },
    oci = {
      parse_ref = { fail = function() return core.oci.parse_ref("Not A Ref") end,
        wrong = function() return core.oci.parse_ref({}) end },
      -- refused before any connection (a registry that is down is retried for seconds)
      pull = { fail = function() return core.oci.pull("Not A Ref") end,
        wrong = function() return core.oci.pull({}) end },
      convert_layer = { fail = function(t) return core.oci.convert_layer(t.tmp .. "/missing.tar", t.tmp .. "/l.img") end,
        wrong = function() return core.oci.convert_layer({}, "out") end },
      -- fails only when the cache cannot be made: $SM_CACHE_DIR under a file, in a child
      cache_dir = { fail = function(t) return t.child("oci.cache_dir", { SM_CACHE_DIR = t.file .. "/cache" }) end },
    },
    loop = {
      run = nofail("callbacks"), stop = nofail("flag"), stats = nofail("counters"),
      timer = { nofail = "new-handle", wrong = function() return core.loop.timer("soon", print) end },
      watch_fd = { fail = function() return core.loop.watch_fd(BADFD, print, true) end,
        wrong = function() return core.loop.watch_fd(BADFD, "fn") end },
      read_lines = { fail = function() return core.loop.read_lines(BADFD, print) end,
        wrong = function() return core.loop.read_lines("fd", print) end },
      on_signal = { fail = function() return core.loop.on_signal(9999, print) end,
        wrong = function() return core.loop.on_signal("TERM", print) end },
    },
    router = {
      -- refused before any port is taken
      new = { fail = function() return core.router.new({ port = 1, tls_cert = "not a cert", tls_key = "nor a key" }) end,
        wrong = function() return core.router.new("8080") end },
    },
    tls = {
      check = { fail = function() return core.tls.check("not a cert", "nor a key") end,
        wrong = function() return core.tls.check({}, "") end },
      fingerprint = { fail = function() return core.tls.fingerprint("not a cert") end,
        wrong = function() return core.tls.fingerprint({}) end },
      generate = { fail = function(t) return core.tls.generate(t.tmp .. "/no/c.pem", t.tmp .. "/no/k.pem") end,
        wrong = function() return core.tls.generate({}, "k") end },
      request = { fail = function() return core.tls.request(1, nil, "GET / HTTP/1.0\r\n\r\n", 0.5) end,	-- refused
        wrong = function() return core.tls.request("443", nil, {}) end },
    },
  }
end

-- ---- inside sm: call every case, one line per function ----

-- "" when (a, b, c) is the failure result, else what is wrong with it.
-- The subject may hold a colon itself (a URL, host:port): what matters is
-- that one comes before ": " and the message.
local function bad_failure(a, b, c)
  if a ~= nil then return "first result " .. tostring(a) .. ", not nil" end
  if type(b) ~= "string" or not b:find("^.-%S: %S") then return "message " .. tostring(b) .. " is not 'what: why'" end
  if math.type(c) ~= "integer" then return "third result " .. tostring(c) .. " is not an errno" end
  return ""
end

local function check(core, c, t)
  if c.const then return "constant" end
  if c.fail then
    local t0 = core.sys.monotime()
    local ok, a, b, e = pcall(c.fail, t)
    local took = core.sys.monotime() - t0
    if not ok then return nil, "raised " .. tostring(a) end
    if took > SLOW then return nil, string.format("took %.2f s", took) end
    local why = bad_failure(a, b, e)
    if why ~= "" then return nil, why end
  end
  if c.wrong then
    local ok, err = pcall(c.wrong)
    if ok then return nil, "a wrong argument type did not raise" end
    if not tostring(err):find("bad argument", 1, true) then return nil, "a wrong type raised " .. tostring(err) end
  end
  return c.nofail and ("cannot fail: " .. c.nofail) or "nil, 'what: why', errno"
end

-- One function's failure in a child sm with env: its three results.
local function child(core, tmp)
  return function(name, env)
    local script = tmp .. "/child.lua"
    local f = assert(io.open(script, "w"))
    f:write(string.format("local r = table.pack(require('sm.core').%s()) print(tostring(r[1]) .. '\\t' .. tostring(r[2]) .. '\\t' .. tostring(r[3]))", name))
    f:close()
    local p = assert(core.proc.spawn({ core.sys.paths().exe, "lua", script }, { stdout = "pipe", env = env }))
    local res = p:wait(5) or {}
    local a, b, c = (res.stdout or ""):match("^(.-)\t(.-)\t(.-)\n")
    return a ~= "nil" and a or nil, b, math.tointeger(tonumber(c))
  end
end

local function fixtures(core, tmp)
  local t = { tmp = tmp, file = tmp .. "/file", sock = tmp .. "/listen.sock", child = child(core, tmp) }
  assert(io.open(t.file, "w")):close()
  t.listener = assert(core.net.unix_listen(t.sock))
  local hung = assert(core.net.unix_listen(tmp .. "/hung.sock"))
  t.peer = assert(core.net.unix_connect(tmp .. "/hung.sock"))
  assert(hung:accept(1)):close()
  hung:close()
  return t
end

local function sorted_keys(tbl)
  local keys = {}
  for k in pairs(tbl) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function run_inside(tmp)
  local core = require "sm.core"
  local all, t = cases(core), fixtures(core, tmp)
  local function line(ok, name, what) print((ok and "ok" or "not ok") .. "\t" .. name .. "\t" .. what) end
  for _, g in ipairs(sorted_keys(core)) do
    if type(core[g]) ~= "table" then
      line(false, g, "a flat name in sm.core: put it in a group")
    else
      for _, name in ipairs(sorted_keys(core[g])) do
        local c = all[g] and all[g][name]
        if not c then
          line(false, g .. "." .. name, "no case in spec/core_contract_spec.lua")
        else
          local ok, why = check(core, c, t)
          line(ok ~= nil, g .. "." .. name, ok or why)
        end
      end
    end
  end
  for g, fns in pairs(all) do		-- a case for something that is gone
    for name in pairs(fns) do
      if not (core[g] and core[g][name] ~= nil) then line(false, g .. "." .. name, "a case but no such function") end
    end
  end
  return 0
end

if not describe then return run_inside(arg[1]) end

-- ---- under busted ----

local run = require "support.run"

describe("sm.core's contract (docs/lua-core.md)", function()
  local tmp = run.tmpdir("core-contract")
  local code, out, err = run.sm({ "lua", run.root .. "/spec/core_contract_spec.lua", tmp })
  run.sh("rm -rf " .. run.quote(tmp))

  it("runs every case in sm's interpreter", function()
    assert.equal(0, code, err)
    assert.truthy(out:find("^ok\t"), out .. err)
  end)

  local names = {}
  for status, name, what in out:gmatch("([^\t\n]+)\t([^\t\n]+)\t([^\n]*)") do
    names[#names + 1] = name
    it(name .. ": " .. what, function()
      assert(status == "ok", name .. ": " .. what)
    end)
  end

  it("sm lua --help and docs/lua-core.md list every group and function", function()
    local _, help = run.sm({ "lua", "--help" })
    local f = assert(io.open(run.root .. "/docs/lua-core.md"))
    local doc = f:read("a")
    f:close()
    local missing = {}
    for _, full in ipairs(names) do
      local g, name = full:match("^(%w+)%.([%w_]+)$")
      -- help: the group's line, and the deeper-indented lines under it, hold the name
      local line = help:match("\n  " .. g .. " +([^\n]*\n?[^\n]*)") or ""
      line = line:gsub("\n  %S.*$", ""):gsub("\n[^ ].*$", "")
      local section = doc:match("### core%." .. g .. " (.-)\n###") or doc:match("### core%." .. g .. " (.*)$") or ""
      if not (" " .. line .. " "):find("[%s]" .. name .. "[%s]") then missing[#missing + 1] = full .. " (help)" end
      if not section:find("`" .. name .. "[%(`]") then missing[#missing + 1] = full .. " (doc)" end
    end
    assert(#missing == 0, "not listed: " .. table.concat(missing, ", "))
  end)
end)
