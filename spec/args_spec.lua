local args = require "sm.args"
local errors = require "sm.errors"

local spec = {
  { "memory", arg = "MIB", type = "int" },
  { "disk", arg = "PATH", many = true },
  { "verbose", short = "v" },
}

local function usage_error(f)
  local ok, e = pcall(f)
  assert.is_false(ok)
  assert.is_true(errors.is_failure(e))
  assert.equal(2, e.code)
  return e.msg
end

describe("sm.args", function()
  it("parses long, inline, repeated and short options and the rest after --", function()
    local o, rest, pos = args.parse({ "--memory", "256", "--disk=a", "--disk", "b", "-v", "x", "--", "echo", "--memory" }, spec)
    assert.equal(256, o.memory)
    assert.same({ "a", "b" }, o.disk)
    assert.is_true(o.verbose)
    assert.same({ "x" }, pos)
    assert.same({ "echo", "--memory" }, rest)
  end)

  it("stops at the first positional when asked", function()
    local _, rest = args.parse({ "-v", "img", "--memory", "1" }, spec, { stop_at_positional = true })
    assert.same({ "img", "--memory", "1" }, rest)
  end)

  it("reports bad input as usage errors", function()
    assert.matches("unknown option '%-%-nope'", usage_error(function() args.parse({ "--nope" }, spec) end))
    assert.matches("needs a value", usage_error(function() args.parse({ "--memory" }, spec) end))
    assert.matches("whole number", usage_error(function() args.parse({ "--memory", "1.5" }, spec) end))
    assert.matches("takes no value", usage_error(function() args.parse({ "--verbose=1" }, spec) end))
  end)
end)
