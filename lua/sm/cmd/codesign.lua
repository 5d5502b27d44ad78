-- sm codesign: macOS-only in the original tool; see sm.cli.macos_only.
return require("sm.cli").macos_only("codesign")
