-- sm.profile: the sample file (docs/profiling.md "Sample file") and the
-- report's symbolization and split, without a VM.
local profile = require "sm.profile"

local MAP = table.concat({
  "ffffffff81000000 T _stext",
  "ffffffff81000000 T startup_64",
  "ffffffff81000100 t clear_page_rep",
  "ffffffff81000200 T do_syscall_64",
  "ffffffff81000300 T _etext",
  "ffffffff81000400 D some_data",
  "ffffffff81100000 T _sinittext",
  "ffffffff81100000 t memblock_alloc",
  "ffffffff81100100 T _einittext",
}, "\n") .. "\n"

local function file(lines, header)
  header = header or {}
  local h = {
    "sm-profile " .. (header.version or 1), "interval_us 1000", "vcpus 1", "ticks 12",
    "samples 10", "missed " .. (header.missed or 2), "dropped 0", "stacks " .. (header.stacks or #lines),
  }
  return table.concat(h, "\n") .. "\n" .. table.concat(lines, "\n") .. (#lines > 0 and "\n" or "")
end

describe("sm.profile sample files", function()
  it("reads the header and the samples, 64-bit addresses included", function()
    local p = profile.parse(file({ "6 u 401000 1234000", "3 k ffffffff81000110 0 ffffffff81000210",
      "1 h ffffffff81000120 0" }))
    assert.equal(1, p.version)
    assert.equal(1000, p.interval_us)
    assert.equal(2, p.missed)
    assert.equal(3, #p.samples_list)
    assert.equal("user", p.samples_list[1].mode)
    assert.equal(0x1234000, p.samples_list[1].cr3)
    assert.equal("ffffffff81000110", string.format("%x", p.samples_list[2].rip))
    assert.equal(1, #p.samples_list[2].callers)
    assert.equal("idle", p.samples_list[3].mode)
  end)

  it("refuses another format version, a foreign file and a truncated one", function()
    assert.has_error(function() profile.parse(file({}, { version = 2 }), "p") end,
      "p: profile format 2, this sm reads 1")
    assert.has_error(function() profile.parse("hello\n", "p") end, "p: not an sm profile (no 'sm-profile N' first line)")
    assert.has_error(function() profile.parse(file({ "1 k ffffffff81000110 0" }, { stacks = 2 }), "p") end,
      "p: 1 sample lines, the header says 2 (truncated?)")
    assert.has_error(function() profile.parse(file({ "1 x ffffffff81000110 0" }), "p") end)
    assert.has_error(function() profile.parse(file({ "1 k zzzz 0" }), "p") end)
    assert.has_error(function() profile.parse(file({ "0 k ffffffff81000110 0" }), "p") end)
  end)
end)

describe("sm.profile symbols", function()
  local map = profile.parse_map(MAP)

  it("names an address by the function it falls in, init text included", function()
    assert.equal("clear_page_rep", profile.symbol(map, 0xffffffff81000180))
    assert.equal("do_syscall_64", profile.symbol(map, 0xffffffff81000200))
    assert.equal("memblock_alloc", profile.symbol(map, 0xffffffff81100010))
  end)

  it("names nothing outside kernel text", function()
    assert.is_nil(profile.symbol(map, 0xffffffff81000400))	-- data after _etext
    assert.is_nil(profile.symbol(map, 0xffffffff80000000))
    assert.is_nil(profile.symbol(map, 0x401000))
  end)
end)

describe("sm.profile report", function()
  local map = profile.parse_map(MAP)
  local p = profile.parse(file({ "6 u 401000 1234000", "2 k ffffffff81000110 0 ffffffff81000210",
    "1 k ffffffff81000120 0", "1 h ffffffff81000010 0" }))

  it("splits user, kernel and idle, and puts the largest first", function()
    local text, t = profile.report({ p }, map, { top = 3 })
    assert.equal(10, t.total)
    assert.equal(6, t.user)
    assert.equal(3, t.kernel)
    assert.equal(1, t.idle)
    assert.matches("user 60.0%%   kernel 30.0%%   idle 10.0%%", text)
    local rows = {}
    for pct, n, where in text:gmatch("\n +([%d.]+) +(%d+)  ([^\n]+)") do rows[#rows + 1] = { pct, n, where } end
    assert.same({ "60.0", "6", "[user cr3=1234000]" }, rows[1])
    assert.same({ "30.0", "3", "clear_page_rep" }, rows[2])
    assert.same({ "10.0", "1", "startup_64 [idle]" }, rows[3])
  end)

  it("counts a function on the stack once per sample, callers included", function()
    local t = profile.summarize({ p }, map)
    assert.equal(3, t.stack["clear_page_rep"])
    assert.equal(2, t.stack["do_syscall_64"])
  end)

  it("merges several files and shows addresses when there is no map", function()
    local text, t = profile.report({ p, p }, nil, { top = 5 })
    assert.equal(20, t.total)
    assert.matches("from 2 file%(s%)", text)
    assert.matches("0xffffffff81000110", text)
    assert.matches("no System.map", text)
  end)
end)

-- `sm profile` errors before anything runs (sm.cmd.profile).
describe("sm profile (command)", function()
  local run = require "support.run"

  it("refuses a missing command or file, a non-profile file and a bad --map with one line", function()
    local code, _, err = run.sm({ "profile" })
    assert.equal(2, code)
    assert.matches("give the command after %-%-", err)
    code, _, err = run.sm({ "profile", "report" })
    assert.equal(2, code)
    assert.matches("give one or more sample files", err)
    code, _, err = run.sm({ "profile", "report", "/etc/hostname" })
    assert.equal(1, code)
    assert.matches("not an sm profile", err)
    local tmp = os.tmpname()
    local f = assert(io.open(tmp, "w"))
    f:write("sm-profile 1\ninterval_us 1000\nvcpus 1\nticks 1\nsamples 1\nmissed 0\ndropped 0\nstacks 1\n",
      "1 k ffffffff81000110 0\n")
    f:close()
    code, _, err = run.sm({ "profile", "report", "--map", "/nonexistent", tmp })
    assert.equal(1, code)
    assert.matches("^sm profile: System.map: /nonexistent: No such file", err)
    code, _, err = run.sm({ "profile", "--us", "50", "--", "boot" })
    assert.equal(2, code)
    assert.matches("%-%-us must be 100..1000000", err)
    os.remove(tmp)
  end)
end)
