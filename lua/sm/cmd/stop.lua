-- sm stop: stop a detached VM: SIGTERM to its workload, then kill it after a grace time.
local args = require "sm.args"
local errors = require "sm.errors"
local target = require "sm.target"

local M = {}

M.summary = "stop a VM started with sm boot --detach"
M.usage = [[
usage: sm stop [options] [TARGET]

Sends SIGTERM to the workload of TARGET (a VM started with
`sm boot --detach --name NAME`; omitted: the only one running) through
its guest agent, waits for the VM to end, and kills the VMM if it is
still running after the grace time.

options:
  --time SEC, -t SEC   grace time in seconds (default 10, 0..600)
]]

local spec = { { "time", short = "t", arg = "SEC", type = "int" } }

function M.run(argv)
  local o, rest, positional = args.parse(argv, spec)
  if #rest > 0 or #positional > 1 then errors.usage_error("usage: sm stop [--time SEC] [TARGET]") end
  local grace = o.time or 10
  if grace < 0 or grace > 600 then errors.usage_error("--time " .. grace .. ": must be 0..600") end
  local vm = target.resolve(positional[1])
  local how = vm:stop(grace)
  if how == "killed" then io.stderr:write("sm stop: ", vm.name, " did not stop in ", grace, " s — killed\n") end
  io.stdout:write(vm.name, "\n")
  return 0
end

return M
