-- Test support: run a shell command or `sm`, capture stdout, stderr and the exit code.
local M = {}

M.root = os.getenv("SM_ROOT") or "."
M.bin = os.getenv("SM_BIN") or (M.root .. "/build/sm")

function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  os.remove(path)
  return s
end

-- Can this user open /dev/kvm?  (integration specs skip their boots if not)
function M.have_kvm()
  local f = io.open("/dev/kvm", "r+")
  if f then f:close() return true end
  return false
end

-- At the top of a describe block that boots VMs:
--   if run.skip_without_kvm(pending) then return end
-- marks the block pending (busted's `pending`) when /dev/kvm cannot be opened.
function M.skip_without_kvm(pending)
  if M.have_kvm() then return false end
  pending("/dev/kvm not accessible: integration boots skipped")
  return true
end

-- A fresh private directory /tmp/sm-NAME.XXXXXX (the caller removes it).
function M.tmpdir(name)
  local _, dir = M.sh("mktemp -d /tmp/sm-" .. name .. ".XXXXXX")
  return (dir:gsub("%s+$", ""))
end

-- sh(cmd) -> code, stdout, stderr    (cmd is a shell string)
function M.sh(cmd)
  local out, err = os.tmpname(), os.tmpname()
  local ok, how, code = os.execute(cmd .. " >" .. out .. " 2>" .. err)
  if how == "signal" then code = 128 + code end
  return code, slurp(out), slurp(err)
end

-- out(cmd) -> stdout, code, stderr    (for specs that mostly want the output)
function M.out(cmd)
  local code, out, err = M.sh(cmd)
  return out, code, err
end

-- trim(s): s without trailing white space
function M.trim(s) return (s:gsub("%s+$", "")) end

-- combined(cmd) -> stdout+stderr together, code
function M.combined(cmd)
  local p = io.popen("(" .. cmd .. ") 2>&1; echo \"__rc=$?\"")
  local out = p:read("a")
  p:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return (out:gsub("__rc=%d+%s*$", "")), rc
end

-- sm({args...}, {ENV = "v"}, prefix) -> code, stdout, stderr
function M.sm(args, env, prefix)
  local parts = {}
  for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. M.quote(v) end
  parts[#parts + 1] = prefix or ""
  parts[#parts + 1] = M.quote(M.bin)
  for _, a in ipairs(args) do parts[#parts + 1] = M.quote(a) end
  return M.sh("env " .. table.concat(parts, " "))
end

-- must(cmd) -> stdout; a failing cmd fails the test with its output
function M.must(cmd)
  local code, out, err = M.sh(cmd)
  assert(code == 0, cmd .. " failed (" .. tostring(code) .. "):\n" .. out .. err)
  return out
end

-- One GET of http://127.0.0.1:port/path with curl (never hangs: -m secs,
-- default 60), the body kept in dir/body -> status (nil: no answer), body
function M.http_get(dir, port, path, secs)
  local _, out = M.sh(string.format("curl -s -m %d -o %s/body -w '%%{http_code}' http://127.0.0.1:%d%s", secs or 60,
    dir, port, path or "/"))
  local f = io.open(dir .. "/body")
  local body = f and f:read("a") or ""
  if f then f:close() end
  return tonumber(out), body
end

-- one line, no newline inside, ends with \n
function M.one_line(s)
  return s:match("^[^\n]+\n$") ~= nil
end

-- ports(n) -> base: n consecutive TCP ports base .. base+n-1 for servers a
-- spec starts on 127.0.0.1.  They lie below the kernel's ephemeral range
-- (ip_local_port_range), so no outgoing connection on this machine can be
-- holding one as its source port; none is listening now; and no two calls
-- in one process hand out the same port.  Fixed or time-derived bases were
-- not enough: a base in the ephemeral range once met "127.0.0.1:51244 is
-- in use by another program" in CI.
local handed = {}
function M.ports(n)
  n = n or 1
  local f = io.open("/proc/sys/net/ipv4/ip_local_port_range")
  local low = f and tonumber(f:read("a"):match("%d+")) or 32768
  if f then f:close() end
  local lo, hi = 10000, low - n
  assert(hi > lo, "run.ports: no room below the ephemeral range (" .. low .. ") for " .. n .. " ports")
  local _, listening = M.sh("ss -Htln")
  local busy = {}
  for p in listening:gmatch("%S+:(%d+)%s+%S+:%*") do busy[tonumber(p)] = true end
  for _ = 1, 200 do
    local base, free = math.random(lo, hi), true
    for p = base, base + n - 1 do
      if busy[p] or handed[p] then free = false break end
    end
    if free then
      for p = base, base + n - 1 do handed[p] = true end
      return base
    end
  end
  error("run.ports: no " .. n .. " free consecutive ports below " .. low)
end

return M
