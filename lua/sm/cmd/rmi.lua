-- sm rmi: remove baked snapshots (or, with --pulled, pulled image records).
local args = require "sm.args"
local bake = require "sm.bake"
local core = require "sm.core"
local errors = require "sm.errors"
local oci = require "sm.oci"
local run = require "sm.run"

local usage = [[
usage: sm rmi [-f] [--snapshots-dir DIR] NAME|IMAGE...
       sm rmi --pulled NAME|IMAGE|DIGEST...

Removes baked snapshots, by snapshot name or by the image they were baked
from (every snapshot of that image).  A snapshot a running daemon serves is
refused unless -f (its workers keep running; new ones cannot start).
--pulled removes pulled image records instead.  The layer cache is kept
either way: it is shared by every image.
]]

local function remove_pulled(keys)
  local failed
  for _, key in ipairs(keys) do
    local e, err = oci.remove(key)
    if e then io.stdout:write("removed ", e.name, "\n")
    else io.stderr:write("sm rmi: ", err, "\n") failed = true end
  end
  return failed and 1 or 0
end

local function matching(list, key)
  local out, name = {}, run.snapshot_name(key)
  for _, s in ipairs(list) do
    if s.name == key or s.name == name or s.meta.image == key or s.meta.image_name == key then out[#out + 1] = s end
  end
  return out
end

return {
  summary = "remove baked snapshots (--pulled: pulled images)",
  usage = usage,
  run = function(argv)
    local o, _, pos = args.parse(argv, { { "force", short = "f" }, { "pulled" }, { "snapshots-dir", arg = "DIR" } })
    if #pos == 0 then errors.usage_error("needs at least one snapshot or image — see `sm rmi --help`") end
    if o.pulled then return remove_pulled(pos) end
    local list, failed = bake.list({ snapshots_dir = o.snapshots_dir }), false
    for _, key in ipairs(pos) do
      local found = matching(list, key)
      if #found == 0 then
        io.stderr:write("sm rmi: no snapshot '", key, "' — `sm images` lists them\n")
        failed = true
      end
      for _, s in ipairs(found) do
        local d = bake.served_by(s.dir)
        if d and not o.force then
          io.stderr:write(string.format("sm rmi: snapshot %s is served by the daemon on port %d — `sm run --stop --http-port %d` first, or -f\n",
            s.name, d.port, d.port))
          failed = true
        else
          local ok, err = core.fs.rmtree(s.dir)
          if ok then io.stdout:write("removed ", s.name, "\n")
          else io.stderr:write("sm rmi: ", err, "\n") failed = true end
        end
      end
    end
    return failed and 1 or 0
  end,
}
