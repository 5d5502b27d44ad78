-- sm codesign and sm entitlements-path: macOS-only in the original tool
-- (Hypervisor.framework entitlements); on Linux they only say so.
local function command(name)
  return {
    summary = "not needed on Linux (macOS code signing in the original tool)",
    usage = "usage: sm " .. name .. [[


On macOS the original tool needs its binaries signed with the Hypervisor
entitlement.  Linux KVM needs no signing: access to /dev/kvm (the kvm
group) is all; `sm setup` checks it.  Prints that and exits 0.
]],
    run = function()
      io.stdout:write("sm ", name, ": not needed on Linux — KVM access is the kvm group; run `sm setup` to check it\n")
      return 0
    end,
  }
end

local M = command("codesign")
M.command = command
return M
