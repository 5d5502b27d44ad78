-- sm.policy.agent: the guest agent protocol (docs/agent-protocol.md) for the
-- daemon's coroutines.  sm.agent blocks its caller, which would stall the
-- router on the same loop; here every wait yields the coroutine to the loop
-- (the socket is watched with core.loop.watch_fd, reads never block), so health
-- checks and hooks against many workers cost the router nothing while they
-- wait.  Frames are built and checked by sm.agent / core (one codec).
--
--   v = pagent.vm(uds, guest_port [, id])  -- what hooks and checks get as `vm`
--   res = v:exec(argv | "shell string", { timeout =, env =, cwd =, user = })
--         -- { exit = n | signal = n, stdout =, stderr = } | nil, err
--   s = v:connect(port [, timeout])         -- a stream to guest 127.0.0.1:port
--         -- s:send(data), s:recv([timeout]) -> data | "" (EOF) | nil, err; s:close()
--   status, line = v:get(path [, port [, timeout]])  -- one HTTP/1.0 GET on the guest's loopback
--   ok, err = v:tcp([port [, timeout]])    -- the agent could connect to the guest port
--   ok, err = v:wait_agent(timeout)         -- PING answered (a restored guest needs a moment)
local agent = require "sm.agent"
local core = require "sm.core"
local loop = require "sm.loop"

local M = {}

M.TIMEOUT_S = 5
M.BUF_MAX = 256 * 1024     -- bytes a stream buffers from the guest before it gives up
M.OUT_MAX = 64 * 1024      -- an exec's stdout / stderr kept (the rest is dropped)
M.LINE_MAX = 8192          -- a handshake or HTTP status line
local T = agent.types

-- ---- a non-blocking stream over one vsock connection ----

local Stream = {}
Stream.__index = Stream

function Stream:fill()
  while true do
    local d, err = self.sock:recv(65536, 0)
    if d == "" or (not d and err ~= "timeout") then
      self.eof, self.err = true, d and nil or err
      if self.watch then self.watch:close() self.watch = nil end
      break
    end
    if not d then break end
    self.buf = self.buf .. d
    if #self.buf > M.BUF_MAX then
      self.eof, self.err = true, "the guest sent more than " .. M.BUF_MAX .. " bytes unasked"
      self.watch:close() self.watch = nil
      break
    end
  end
  self.ev:set()
end

local function open(uds)
  local sock, err = core.net.unix_connect(uds)
  if not sock then return nil, err end
  local s = setmetatable({ sock = sock, buf = "", ev = loop.event() }, Stream)
  s.watch = core.loop.watch_fd(sock:fd(), function() s:fill() end, true)
  return s
end

-- Waits for more bytes until deadline; nil, err on timeout or EOF.
function Stream:more(deadline)
  if self.eof then return nil, self.err or "the guest agent closed the connection" end
  local left = deadline - core.sys.monotime()
  if left <= 0 or not self.ev:wait(left) then return nil, "timeout" end
  return true
end

function Stream:take(n, deadline)
  while #self.buf < n do
    local ok, err = self:more(deadline)
    if not ok then return nil, err end
  end
  local d = self.buf:sub(1, n)
  self.buf = self.buf:sub(n + 1)
  return d
end

function Stream:line(deadline)
  while not self.buf:find("\n", 1, true) do
    if #self.buf > M.LINE_MAX then return nil, "a line longer than " .. M.LINE_MAX .. " bytes" end
    local ok, err = self:more(deadline)
    if not ok then return nil, err end
  end
  local l, rest = self.buf:match("^([^\n]*)\n(.*)$")
  self.buf = rest
  return l
end

function Stream:send(data, timeout)
  local deadline = core.sys.monotime() + (timeout or M.TIMEOUT_S)
  while #data > 0 do
    local n, err = self.sock:send(data, 0)
    if not n then return nil, err end
    data = data:sub(n + 1)
    if #data > 0 then
      if core.sys.monotime() > deadline then return nil, "timeout" end
      loop.sleep(0.01)
    end
  end
  return true
end

-- Whatever the guest sent next: data | "" at EOF | nil, err
function Stream:recv(timeout)
  if #self.buf == 0 and not self.eof then
    local ok, err = self:more(core.sys.monotime() + (timeout or M.TIMEOUT_S))
    if not ok and not self.eof then return nil, err end
  end
  local d = self.buf
  self.buf = ""
  if d == "" and self.err then return nil, self.err end
  return d
end

function Stream:close()
  if self.watch then self.watch:close() self.watch = nil end
  self.sock:close()
end

-- One frame: type, payload | nil, err (the header checked by the codec)
function Stream:frame(deadline)
  local hdr, err = self:take(8, deadline)
  if not hdr then return nil, err end
  local t, len = core.agent.header(hdr)
  if not t then return nil, "bad frame from the guest agent (" .. tostring(len) .. ")" end
  local p = ""
  if len > 0 then
    p, err = self:take(len, deadline)
    if not p then return nil, err end
  end
  return t, p
end

-- A connection to the agent with `first` sent after CONNECT (pipelined, as the router does).
local function session(uds, first, deadline)
  local s, err = open(uds)
  if not s then return nil, err end
  local ok
  ok, err = s:send("CONNECT " .. agent.PORT .. "\n" .. first)
  local l
  if ok then l, err = s:line(deadline) end
  if not l or not l:match("^OK %d+$") then
    s:close()
    return nil, l and "vsock port " .. agent.PORT .. ": connection refused" or ("agent: " .. tostring(err or "no answer"))
  end
  return s
end

-- ---- requests ----

local function exec(uds, argv, o)
  local f, err = agent.encode_exec{ argv = argv, env = o.env, cwd = o.cwd, user = o.user }
  if not f then return nil, err end
  local deadline = core.sys.monotime() + (o.timeout or M.TIMEOUT_S)
  local s
  s, err = session(uds, f, deadline)
  if not s then return nil, err end
  local res, out = nil, { [T.STDOUT] = {}, [T.STDERR] = {} }
  local t, p = s:frame(deadline)
  if t == T.STARTED then s:send(agent.frame(T.STDIN, "")) end   -- stdin: EOF at once
  while t == T.STARTED or t == T.STDOUT or t == T.STDERR do
    local o2 = out[t]
    if o2 and #table.concat(o2) < M.OUT_MAX then o2[#o2 + 1] = p end
    t, p = s:frame(deadline)
  end
  s:close()   -- before EXIT (a timeout): the agent hangs the process group up
  if t == T.EXIT and #p == 8 then
    local kind, value = string.unpack("<Bxxxi4", p)
    res = kind == 1 and { signal = value } or { exit = value }
    res.stdout = table.concat(out[T.STDOUT]):sub(1, M.OUT_MAX)
    res.stderr = table.concat(out[T.STDERR]):sub(1, M.OUT_MAX)
    return res
  end
  if t == T.ERROR then return nil, "guest agent: " .. p end
  return nil, t and ("guest agent: unexpected frame type " .. t) or ("exec: " .. tostring(p))
end

local function proxy(uds, port, timeout)
  if math.type(port) ~= "integer" or port < 1 or port > 65535 then return nil, "guest port must be 1..65535" end
  local deadline = core.sys.monotime() + (timeout or M.TIMEOUT_S)
  local s, err = session(uds, agent.frame(T.PROXY, string.pack("<I2", port)), deadline)
  if not s then return nil, err end
  local t, p = s:frame(deadline)
  if t == T.OK then return s end
  s:close()
  if t == T.ERROR then return nil, "guest port " .. port .. ": " .. p end
  return nil, "proxy: " .. tostring(t and "unexpected reply" or p)
end

-- An HTTP request target we send: absolute path, visible ASCII only.
function M.valid_path(path)
  return type(path) == "string" and #path <= 2048 and path:match("^/[\33-\126]*$") ~= nil
end

local function get(uds, path, port, timeout)
  if not M.valid_path(path) then return nil, "path must start with / and hold visible ASCII only" end
  local deadline = core.sys.monotime() + (timeout or M.TIMEOUT_S)
  local s, err = proxy(uds, port, timeout)
  if not s then return nil, err end
  local ok
  ok, err = s:send("GET " .. path .. " HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: sm-health\r\nConnection: close\r\n\r\n")
  local l
  if ok then l, err = s:line(deadline) end
  s:close()
  if not l then return nil, "GET " .. path .. ": " .. tostring(err or "no answer") end
  local status = l:match("^HTTP/1%.%d (%d%d%d)[ \r]")
  if not status then return nil, "GET " .. path .. ": not an HTTP status line" end
  return tonumber(status), (l:gsub("\r$", ""))
end

-- ---- the handle hooks and checks get ----

local VM = {}
VM.__index = VM

function M.vm(uds, guest_port, id)
  return setmetatable({ uds = uds, port = guest_port, id = id }, VM)
end

function VM:wait_agent(timeout)
  local deadline = core.sys.monotime() + (timeout or M.TIMEOUT_S)
  local err
  repeat
    local s
    s, err = session(self.uds, agent.frame(T.PING, ""), deadline)
    if s then
      local t, p = s:frame(deadline)
      s:close()
      if t == T.OK then return true end
      err = t and "guest agent: unexpected reply to PING" or p
    end
    loop.sleep(0.1)
  until core.sys.monotime() > deadline
  return nil, "the guest agent did not answer PING: " .. tostring(err)
end

function VM:exec(cmd, o)
  if type(cmd) == "string" then cmd = { "/bin/sh", "-c", cmd } end
  if type(cmd) ~= "table" or #cmd == 0 then return nil, "exec: give an argv table or a shell string" end
  return exec(self.uds, cmd, o or {})
end

function VM:connect(port, timeout) return proxy(self.uds, port or self.port, timeout) end
function VM:get(path, port, timeout) return get(self.uds, path or "/", port or self.port, timeout) end

function VM:tcp(port, timeout)
  local s, err = proxy(self.uds, port or self.port, timeout)
  if not s then return nil, err end
  s:close()
  return true
end

return M
