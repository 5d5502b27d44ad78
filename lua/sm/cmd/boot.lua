-- sm boot: boot the built-in guest, run one command in it, pass its exit status through.
local args = require "sm.args"
local errors = require "sm.errors"
local vm = require "sm.vm"

local M = {}

M.summary = "boot the built-in guest and run a command in it"
M.usage = [==[
usage: sm boot [options] -- CMD [ARGS...]
       sm boot --detach --name NAME [options] [-- CMD [ARGS...]]

Starts the built-in minimal guest (kernel + initramfs with busybox) in a
microVM, runs CMD in it, prints its output and exits with its exit status
(128+N if it was killed by signal N).  The guest's kernel console is hidden
unless --verbose or SM_CONSOLE=1.

The first use of a kernel + initramfs (and memory size and vCPU count)
boots it once and saves a boot snapshot; later runs restore that snapshot
instead of booting (SM_BOOT_SNAPSHOT=0 boots every time; SM_TRACE=1 says
which happened).

options:
  --memory MIB       guest RAM (default 128, minimum 64)
  --vcpus N          virtual CPUs, 1..16 (default 1)
  --disk PATH[:ro]   attach a raw disk image as /dev/vda, /dev/vdb, ...
                     (read-write unless :ro); repeatable
  --kernel PATH      boot another uncompressed vmlinux (default: $SM_KERNEL
                     or the one `make` built)
  --verbose, -v      show the guest kernel console on stderr
  --enable-egress    give the guest a network out: eth0 10.0.2.15/24, the
                     host's 127.0.0.1 at 10.0.2.2, user-mode NAT in the
                     VMM (no privileges); policy deny_private unless
                     --egress-policy (docs/network.md)
  --egress-policy P  deny_private | allowlist:CIDRS | denylist:CIDRS
                     (implies --enable-egress)
  --no-egress        no network but lo (the default)
  --detach, -d       with --name: keep the VM running in the background with
                     its guest agent (vsock); print NAME once the agent
                     answers.  CMD, if given, is its workload.  Then use
                     `sm exec NAME -- ...` and `sm stop NAME` (docs/agent-protocol.md)
  --name NAME        the detached VM's name
  --snapshot-after-ms N --snapshot-to DIR
                     N ms after CMD starts, snapshot the VM to DIR and stop
                     it there (exit 0); `sm restore DIR` continues it

exit status: CMD's; 125 when sm or the VM failed (message on stderr).
]==]

local spec = {
  { "memory", arg = "MIB", type = "int" },
  { "vcpus", arg = "N", type = "int" },
  { "disk", arg = "PATH[:ro]", many = true },
  { "kernel", arg = "PATH" },
  { "verbose", short = "v" },
  { "detach", short = "d" },
  { "name", arg = "NAME" },
  { "snapshot-after-ms", arg = "N", type = "int" },
  { "snapshot-to", arg = "DIR" },
  { "enable-egress" }, { "no-egress" }, { "egress-policy", arg = "P" },
}

function M.run(argv)
  local o, cmd, positional = args.parse(argv, spec)
  if #positional > 0 then errors.usage_error("unexpected '" .. positional[1] .. "' — put the command after --") end
  local disks = {}
  for _, d in ipairs(o.disk or {}) do disks[#disks + 1] = vm.parse_disk(d) end
  if o.detach or o.name then
    return vm.detach_named(o, { argv = cmd, memory_mib = o.memory, vcpus = o.vcpus, disks = disks,
      kernel = o.kernel, verbose = o.verbose, egress = vm.egress_from_flags(o) })
  end
  if #cmd == 0 then errors.usage_error("no command — e.g. sm boot -- /bin/echo hello") end
  if (o.snapshot_to == nil) ~= (o.snapshot_after_ms == nil) then
    errors.usage_error("--snapshot-after-ms and --snapshot-to go together")
  end
  local v = errors.with_exit_code(vm.FAILED, vm.boot, { argv = cmd, memory_mib = o.memory, vcpus = o.vcpus,
    disks = disks, kernel = o.kernel, verbose = o.verbose, snapshot_after_ms = o.snapshot_after_ms,
    snapshot_to = o.snapshot_to, egress = vm.egress_from_flags(o) })
  return vm.finish("boot", v:wait())
end

return M
