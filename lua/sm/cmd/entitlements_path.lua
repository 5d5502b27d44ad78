-- sm entitlements-path: macOS-only in the original tool; see sm.cli.macos_only.
return require("sm.cli").macos_only("entitlements-path")
