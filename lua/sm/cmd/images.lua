-- sm images: list pulled images.
local args = require "sm.args"
local errors = require "sm.errors"
local oci = require "sm.oci"
local cjson = require "cjson"

local usage = [[
usage: sm images [--format table|json]

Lists pulled images: NAME, DIGEST, LAYERS, SIZE, PULLED.
--format json prints one JSON array of the stored records (docs/images.md §4).
]]

local function human(n)
  if n >= 1 << 20 then return string.format("%.1fMB", n / (1 << 20)) end
  return string.format("%.1fkB", n / (1 << 10))
end

return {
  summary = "list pulled images",
  usage = usage,
  run = function(argv)
    local opts, _, pos = args.parse(argv, { { "format", arg = "FMT" } })
    if #pos > 0 then errors.usage_error("takes no arguments — see `sm images --help`") end
    local fmt = opts.format or "table"
    local list = oci.list()
    if fmt == "json" then
      io.stdout:write(#list == 0 and "[]" or cjson.encode(list), "\n")
      return 0
    end
    if fmt ~= "table" then errors.usage_error("--format must be table or json") end
    io.stdout:write(string.format("%-50s %-19s %6s %9s  %s\n", "NAME", "DIGEST", "LAYERS", "SIZE", "PULLED"))
    for _, e in ipairs(list) do
      io.stdout:write(string.format("%-50s %-19s %6d %9s  %s\n", e.name, e.digest:sub(1, 19), #e.layers,
        human(e.size), os.date("!%Y-%m-%d %H:%M", e.pulled_at)))
    end
    return 0
  end,
}
