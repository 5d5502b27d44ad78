-- sm profile: sample where guest vCPUs spend their time (docs/profiling.md).
local args = require "sm.args"
local core = require "sm.core"
local errors = require "sm.errors"
local profile = require "sm.profile"
local util = require "sm.util"

local M = {}

M.summary = "profile the guest: where its vCPUs spend their time"
M.usage = [==[
usage: sm profile [--out FILE] [--us N] [--top N] -- COMMAND [ARGS...]
       sm profile report [--top N] [--map System.map | --kernel VMLINUX] FILE...

The first form runs `sm COMMAND ARGS...` with SM_PROFILE=FILE: every VM
it starts samples its vCPUs every N µs (default 1000) and writes FILE
(the first VM), FILE.2, ... when it ends; then the report of them all is
printed on stderr.  The second form prints the report of sample files
written earlier, e.g. by `SM_PROFILE=FILE sm run ...` or
`sm vmm --profile FILE`.

The report: the user / kernel / idle split, the top N places where the
vCPUs were (kernel functions named from the guest kernel's System.map;
user mode by address space), and the top N kernel functions found on the
kernel stack (the function or one of its callers; a heuristic).

options:
  --out FILE         where the samples go (default ./sm-profile.txt)
  --us N             sampling interval in µs, 100..1000000
  --top N            rows per table (default 20)
  --map PATH         the guest kernel's System.map
  --kernel PATH      the guest kernel; its System.map is the file beside it
                     (default: $SM_KERNEL, else the built one — `make kernel`
                     installs System.map in its cache directory)

exit status: the command's; for report, 0, or 1 when a file is not a
profile.
]==]

local report_spec = {
  { "top", arg = "N", type = "int" },
  { "map", arg = "PATH" },
  { "kernel", arg = "PATH" },
}

local run_spec = {
  { "out", arg = "FILE" },
  { "us", arg = "N", type = "int" },
  { "top", arg = "N", type = "int" },
  { "map", arg = "PATH" },
  { "kernel", arg = "PATH" },
}

-- The System.map to use, or nil with a warning (the report then shows addresses).
local function load_map(path)
  local ok, map = pcall(profile.load_map, path)
  if not ok then errors.fail(tostring(map)) end
  return map
end

local function find_map(o)
  if o.map then return load_map(o.map) end
  local kernel = o.kernel or util.env("SM_KERNEL") or (core.sys.paths().guest .. "/vmlinux")
  local real = core.fs.realpath(kernel) or kernel
  local map = real:gsub("[^/]*$", "") .. "System.map"
  if core.fs.stat(map) then return load_map(map) end
  io.stderr:write("sm profile: no System.map beside ", real, " — run `make kernel` (guest/kernel/build.sh ",
    "writes it, from the vmlinux's symbols for kernels built before), or give --map; kernel addresses stay unnamed\n")
  return nil
end

local function check_top(o)
  if o.top and (o.top < 1 or o.top > 10000) then errors.usage_error("--top must be 1..10000") end
  return o.top or 20
end

local function report(files, o)
  local profiles = {}
  for _, f in ipairs(files) do
    local ok, p = pcall(profile.read, f)
    if not ok then errors.fail(tostring(p)) end
    profiles[#profiles + 1] = p
  end
  return profile.report(profiles, find_map(o), { top = check_top(o) })
end

local function run_report(argv)
  local o, rest, positional = args.parse(argv, report_spec)
  if #rest > 0 or #positional == 0 then errors.usage_error("give one or more sample files — sm profile report FILE...") end
  io.stdout:write((report(positional, o)))
  return 0
end

-- FILE, FILE.2, FILE.3 ...: what the VMs of one sm process wrote.
local function written(out)
  local files = {}
  if core.fs.stat(out) then files[1] = out end
  for n = 2, 100000 do
    if not core.fs.stat(out .. "." .. n) then break end
    files[#files + 1] = out .. "." .. n
  end
  return files
end

local function run_command(argv)
  local o, rest, positional = args.parse(argv, run_spec)
  if #positional > 0 or #rest == 0 then errors.usage_error("give the command after -- — sm profile -- boot ...") end
  if o.us and (o.us < 100 or o.us > 1000000) then errors.usage_error("--us must be 100..1000000") end
  check_top(o)
  local out = o.out or "sm-profile.txt"
  for _, f in ipairs(written(out)) do os.remove(f) end	-- no stale file in the report
  local cmd = { core.sys.paths().exe }
  table.move(rest, 1, #rest, 2, cmd)
  local env = { SM_PROFILE = out, SM_PROFILE_US = o.us and tostring(o.us) or nil }
  local p = assert(core.proc.spawn(cmd, { stdout = "inherit", stderr = "inherit", env = env }))
  local r = p:wait()
  local files = written(out)
  if #files == 0 then
    io.stderr:write("sm profile: the command started no VM that ended (no ", out, ")\n")
  else
    io.stderr:write((report(files, o)))
  end
  if r.signal then return 128 + r.signal end
  return r.code or 1
end

function M.run(argv)
  if argv[1] == "report" then return run_report(table.move(argv, 2, #argv, 1, {})) end
  return run_command(argv)
end

return M
