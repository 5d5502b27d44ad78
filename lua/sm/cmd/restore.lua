-- sm restore: continue a snapshot taken with `sm boot --snapshot-to`.
local args = require "sm.args"
local errors = require "sm.errors"
local vm = require "sm.vm"

local M = {}

M.summary = "restore a snapshot and continue it"
M.usage = [==[
usage: sm restore [options] DIR
       sm restore --detach --name NAME [--disk PATH[:ro]]... DIR

Restores the VM snapshot in DIR (written by `sm boot --snapshot-to DIR`)
and continues it exactly where it was: its workload's output follows on
stdout/stderr and sm restore exits with the workload's exit status, as
sm boot does.  Guest RAM is mapped copy-on-write from DIR/mem, so many
restores of one snapshot share its pages.

options:
  --disk PATH[:ro]   re-attach a disk to the next slot (/dev/vda, ...)
  --verbose, -v      show the guest kernel console on stderr
  --egress-policy P  a snapshot taken with egress restores with it and the
                     policy it ran with; this changes the policy
  --enable-egress    (a snapshot taken without egress is refused: a
                     restored VM cannot gain a network device)
  --no-egress        (refused for a snapshot taken with egress: it cannot
                     lose it either) — docs/network.md
  --snapshot-after-ms N --snapshot-to DIR2
                     snapshot the restored VM again after N ms
  --detach, -d       with --name: keep the restored VM running in the
                     background with its own agent socket, as
                     `sm boot --detach` does; print NAME once its agent
                     answers.  Connections that were open when the snapshot
                     was taken are reset; servers in it keep listening, so
                     `sm exec NAME` and the port proxy work at once.
  --name NAME        the detached VM's name

exit status: the workload's; 125 when sm or the VM failed, for instance
a snapshot that is truncated, corrupted, of another format version or
needs CPU features this host lacks.
]==]

local spec = {
  { "disk", arg = "PATH[:ro]", many = true },
  { "verbose", short = "v" },
  { "snapshot-after-ms", arg = "N", type = "int" },
  { "snapshot-to", arg = "DIR" },
  { "detach", short = "d" },
  { "name", arg = "NAME" },
  { "enable-egress" }, { "no-egress" }, { "egress-policy", arg = "P" },
}

function M.run(argv)
  local o, rest, positional = args.parse(argv, spec)
  if #rest > 0 or #positional ~= 1 then errors.usage_error("give one snapshot directory — sm restore DIR") end
  local disks = {}
  for _, d in ipairs(o.disk or {}) do disks[#disks + 1] = vm.parse_disk(d) end
  if o.detach or o.name then
    return vm.detach_named(o, { restore = positional[1], disks = disks, verbose = o.verbose,
      egress = vm.egress_from_flags(o, true) })
  end
  local v = errors.with_exit_code(vm.FAILED, vm.restore, positional[1], { disks = disks, verbose = o.verbose,
    snapshot_after_ms = o.snapshot_after_ms, snapshot_to = o.snapshot_to, egress = vm.egress_from_flags(o, true) })
  return vm.finish("restore", v:wait())
end

return M
