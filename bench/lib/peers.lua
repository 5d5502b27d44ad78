-- bench/lib/peers.lua: the peers several benchmarks measure beside sm, in one
-- place (loaded with dofile; not a benchmark itself).
--   peers.qemu_restore_ms(o)  QEMU TCG (-M microvm) restoring a migration file of
--       o.kernel + o.initrd running o.argv (o.mem MiB), o.runs times: ms from spawn
--       to the guest's next output frame on the init channel
--   peers.native_httpd_s(dir, runs)  busybox httpd started on the host serving dir:
--       seconds from spawn to its first answer to GET /
local core = require "sm.core"
local vm = require "sm.vm"

local M = {}

function M.qemu_restore_ms(o)
  local qfile = o.tmp .. "/qemu.mig"
  local argv = {}
  for i, a in ipairs(o.argv) do argv[i] = string.format("%q", a) end
  assert(os.execute(string.format("python3 bench/qemu_snapshot.py %q %q %q %d %q -- %s >/dev/null",
    o.kernel, o.initrd, vm.cmdline(), o.mem, qfile, table.concat(argv, " "))), "making the QEMU migration file failed")
  local ms = {}
  for _ = 1, o.runs do
    local p = core.proc.spawn({ "/usr/bin/qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-m", tostring(o.mem),
      "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-kernel", o.kernel,
      "-initrd", o.initrd, "-append", vm.cmdline(), "-serial", "null", "-chardev", "stdio,id=chan",
      "-device", "isa-serial,chardev=chan,iobase=0x2f8,irq=3", "-incoming", "exec:cat " .. qfile },
      { stdout = "pipe", stderr = "null", stdin = "null" })
    local t = p:expect("\2\0", 60)		-- the next stdout frame on the init channel
    p:kill(9)
    p:wait(10)
    assert(t, "qemu restore did not answer")
    ms[#ms + 1] = t * 1e3
  end
  os.remove(qfile)
  return ms
end

-- GET path (default /) on stream s and check for a 200; closes s.
local function http_get(s, path)
  assert(s:send("GET " .. (path or "/") .. " HTTP/1.0\r\n\r\n", 10))
  local d = s:recv(65536, 60)
  s:close()
  assert(d and d:match("^HTTP/1%.%d 200"), "no HTTP answer: " .. tostring(d))
end
M.http_get = http_get

function M.native_httpd_s(dir, runs)
  local times = {}
  for i = 1, runs do
    local port = 20000 + (math.floor(core.sys.monotime() * 1000) + i) % 12000   -- below the ephemeral range
    local t0 = core.sys.monotime()
    local function start()
      return assert(core.proc.spawn({ "/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:" .. port, "-h", dir },
        { stdout = "null", stderr = "null" }))
    end
    local p, s = start()
    repeat
      s = core.net.tcp_connect("127.0.0.1", port)
      if not s and p:wait(0) then   -- it exited: the port was someone else's; the timing starts again
        port = 20000 + (port + 997) % 12000
        t0 = core.sys.monotime()
        p = start()
      elseif not s then
        core.sys.sleep(0.001)
      end
    until s or core.sys.monotime() - t0 > 10
    http_get((assert(s, "native httpd did not answer on 127.0.0.1:" .. port)))
    times[i] = core.sys.monotime() - t0
    p:kill(15)
    p:wait(10)
  end
  return times
end

-- A process's proportional set size, KiB (0 when it is gone).
function M.pss_kb(pid)
  local f = io.open("/proc/" .. pid .. "/smaps_rollup")
  if not f then return 0 end
  local kb = tonumber(f:read("a"):match("\nPss:%s+(%d+)")) or 0
  f:close()
  return kb
end

function M.pct(t, p)
  local s = table.move(t, 1, #t, 1, {})
  table.sort(s)
  return s[math.max(1, math.ceil(#s * p / 100))]
end

return M
