-- sm.agent: the host side of the guest agent protocol, version 2
-- (docs/agent-protocol.md).  Every function takes the VM's hybrid-vsock
-- Unix socket; each request is one vsock connection to the agent's port.
--
--   agent.ping(uds, timeout)                 -> version | nil, err
--   agent.exec(uds, req, io)                 -> { exit = n | signal = n, stdout=, stderr= } | nil, err
--   agent.spawn(uds, req)                    -> process (streaming: :write, :close_stdin, :signal, :resize, :read)
--   agent.proxy(uds, tcp_port, timeout)      -> socket (raw byte stream) | nil, err
--   agent.listening(uds, tcp_port, timeout)  -> bool | nil, err
--   agent.stop(uds, signo, timeout)          -> true | nil, err
--   agent.put(uds, src, dst, opts)           -> { files = n, bytes = n, entries = n } | nil, err
--       copies host file or tree src to guest path dst (docker cp rules);
--       opts = { mode = 0o644 (all but symlinks), owner = "name|uid[:gid]", timeout = s (300) }
--   req = { argv = {...}, env = { "K=V", ... } or { K = "V" }, cwd = "/", user = "name|uid[:gid]",
--           tty = bool, rows = n, cols = n }
local core = require "sm.core"

local M = {}

-- The wire format lives in C (src/net/agent-proto.c, also compiled into the
-- guest agent): constants and frames come from there, never built here.
local P = core.agent.proto
M.PORT = P.PORT
M.VERSION = P.VERSION
M.MIN_VERSION = 1   -- agents in older snapshots: everything but PUT (version 2)
M.MAX_PAYLOAD = P.MAX_PAYLOAD
local T = P.types
M.types = T

function M.frame(t, payload)
  return assert(core.agent.frame(t, payload))
end

-- req.env may be a list of "K=V" or a map; the frame wants a sorted list.
local function env_list(env)
  local list = {}
  for k, v in pairs(env or {}) do
    if math.type(k) == "integer" then list[#list + 1] = v else list[#list + 1] = k .. "=" .. v end
  end
  table.sort(list)
  return list
end

-- The EXEC frame for req | nil, "exec: why"
function M.encode_exec(req)
  return core.agent.exec_frame{ argv = req.argv or {}, env = env_list(req.env), cwd = req.cwd, user = req.user,
    tty = req.tty, rows = req.rows, cols = req.cols }
end

local function connect(uds, timeout)
  return core.net.vsock_connect(uds, M.PORT, timeout or 10)
end

local function read_exact(s, n, timeout)
  local parts, got = {}, 0
  while got < n do
    local d, err = s:recv(n - got, timeout)
    if not d then return nil, err end
    if d == "" then return nil, "the guest agent closed the connection" end
    parts[#parts + 1] = d
    got = got + #d
  end
  return table.concat(parts)
end

-- One frame: type, payload | nil, err
function M.read_frame(s, timeout)
  local hdr, err = read_exact(s, P.HDR_LEN, timeout)
  if not hdr then return nil, err end
  local t, len = core.agent.header(hdr)
  if not t then return nil, "bad frame from the guest agent (" .. len .. ")" end
  if len == 0 then return t, "" end
  local p
  p, err = read_exact(s, len, timeout)
  if not p then return nil, err end
  return t, p
end

-- Send one frame, read one reply; the reply's payload | nil, err
local function ask(uds, t, payload, timeout)
  local s, err = connect(uds, timeout)
  if not s then return nil, err end
  local rt, p = nil, nil
  if s:send(M.frame(t, payload), timeout or 10) then rt, p = M.read_frame(s, timeout or 10) end
  s:close()
  if not rt then return nil, p or "send failed" end
  if rt == T.ERROR then return nil, "guest agent: " .. p end
  if rt ~= T.OK then return nil, "guest agent: unexpected reply type " .. rt end
  return p
end

function M.ping(uds, timeout)
  local p, err = ask(uds, T.PING, "", timeout)
  if not p then return nil, err end
  return p:byte(1)
end

function M.listening(uds, port, timeout)
  local p, err = ask(uds, T.LISTENING, string.pack("<I2", port), timeout)
  if not p then return nil, err end
  return p:byte(1) == 1
end

function M.stop(uds, signo, timeout)
  local p, err = ask(uds, T.STOP, string.pack("<i4", signo or 15), timeout)
  if not p then return nil, err end
  return true
end

function M.proxy(uds, port, timeout)
  local s, err = connect(uds, timeout)
  if not s then return nil, err end
  -- generous: a guest's first TCP connection can take seconds under emulation
  s:send(M.frame(T.PROXY, string.pack("<I2", port)), timeout or 30)
  local t, p = M.read_frame(s, timeout or 30)
  if t == T.OK then return s end
  s:close()
  if t == T.ERROR then return nil, "guest port " .. port .. ": " .. p end
  return nil, p or "proxy: unexpected reply"
end

function M.put(uds, src, dst, opts)
  opts = opts or {}
  local timeout = opts.timeout or 300
  local s, err = connect(uds, math.min(timeout, 30))
  if not s then return nil, err end
  local ok, stats = core.agent.put(s, src, dst, { mode = opts.mode, owner = opts.owner, timeout = timeout })
  s:close()
  if not ok then return nil, stats end
  return stats
end

-- Runs req to completion; io = { stdin = fd|string, stdout = fd, stderr = fd,
-- forward_signals = bool, timeout = s } (no stdout/stderr fd: captured).
function M.exec(uds, req, io)
  local f, err = M.encode_exec(req)
  if not f then return nil, err end
  local s
  s, err = connect(uds, io and io.timeout)
  if not s then return nil, err end
  local opts = {}
  for k, v in pairs(io or {}) do opts[k] = v end
  opts.tty = req.tty
  local res
  if s:send(f, 10) then res, err = core.agent.exec(s, opts) else err = "send to the guest agent failed" end
  s:close()
  return res, err
end

-- ---- streaming exec ----

local Proc = {}
Proc.__index = Proc

function M.spawn(uds, req)
  local f, err = M.encode_exec(req)
  if not f then return nil, err end
  local s
  s, err = connect(uds)
  if not s then return nil, err end
  s:send(f, 10)
  local t, p = M.read_frame(s, 30)
  if t ~= T.STARTED then
    s:close()
    return nil, t == T.ERROR and ("guest agent: " .. p) or (p or "exec did not start")
  end
  return setmetatable({ sock = s, pid = string.unpack("<i4", p) }, Proc)
end

function Proc:write(data)
  for i = 1, #data, 32768 do
    local ok, err = self.sock:send(M.frame(T.STDIN, data:sub(i, i + 32767)), 30)
    if not ok then return nil, err end
  end
  return true
end
function Proc:close_stdin() return self.sock:send(M.frame(T.STDIN, ""), 10) end
function Proc:signal(n) return self.sock:send(M.frame(T.SIGNAL, string.pack("<i4", n)), 10) end
function Proc:resize(rows, cols) return self.sock:send(M.frame(T.RESIZE, string.pack("<I2I2", rows, cols)), 10) end

-- Next event: { stdout = data } | { stderr = data } | { exit = n } | { signal = n } | nil, err
function Proc:read(timeout)
  local t, p = M.read_frame(self.sock, timeout)
  if not t then return nil, p end
  if t == T.STDOUT then return { stdout = p } end
  if t == T.STDERR then return { stderr = p } end
  if t == T.EXIT then
    local kind, value = string.unpack("<Bxxxi4", p)
    self.sock:close()
    return kind == 1 and { signal = value } or { exit = value }
  end
  if t == T.ERROR then return nil, "guest agent: " .. p end
  return nil, "guest agent: unexpected frame type " .. t
end

function Proc:close() self.sock:close() end

return M
