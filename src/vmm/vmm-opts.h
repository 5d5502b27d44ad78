#ifndef SM_VMM_OPTS_H
#define SM_VMM_OPTS_H
/* Command-line options of `sm vmm` (docs/vmm.md). */
#include <stdbool.h>
#include <stddef.h>

#ifndef VMM_MAX_DISKS		/* -D for measurements only (docs/vmm.md "Disk slots") */
#define VMM_MAX_DISKS 46	/* every VM has this many virtio-blk slots: layers + volumes */
#endif
#define VMM_MAX_INIT 256	/* --init entries */

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
	bool standby;			/* --standby: set up, then wait for `go` (docs/vmm.md) */
	bool no_snapshots;		/* --no-snapshots: never writes one; the sandbox drops file writes */
	const char *vsock_uds;		/* --vsock-uds PATH: virtio-vsock, host side (docs/vsock.md) */
	unsigned long long cid;		/* --cid N: the guest's vsock CID (default 3) */
	const char *egress;		/* --egress POLICY: virtio-net + slirp (docs/network.md); NULL: off */
	int egress_mtu;			/* --egress-mtu N (default NET_MTU_DEFAULT) */
	const char *restore;		/* --restore DIR: start from a snapshot, not a kernel */
	const char *snapshot_on_ready;	/* --snapshot-on-ready DIR: the boot snapshot */
	const char *snapshot_to;	/* --snapshot-to DIR with --snapshot-after-ms N */
	int snapshot_after_ms;
	const char *profile;		/* --profile FILE: sample the guest (docs/profiling.md) */
	int profile_us;			/* --profile-us N: the sampling interval */
	bool profile_paused;		/* --profile-paused: sample from `profile on` */
	int control_fd;			/* --control-fd N: commands, one per line (docs/vmm.md) */
	int nr_init;			/* --init K:VALUE, passed to guest init in CONFIG */
	const char *init[VMM_MAX_INIT];
	int argc;			/* the workload, after "--" */
	char **argv;
	char disk_paths[VMM_MAX_DISKS][4096];
};

/* argv[0] is "vmm"; the workload follows "--".  0, or -1 with msg (one line). */
int vmm_opts__parse(struct vmm_opts *o, int argc, char **argv, char *msg, size_t msglen);
#endif
