-- Integration helper run inside sm (`sm lua spec/support/copy_client.lua NAME SRC DST [MODE] [OWNER]`):
-- vm:copy(SRC, DST, { mode = tonumber(MODE, 8), owner = OWNER }) on the detached VM NAME.
-- Prints "files=N bytes=N entries=N" (exit 0) or "error=..." (exit 1).
local vm = require "sm.vm"

local name, src, dst, mode, owner = arg[1], arg[2], arg[3], arg[4], arg[5]
local v = assert(vm.attach(name))
local ok, r = pcall(v.copy, v, src, dst, { mode = mode and mode ~= "" and tonumber(mode, 8) or nil,
  owner = owner ~= "" and owner or nil, timeout = 120 })
if not ok then
  io.stdout:write("error=", tostring(r):gsub("\n", " "), "\n")
  return 1
end
io.stdout:write(string.format("files=%d bytes=%d entries=%d\n", r.files, r.bytes, r.entries))
return 0
