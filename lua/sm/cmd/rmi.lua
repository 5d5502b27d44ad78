-- sm rmi: forget pulled images (the shared layer cache is kept).
local args = require "sm.args"
local errors = require "sm.errors"
local oci = require "sm.oci"

local usage = [[
usage: sm rmi NAME|IMAGE|DIGEST...

Removes images from the local image store.  Layer images and blobs stay in
the cache, shared with other images.
]]

return {
  summary = "remove pulled images",
  usage = usage,
  run = function(argv)
    local _, _, pos = args.parse(argv, {})
    if #pos == 0 then errors.usage_error("needs at least one image — see `sm rmi --help`") end
    local failed
    for _, key in ipairs(pos) do
      local e, err = oci.remove(key)
      if e then
        io.stdout:write("removed ", e.name, "\n")
      else
        io.stderr:write("sm rmi: ", err, "\n")
        failed = true
      end
    end
    return failed and 1 or 0
  end,
}
