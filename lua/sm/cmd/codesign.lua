-- sm codesign: macOS-only in the original tool (Hypervisor.framework entitlements).
return {
  summary = "not needed on Linux (macOS code signing in the original tool)",
  usage = [[
usage: sm codesign

On macOS the original tool needs its binaries signed with the Hypervisor
entitlement.  Linux KVM needs no signing: access to /dev/kvm (the kvm
group) is all; `sm setup` checks it.  Prints that and exits 0.
]],
  run = function()
    io.stdout:write("sm codesign: not needed on Linux — KVM access is the kvm group; run `sm setup` to check it\n")
    return 0
  end,
}
