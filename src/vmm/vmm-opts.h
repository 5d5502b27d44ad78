#ifndef SM_VMM_OPTS_H
#define SM_VMM_OPTS_H
/* Command-line options of `sm vmm` (docs/vmm.md). */
#include <stdbool.h>
#include <stddef.h>

#define VMM_MAX_DISKS 8

struct vmm_disk {
	const char *path;
	bool ro;
};

struct vmm_opts {
	const char *kvm_path;
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	int memory_mib;
	int vcpus;
	int nr_disks;
	struct vmm_disk disks[VMM_MAX_DISKS];
	int status_fd;
	bool verbose;
	char disk_paths[VMM_MAX_DISKS][4096];
};

/* argv[0] is "vmm".  0, or -1 with msg (one line). */
int vmm_opts__parse(struct vmm_opts *o, int argc, char **argv, char *msg, size_t msglen);
#endif
