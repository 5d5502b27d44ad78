-- sm entitlements-path: see sm.cmd.codesign.
return require("sm.cmd.codesign").command("entitlements-path")
