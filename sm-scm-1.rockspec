-- luarocks packaging: the Lua modules plus the C core, built by the Makefile.
rockspec_format = "3.0"
package = "sm"
version = "scm-1"
source = { url = "git+file://." }
description = {
  summary = "Run OCI images as hardware-isolated microVMs on Linux KVM",
  detailed = "supermachine: a C core (KVM, virtio, snapshots, OCI) driven by embedded Lua 5.4.",
  license = "MIT",
}
dependencies = { "lua >= 5.4, < 5.5" }
build = {
  type = "make",
  build_target = "all",
  install_target = "install",
  install_variables = { PREFIX = "$(PREFIX)" },
}
