-- sm cp: copy a host file or directory tree into a running VM, like docker cp.
local args = require "sm.args"
local errors = require "sm.errors"
local target = require "sm.target"

local M = {}

M.summary = "copy host files into a running VM"
M.usage = [[
usage: sm cp [options] HOST_PATH [TARGET]:/guest/path

Copies HOST_PATH into the running VM TARGET (a detached VM's name, or a
daemon's port, snapshot name or image: then one live worker; omitted, as
in ":/path", the only one running) through its guest agent, as docker cp
and Dockerfile COPY do (docs/agent-protocol.md, section PUT):

  a file to a path ending in "/" lands inside that directory; else at the path
  a directory's contents are copied into /guest/path (made if missing)
  symlinks are copied as symlinks; FIFOs, sockets and devices are refused
  missing parent directories are made 0755, owned like the copy
  modes and mtimes are kept unless --mode is given; owner root unless --owner

options:
  --mode OCTAL     permission bits for every file and directory copied (e.g. 644)
  --owner USER     name, uid, name:group or uid:gid, from the guest's /etc/passwd
  --timeout SEC    give up after SEC seconds (default 300)

Prints "N files, N bytes" on success.  A VM restored from a snapshot baked
by an older sm cannot take copies (its agent predates them): bake it again.
]]

local spec = { { "mode", arg = "OCTAL" }, { "owner", arg = "USER" }, { "timeout", arg = "SEC", type = "int" } }

local function parse_mode(s)
  if s == nil then return nil end
  local digits = s:match("^0?o?([0-7]+)$")
  local m = digits and tonumber(digits, 8)
  if not m or m > 4095 then errors.usage_error("--mode " .. s .. ": must be octal permission bits, 0..7777") end
  return m
end

function M.run(argv)
  local o, rest, positional = args.parse(argv, spec)
  if #rest > 0 or #positional ~= 2 then errors.usage_error("usage: sm cp [options] HOST_PATH [TARGET]:/guest/path") end
  local name, dst = positional[2]:match("^([^:]*):(.*)$")
  if not name or dst:sub(1, 1) ~= "/" then
    errors.usage_error("'" .. positional[2] .. "': the destination is [TARGET]:/absolute/guest/path")
  end
  local mode = parse_mode(o.mode)
  local vm = target.resolve(name ~= "" and name or nil)
  local r = vm:copy(positional[1], dst, { mode = mode, owner = o.owner, timeout = o.timeout })
  io.stdout:write(string.format("%d files, %d bytes\n", r.files, r.bytes))
  return 0
end

return M
