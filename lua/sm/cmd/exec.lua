-- sm exec: run a process in a running guest through its agent; the exit code passes through.
local args = require "sm.args"
local vms = require "sm.vm"
local errors = require "sm.errors"
local target = require "sm.target"

local M = {}

M.summary = "run a command in a running guest (exit code passes through)"
M.usage = [[
usage: sm exec [TARGET] [options] -- CMD [ARGS...]

Runs CMD in the running guest TARGET (a VM started with
`sm boot --detach --name NAME`; omitted: the only one running) through
the guest agent, streaming stdin, stdout and stderr.  Ctrl-C and SIGTERM
are passed on to CMD.

options:
  -t, --tty          run CMD on a pseudo-terminal (raw mode here, window
                     size passed on); stdout and stderr arrive merged
  -e, --env K=V      set an environment variable; repeatable
  -w, --workdir DIR  working directory in the guest
  -u, --user USER    name or uid[:gid] (default root)

exit status: CMD's; 128+N if it was killed by signal N; 125 when sm or the
agent failed (message on stderr).
]]

local spec = {
  { "tty", short = "t" },
  { "env", short = "e", arg = "K=V", many = true },
  { "workdir", short = "w", arg = "DIR" },
  { "user", short = "u", arg = "USER" },
  { "interactive", short = "i" },	-- accepted for docker muscle memory: stdin is always passed
}

local EXEC_FAILED = 125

function M.run(argv)
  local o, cmd, positional = args.parse(argv, spec)
  if #positional > 1 then errors.usage_error("unexpected '" .. positional[2] .. "' — put the command after --") end
  if #cmd == 0 then errors.usage_error("no command — e.g. sm exec NAME -- /bin/sh") end
  for _, e in ipairs(o.env or {}) do
    if not e:find("=", 1, true) then errors.usage_error("--env " .. e .. ": expected K=V") end
  end
  local vm = errors.with_exit_code(EXEC_FAILED, target.resolve, positional[1])
  local tty = o.tty and vms.is_terminal(0)
  if o.tty and not tty then io.stderr:write("sm exec: stdin is not a terminal — running without a tty\n") end
  local res = errors.with_exit_code(EXEC_FAILED, vm.exec, vm, { argv = cmd, env = o.env,
    cwd = o.workdir, user = o.user, tty = tty, stdin = 0, stdout_fd = 1, stderr_fd = 2, forward_signals = not tty })
  if res.signal then return 128 + res.signal end
  return res.code
end

return M
