/*
 * sm-vmm: the VM process alone, without Lua, curl, libarchive or crypto
 * linked in, so a restore does not spend milliseconds in the dynamic loader
 * before its first KVM_RUN.  Same options as `sm vmm` (docs/vmm.md).
 */
#include "vmm/vmm-main.h"

int main(int argc, char **argv)
{
	return vmm__main(argc, argv);
}
