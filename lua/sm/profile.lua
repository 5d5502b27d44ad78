-- sm.profile: read the guest profiler's sample files (`sm vmm --profile`,
-- docs/profiling.md), name kernel addresses from the guest kernel's
-- System.map and print top-N tables with the user/kernel split.
--
--   local p = profile.read("prof.txt")          -- raises on a bad file
--   local map = profile.load_map("System.map")
--   io.write(profile.report({ p }, map, { top = 20 }))
--
-- Plain Lua: no sm.core, so specs and scripts use it without a VM.
local M = {}

M.FORMAT_VERSION = 1

local function fail(msg) error(msg, 0) end

-- A 64-bit address in hex; Lua integers wrap, so kernel addresses are
-- negative here: compare them with math.ult.
local function hex(s)
  if not s or not s:match("^%x+$") or #s > 16 then return nil end
  return math.tointeger(tonumber(s, 16))
end

local HEADER = { "interval_us", "vcpus", "ticks", "samples", "missed", "dropped", "stacks" }
local MODES = { k = "kernel", u = "user", h = "idle" }

local function parse_sample(line, where)
  local words = {}
  for w in line:gmatch("%S+") do words[#words + 1] = w end
  local count = math.tointeger(tonumber(words[1] or ""))
  local mode, rip, cr3 = MODES[words[2] or ""], hex(words[3]), hex(words[4])
  if not count or count < 1 or not mode or not rip or not cr3 or #words > 4 + 16 then
    fail(where .. ": bad sample line '" .. line:sub(1, 80) .. "'")
  end
  local callers = {}
  for i = 5, #words do
    callers[#callers + 1] = hex(words[i]) or fail(where .. ": bad caller address '" .. words[i] .. "'")
  end
  return { count = count, mode = mode, rip = rip, cr3 = cr3, callers = callers }
end

-- Parses a sample file's text; name is used in messages.
function M.parse(text, name)
  name = name or "profile"
  local lines = {}
  for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
  local ver = (lines[1] or ""):match("^sm%-profile (%d+)$")
  if not ver then fail(name .. ": not an sm profile (no 'sm-profile N' first line)") end
  if tonumber(ver) ~= M.FORMAT_VERSION then
    fail(string.format("%s: profile format %s, this sm reads %d", name, ver, M.FORMAT_VERSION))
  end
  local p = { version = tonumber(ver), samples_list = {} }
  for i, key in ipairs(HEADER) do
    local v = (lines[i + 1] or ""):match("^" .. key .. " (%d+)$")
    if not v then fail(string.format("%s: line %d: want '%s N'", name, i + 1, key)) end
    p[key] = math.tointeger(tonumber(v))
  end
  for i = #HEADER + 2, #lines do
    p.samples_list[#p.samples_list + 1] = parse_sample(lines[i], name .. ": line " .. i)
  end
  if #p.samples_list ~= p.stacks then
    fail(string.format("%s: %d sample lines, the header says %d (truncated?)", name, #p.samples_list, p.stacks))
  end
  return p
end

function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then fail("profile " .. tostring(err)) end
  local text = f:read("a")
  f:close()
  if text == "" then fail(path .. ": empty — the VM did not end normally, or is still running") end
  return M.parse(text, path)
end

-- ---- symbols ----

-- The kernel's text sections, by the linker's markers: the main text and
-- the init text (boot-time code, freed after boot).
local BOUNDS = { _stext = true, _etext = true, _sinittext = true, _einittext = true }

-- System.map text: "ADDR TYPE NAME" lines, sorted by address.  Keeps the
-- text symbols (t T w W) and the section bounds.
function M.parse_map(text, name)
  local addrs, names, bounds = {}, {}, {}
  for a, t, n in text:gmatch("(%x+) (%a) ([^\n]+)") do
    local addr = hex(a)
    if addr and (t == "t" or t == "T" or t == "w" or t == "W") and not BOUNDS[n] then
      addrs[#addrs + 1], names[#names + 1] = addr, n
    end
    if addr and BOUNDS[n] then bounds[n] = addr end
  end
  if #addrs == 0 then fail((name or "System.map") .. ": no text symbols") end
  -- sort by unsigned address (nm -n already is; a hand-made map may not be)
  local idx = {}
  for i = 1, #addrs do idx[i] = i end
  table.sort(idx, function(x, y) return math.ult(addrs[x], addrs[y]) end)
  local m = { addrs = {}, names = {}, ranges = {} }
  for _, r in ipairs({ { "_stext", "_etext" }, { "_sinittext", "_einittext" } }) do
    if bounds[r[1]] and bounds[r[2]] then m.ranges[#m.ranges + 1] = { bounds[r[1]], bounds[r[2]] } end
  end
  for i, j in ipairs(idx) do m.addrs[i], m.names[i] = addrs[j], names[j] end
  return m
end

function M.load_map(path)
  local f, err = io.open(path, "rb")
  if not f then fail("System.map: " .. tostring(err)) end
  local text = f:read("a")
  f:close()
  return M.parse_map(text, path)
end

local function in_text(map, addr)
  if #map.ranges == 0 then return true end	-- a map without the markers: trust it
  for _, r in ipairs(map.ranges) do
    if not math.ult(addr, r[1]) and math.ult(addr, r[2]) then return true end
  end
  return false
end

-- The function containing addr, or nil (outside kernel text).
function M.symbol(map, addr)
  if not map or not in_text(map, addr) then return nil end
  local lo, hi = 1, #map.addrs
  if math.ult(addr, map.addrs[1]) then return nil end
  while lo < hi do
    local mid = (lo + hi + 1) // 2
    if math.ult(addr, map.addrs[mid]) then hi = mid - 1 else lo = mid end
  end
  return map.names[lo]
end

-- ---- the report ----

local function sym_name(map, s)
  if s.mode == "user" then return string.format("[user cr3=%x]", s.cr3) end
  local name = M.symbol(map, s.rip) or string.format("0x%x", s.rip)
  if s.mode == "idle" then return name .. " [idle]" end
  return name
end

-- Totals and per-name counts over one or more parsed profiles.
function M.summarize(profiles, map)
  local t = { total = 0, user = 0, kernel = 0, idle = 0, missed = 0, ticks = 0,
    self = {}, stack = {}, files = #profiles }
  for _, p in ipairs(profiles) do
    t.missed, t.ticks, t.interval_us = t.missed + p.missed, t.ticks + p.ticks, p.interval_us
    for _, s in ipairs(p.samples_list) do
      local name = sym_name(map, s)
      t.total = t.total + s.count
      t[s.mode] = t[s.mode] + s.count
      t.self[name] = (t.self[name] or 0) + s.count
      -- "on stack": the function or a caller of it (each name once per sample)
      local seen = { [name] = true }
      t.stack[name] = (t.stack[name] or 0) + s.count
      for _, c in ipairs(s.callers) do
        local cn = M.symbol(map, c)
        if cn and not seen[cn] then
          seen[cn] = true
          t.stack[cn] = (t.stack[cn] or 0) + s.count
        end
      end
    end
  end
  return t
end

local function top(counts, n)
  local rows = {}
  for name, c in pairs(counts) do rows[#rows + 1] = { name = name, count = c } end
  table.sort(rows, function(a, b)
    if a.count ~= b.count then return a.count > b.count end
    return a.name < b.name
  end)
  return table.move(rows, 1, math.min(n, #rows), 1, {})
end
M.top = top

local function pct(a, b) return b > 0 and 100 * a / b or 0 end

function M.report(profiles, map, opts)
  opts = opts or {}
  local n = opts.top or 20
  local t = M.summarize(profiles, map)
  local out = {}
  local function line(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
  line("%d samples every %d us from %d file(s); %d ticks missed (vCPU busy outside the guest)",
    t.total, t.interval_us or 0, t.files, t.missed)
  line("user %.1f%%   kernel %.1f%%   idle %.1f%%", pct(t.user, t.total), pct(t.kernel, t.total),
    pct(t.idle, t.total))
  if not map then line("(no System.map: kernel addresses are not named)") end
  line("")
  line("%6s %8s  %s", "self%", "samples", "where")
  for _, r in ipairs(top(t.self, n)) do line("%6.1f %8d  %s", pct(r.count, t.total), r.count, r.name) end
  if map and not opts.self_only then
    line("")
    line("%6s %8s  %s", "stack%", "samples", "function or a caller on the kernel stack (heuristic)")
    for _, r in ipairs(top(t.stack, n)) do line("%6.1f %8d  %s", pct(r.count, t.total), r.count, r.name) end
  end
  return table.concat(out, "\n") .. "\n", t
end

return M
