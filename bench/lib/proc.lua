-- bench/lib/proc.lua: a shell command's output and a process's CPU time,
-- for the benchmarks that measure on-CPU cost (loaded with dofile).
--   proc.sh(cmd)         -> what cmd printed
--   proc.cpu_ns(pid)     -> on-CPU ns of every thread (/proc/PID/task/*/schedstat)
local M = {}

function M.sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  return out
end

function M.cpu_ns(pid)
  local total = 0
  for tid in M.sh("ls /proc/" .. pid .. "/task 2>/dev/null"):gmatch("%d+") do
    local f = io.open("/proc/" .. pid .. "/task/" .. tid .. "/schedstat")
    if f then total = total + (tonumber(f:read("a"):match("^(%d+)")) or 0) f:close() end
  end
  return total
end

return M
