-- sm.args: a small getopt for commands.
--   local opts, rest = args.parse(argv, {
--     { "memory", arg = "MIB", type = "int" }, { "disk", arg = "PATH", many = true },
--     { "verbose", short = "v" } })
-- Long options take `--name VALUE` or `--name=VALUE`; everything after `--`
-- (or, with stop_at_positional, from the first positional on) is returned in rest.
-- Errors raise sm.errors usage failures (exit 2).
local errors = require "sm.errors"

local M = {}

local function find(spec, key)
  for _, o in ipairs(spec) do
    if o[1] == key or (o.short and o.short == key) then return o end
  end
end

local function convert(o, name, v)
  if o.type == "int" then
    local n = math.tointeger(tonumber(v))
    if not n then errors.usage_error("--" .. name .. " needs a whole number, got '" .. v .. "'") end
    return n
  end
  return v
end

local function store(opts, o, v)
  local key = o[1]:gsub("%-", "_")
  if o.many then
    opts[key] = opts[key] or {}
    table.insert(opts[key], v)
  else
    opts[key] = v
  end
end

function M.parse(argv, spec, flags)
  flags = flags or {}
  local opts, rest, positional = {}, {}, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      table.move(argv, i + 1, #argv, 1, rest)
      break
    end
    local name, inline = a:match("^%-%-([^=]+)=(.*)$")
    if not name then name = a:match("^%-%-(.+)$") or a:match("^%-(%w)$") end
    if name then
      local o = find(spec, name)
      if not o then errors.usage_error("unknown option '" .. a .. "' — see --help") end
      if o.arg then
        local v = inline
        if v == nil then
          i = i + 1
          v = argv[i]
          if v == nil then errors.usage_error("option --" .. o[1] .. " needs a value (" .. o.arg .. ")") end
        end
        store(opts, o, convert(o, o[1], v))
      else
        if inline ~= nil then errors.usage_error("option --" .. o[1] .. " takes no value") end
        store(opts, o, true)
      end
    elseif flags.stop_at_positional then
      table.move(argv, i, #argv, 1, rest)
      break
    else
      positional[#positional + 1] = a
    end
    i = i + 1
  end
  return opts, rest, positional
end

return M
