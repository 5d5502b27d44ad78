-- sm images: list baked snapshots (or, with --pulled, pulled images).
local args = require "sm.args"
local bake = require "sm.bake"
local core = require "sm.core"
local errors = require "sm.errors"
local oci = require "sm.oci"
local cjson = require "cjson"

local usage = [[
usage: sm images [--pulled] [--format table|json] [--snapshots-dir DIR]

Lists the snapshots `sm run` and `sm pull` baked: NAME, IMAGE, MEM (guest
RAM), SIZE (what the snapshot takes on disk; layer images are shared and
not counted), BAKED (UTC).  --pulled lists the pulled images instead
(NAME, DIGEST, LAYERS, SIZE, PULLED; docs/images.md §4).
--format json prints one JSON array of the records (docs/run.md §3 for
snapshots).
]]

local function human(n)
  if n >= 1 << 30 then return string.format("%.1fGB", n / (1 << 30)) end
  if n >= 1 << 20 then return string.format("%.1fMB", n / (1 << 20)) end
  return string.format("%.1fkB", n / (1 << 10))
end

local function disk_bytes(dir)
  local total = 0
  for _, f in ipairs(core.fs.readdir(dir) or {}) do
    local st = core.fs.stat(dir .. "/" .. f)
    if st then total = total + (st.disk_bytes or st.size) end
  end
  return total
end

local function pulled(fmt)
  local list = oci.list()
  if fmt == "json" then
    io.stdout:write(#list == 0 and "[]" or cjson.encode(list), "\n")
    return 0
  end
  io.stdout:write(string.format("%-50s %-19s %6s %9s  %s\n", "NAME", "DIGEST", "LAYERS", "SIZE", "PULLED"))
  for _, e in ipairs(list) do
    io.stdout:write(string.format("%-50s %-19s %6d %9s  %s\n", e.name, e.digest:sub(1, 19), #e.layers,
      human(e.size), os.date("!%Y-%m-%d %H:%M", e.pulled_at)))
  end
  return 0
end

return {
  summary = "list baked snapshots (--pulled: pulled images)",
  usage = usage,
  run = function(argv)
    local opts, _, pos = args.parse(argv, { { "format", arg = "FMT" }, { "pulled" }, { "snapshots-dir", arg = "DIR" } })
    if #pos > 0 then errors.usage_error("takes no arguments — see `sm images --help`") end
    local fmt = opts.format or "table"
    if fmt ~= "table" and fmt ~= "json" then errors.usage_error("--format must be table or json") end
    if opts.pulled then return pulled(fmt) end
    local list = bake.list({ snapshots_dir = opts.snapshots_dir })
    if fmt == "json" then
      local rows = {}
      for i, s in ipairs(list) do
        s.meta.dir, s.meta.disk_bytes = s.dir, disk_bytes(s.dir .. "/vm")
        rows[i] = s.meta
      end
      io.stdout:write(#rows == 0 and "[]" or cjson.encode(rows), "\n")
      return 0
    end
    io.stdout:write(string.format("%-28s %-44s %-24s %6s %9s  %s\n", "NAME", "IMAGE", "RECIPE", "MEM", "SIZE", "BAKED"))
    for _, s in ipairs(list) do
      local recipe = type(s.meta.recipe) == "string" and s.meta.recipe:match("([^/]+)$") or "-"
      if recipe ~= "-" and type(s.meta.service) == "string" then recipe = recipe .. ":" .. s.meta.service end
      io.stdout:write(string.format("%-28s %-44s %-24s %6s %9s  %s\n", s.name, s.meta.image, recipe,
        string.format("%dM", math.tointeger(s.meta.memory_mib) or 0), human(disk_bytes(s.dir .. "/vm")),
        os.date("!%Y-%m-%d %H:%M", math.tointeger(s.meta.baked_at) or 0)))
    end
    return 0
  end,
}
