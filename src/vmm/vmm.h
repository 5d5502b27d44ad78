#ifndef SM_VMM_VMM_H
#define SM_VMM_VMM_H
/* The state of one `sm vmm` process: its VM, devices and what it was asked to do. */
#include <stdint.h>

#include "snapshot/snapshot.h"
#include "vmm/console.h"
#include "vmm/initchan.h"
#include "vmm/vm.h"
#include "vmm/vmm-opts.h"

#define CMDLINE_MAX 2048

/* Work the main thread does for the vCPU threads (they must not block on it). */
enum vmm_action {
	ACT_SEND_CONFIG = 1 << 0,	/* guest init said hello: send it its workload */
	ACT_SNAPSHOT = 1 << 1,		/* snapshot now, then end the VM */
};

struct serial;
struct i8042;
struct pageops;
struct virtio_rng;
struct virtio_blk;
struct virtio_vsock;
struct virtio_net;
struct egress_policy;

struct vmm {
	struct vm vm;
	struct vmm_opts o;
	struct console console;
	struct initchan chan;
	struct serial *con_uart, *chan_uart;
	struct i8042 *kbd;		/* reboot=k */
	struct pageops *pageops;	/* used by guests booted with sm_pageops */
	struct virtio_rng *rng;
	struct virtio_blk *blk[VMM_MAX_DISKS];
	struct virtio_vsock *vsock;	/* always; its socket with --vsock-uds */
	struct virtio_net *net;		/* --egress only (docs/network.md) */
	struct egress_policy *egress;	/* what net judges by */
	struct snapshot snap;		/* what we restored from, if anything */
	int status_fd;
	int sig_fd;			/* SIGTERM/SIGINT/SIGHUP, blocked and read here */
	int actions;			/* enum vmm_action bits, under vm.end_lock */
	uint64_t t0_ns, first_run_ns, ready_ns, snapshot_at_ns;
	uint64_t standby_ns, go_ns;	/* --standby: set up, and told `go` (its T0_NS) */
	char ctl_line[4096];		/* partial command from --control-fd */
	size_t ctl_len;
	char cmdline[2 * CMDLINE_MAX + 256];	/* checked against CMDLINE_MAX once complete */
};

/* Pause the VM and write a snapshot of it to dir (vmm-snapshot.c). */
int vmm__save(struct vmm *m, const char *dir, char *msg, size_t msglen);
/* Load m->snap's state into the freshly created VM and devices. */
int vmm__restore(struct vmm *m, char *msg, size_t msglen);
/* Just before a restored guest first runs (at once, or at a standby's `go`):
 * for a standby kvmclock and TSCs from the saved values again, so time spent
 * standing by does not show; the vsock transport reset. */
int vmm__resume(struct vmm *m, char *msg, size_t msglen);
#endif
