-- Integration helpers run inside sm (`sm lua spec/support/agent_client.lua CMD NAME ...`),
-- where sm.core and sm.vm are available.  Each prints "key=value" lines the
-- spec checks; the exit status is 0 when the check passed.
--   echo NAME PORT MIB        MIB each way through vm:connect to a guest echo service,
--                             with a reader that stalls; byte-identical?
--   http NAME PORT N          N concurrent proxied GETs to the guest's httpd
--   churn NAME N              N connect-and-drop clients; VMM fds and RSS before/after
--   garbage NAME              bytes before CONNECT: closed?
--   sink NAME PORT MIB        send up to MIB to a guest service that never reads:
--                             how much was taken before sends stalled, VMM RSS
--   flood NAME SECONDS        `sm exec NAME -- yes` whose stdout nobody reads, for
--                             SECONDS: VMM RSS, and a second exec meanwhile
--   connflood NAME N          the guest opens N vsock connections to a host port
--                             (sm-vsock-flood) and holds them: VMM fds, exec meanwhile
local core = require "sm.core"
local vm = require "sm.vm"

local cmd, name = arg[1], arg[2]
local v = assert(vm.attach(name))

local function out(k, val) io.stdout:write(k, "=", tostring(val), "\n") io.stdout:flush() end

local function pattern(n)
  local parts, seed = {}, 12345
  for i = 1, n // 4096 do
    seed = (seed * 1103515245 + 12345) % 2147483648
    parts[i] = string.rep(string.pack("<I4", seed), 1024)
  end
  return table.concat(parts)
end

local function echo(port, mib)
  assert(v:wait_listener(port, 120))
  local data = pattern(mib * 1024 * 1024)
  local s = v:connect(port, 60)
  local sent, got, parts = 0, 0, {}
  local t0 = core.sys.monotime()
  local stall_until = t0 + 3		-- the reader stalls for the first 3 s
  local deadline = t0 + 900
  while got < #data and core.sys.monotime() < deadline do
    if sent < #data then
      local n = assert(s:send(data:sub(sent + 1, sent + 65536), 0.05))
      sent = sent + n
      if sent == #data then s:shutdown() end
    end
    if core.sys.monotime() >= stall_until or sent == #data then
      local d, err = s:recv(262144, sent < #data and 0 or 5)
      if d == "" then break end
      if d then
        parts[#parts + 1] = d
        got = got + #d
      elseif err ~= "timeout" then
        error(err)
      end
    end
  end
  local secs = core.sys.monotime() - t0
  local back = table.concat(parts)
  out("sent", sent)
  out("received", #back)
  out("identical", back == data)
  out("seconds", string.format("%.1f", secs))
  out("mb_per_s", string.format("%.3f", #data / 1048576 / secs))
  s:close()
  return back == data and 0 or 1
end

local function http(port, n)
  assert(v:wait_listener(port, 120))
  local socks = {}
  for i = 1, n do socks[i] = v:connect(port, 60) end
  for i = 1, n do assert(socks[i]:send("GET /index.html HTTP/1.0\r\n\r\n", 10)) end
  local okc = 0
  for i = 1, n do
    local parts = {}
    while true do
      local d = socks[i]:recv(65536, 120)
      if not d or d == "" then break end
      parts[#parts + 1] = d
    end
    local resp = table.concat(parts)
    if resp:match("^HTTP/1%.%d 200") and resp:find("hello-http", 1, true) then okc = okc + 1 end
    socks[i]:close()
  end
  out("ok", okc)
  return okc == n and 0 or 1
end

local function vmm_stats()
  local fds = 0
  local p = io.popen("ls /proc/" .. v.vmm_pid .. "/fd")
  for _ in p:lines() do fds = fds + 1 end
  p:close()
  local f = io.open("/proc/" .. v.vmm_pid .. "/status")
  local rss = tonumber(f:read("a"):match("VmRSS:%s*(%d+)"))
  f:close()
  return fds, rss
end

local function churn(n)
  local uds = v.opts.vsock_uds
  v:exec{ argv = { "/bin/true" } }	-- warm: the agent's first connection
  local fds0, rss0 = vmm_stats()
  for i = 1, n do
    local s = core.net.unix_connect(uds)
    if s then
      if i % 2 == 0 then s:send("CONNECT 1024\n", 1) end
      s:close()
    end
  end
  -- the guest answers the REQUESTs it got; give it time, then check
  local fds, rss
  for _ = 1, 120 do
    core.sys.sleep(1)
    fds, rss = vmm_stats()
    if fds <= fds0 then break end
  end
  out("fds_before", fds0)
  out("fds_after", fds)
  out("rss_before_kb", rss0)
  out("rss_after_kb", rss)
  local still = v:exec{ argv = { "/bin/echo", "alive" } }
  out("after", still.stdout)
  return (fds <= fds0 and rss - rss0 < 4096 and still.stdout == "alive\n") and 0 or 1
end

local function garbage()
  local s = assert(core.net.unix_connect(v.opts.vsock_uds))
  s:send("GET / HTTP/1.0\r\n\r\n", 1)
  local d, err = s:recv(100, 10)
  out("closed", d == "" or (d == nil and err ~= "timeout"))
  s:close()
  local r = v:exec{ argv = { "/bin/echo", "still-ok" } }
  out("after", r.stdout)
  return (r.stdout == "still-ok\n") and 0 or 1
end

-- What the VMM holds stays bounded when the far end stops reading: the
-- host's sends stall (vsock credit, the agent's buffers, guest socket
-- buffers) instead of piling up in the VMM.
local function sink(port, mib)
  assert(v:wait_listener(port, 120))
  local _, rss0 = vmm_stats()
  local s = v:connect(port, 60)
  local chunk, sent, idle_since = string.rep("s", 65536), 0, core.sys.monotime()
  local deadline = core.sys.monotime() + 300
  while sent < mib * 1048576 and core.sys.monotime() < deadline do
    local n = s:send(chunk, 0.5)
    if n and n > 0 then sent, idle_since = sent + n, core.sys.monotime()
    elseif core.sys.monotime() - idle_since > 5 then break end   -- stalled for 5 s: flow control holds
  end
  local _, rss = vmm_stats()
  out("taken_kb", sent // 1024)
  out("rss_before_kb", rss0)
  out("rss_after_kb", rss)
  s:close()
  local still = v:exec{ argv = { "/bin/echo", "alive" } }
  out("after", still.stdout)
  return (sent < mib * 1048576 and rss - rss0 < 16384 and still.stdout == "alive\n") and 0 or 1
end

local function flood(secs)
  local exe = core.sys.paths().exe
  local _, rss0 = vmm_stats()
  local p = core.proc.spawn({ exe, "exec", name, "--", "/bin/sh", "-c", "exec yes flood" }, { stdout = "pipe", stderr = "null" })
  local peak = rss0
  local t_end = core.sys.monotime() + secs
  while core.sys.monotime() < t_end do     -- p's pipe is never read: it fills, then sm exec blocks
    core.sys.sleep(0.5)
    local _, rss = vmm_stats()
    if rss > peak then peak = rss end
  end
  local t0 = core.sys.monotime()
  local other = v:exec{ argv = { "/bin/echo", "second" }, timeout = 60 }
  out("second_exec", other and other.stdout or "none")
  out("second_exec_s", string.format("%.1f", core.sys.monotime() - t0))
  p:kill(9)
  p:wait(10)
  out("rss_before_kb", rss0)
  out("rss_peak_kb", peak)
  return (other and other.stdout == "second\n" and peak - rss0 < 16384) and 0 or 1
end

-- A guest that connects to a host port N times and holds what it gets:
-- the VMM gives it at most 224 slots (the rest stay for the host's own
-- clients, so exec keeps working), refuses the others at once (RST, no
-- connect timeout), and holds one fd per connection it relays.
local function connflood(n)
  local port = 5000
  local l = assert(core.net.unix_listen(v.opts.vsock_uds .. "_" .. port))
  local held = {}
  local fds0, rss0 = vmm_stats()
  local t0 = core.sys.monotime()
  local launched = v:exec{ argv = { "/bin/sh", "-c", string.format("sm-vsock-flood %d %d >/tmp/vf.out 2>&1 &", n, port) },
    timeout = 60 }
  out("launch", string.format("exit %s in %.1f s", tostring(launched.code), core.sys.monotime() - t0))
  local report, fds_peak, polls = nil, fds0, 0
  local deadline = core.sys.monotime() + 240
  while not report and core.sys.monotime() < deadline do
    for _ = 1, 300 do       -- accept what the VMM relays, and hold it
      local s = l:accept(0.01)
      if not s then break end
      held[#held + 1] = s
    end
    local fds = vmm_stats()
    if fds > fds_peak then fds_peak = fds end
    local r = v:exec{ argv = { "/bin/sh", "-c", "cat /tmp/vf.out; pidof sm-vsock-flood" }, timeout = 30 }
    report = r.stdout:match("connected=%d+ refused=%d+ other=%d+")
    polls = polls + 1
    if polls == 1 or report then out("poll" .. polls, (r.stdout:gsub("\n", " "))) end
  end
  local c, refused, other = (report or ""):match("connected=(%d+) refused=(%d+) other=(%d+)")
  out("report", report)
  out("host_accepted", #held)
  out("fds_before", fds0)
  out("fds_peak", fds_peak)
  local _, rss = vmm_stats()
  out("rss_before_kb", rss0)
  out("rss_after_kb", rss)
  v:exec{ argv = { "/bin/sh", "-c", "kill $(pidof sm-vsock-flood)" } }
  for _, s in ipairs(held) do s:close() end
  l:close()
  local fds_end
  for _ = 1, 60 do
    core.sys.sleep(0.5)
    fds_end = vmm_stats()
    if fds_end <= fds0 then break end
  end
  out("fds_end", fds_end)
  c, refused, other = tonumber(c), tonumber(refused), tonumber(other)
  return (c and c <= 224 and c + refused == n and other == 0 and fds_peak <= fds0 + 224 + 8
    and fds_end <= fds0 and rss - rss0 < 16384) and 0 or 1   -- (+8: the exec polls own connections)
end

if cmd == "connflood" then return connflood(tonumber(arg[3])) end
if cmd == "sink" then return sink(tonumber(arg[3]), tonumber(arg[4])) end
if cmd == "flood" then return flood(tonumber(arg[3])) end
if cmd == "echo" then return echo(tonumber(arg[3]), tonumber(arg[4])) end
if cmd == "http" then return http(tonumber(arg[3]), tonumber(arg[4])) end
if cmd == "churn" then return churn(tonumber(arg[3])) end
if cmd == "garbage" then return garbage() end
error("unknown command " .. tostring(cmd))
