/*
 * `sm vmm`: one VM in this process (docs/vmm.md).  Sets up KVM, devices
 * and the kernel, runs the vCPUs and reports how the VM ended on the
 * status fd as one "key=value ..." line (the Lua side reads it).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/i8042.h"
#include "devices/pageops.h"
#include "devices/serial.h"
#include "devices/virtio-blk.h"
#include "devices/virtio-net.h"
#include "devices/virtio-rng.h"
#include "devices/virtio-vsock.h"
#include "net/egress-policy.h"
#include "util/fds.h"
#include "vmm/boot.h"
#include "vmm/console.h"
#include "vmm/control.h"
#include "vmm/initchan.h"
#include "vmm/kvm.h"
#include "vmm/log.h"
#include "vmm/profile.h"
#include "vmm/sandbox.h"
#include "vmm/vcpu.h"
#include "util/fds.h"
#include "vmm/vmm-main.h"
#include "vmm/vmm-opts.h"
#include "vmm/vmm.h"
#include "util/clock.h"

/* Kernel switches for kvm_pvm hosts: docs/emulating-hosts.md explains each. */
#define EMULATING_HOST_CMDLINE " clearcpuid=151,297,308,320,321,322,323,580 sm_pfsyscall noreplace-smp clocksource=kvm-clock"

/* 0, or -errno (e.g. -EPIPE when the reader is gone) */
static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void status_printf(struct vmm *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void status_printf(struct vmm *m, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (m->status_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write_all(m->status_fd, line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
		m->status_fd = -1;
}

/* Where the host's wait starts: spawn (SM_T0_NS), or `go` for a standby. */
static uint64_t start_ns(struct vmm *m)
{
	return m->go_ns ? m->go_ns : m->t0_ns;
}

/* ---- the init channel (second UART) ---- */

/* Ask the main thread to do something (vCPU threads must not block on it). */
static void request(struct vmm *m, int action)
{
	pthread_mutex_lock(&m->vm.end_lock);
	m->actions |= action;
	pthread_cond_broadcast(&m->vm.end_cond);
	pthread_mutex_unlock(&m->vm.end_lock);
}

static void chan_hello(void *ctx, int version)
{
	struct vmm *m = ctx;

	(void)version;
	m->ready_ns = clock__ns();
	status_printf(m, "ready ready_us=%" PRIu64 "\n", (m->ready_ns - start_ns(m)) / 1000);
	request(m, m->o.snapshot_on_ready ? ACT_SNAPSHOT : ACT_SEND_CONFIG);
}

/* The workload's output.  When nobody reads it any more the VM ends, as a
 * process would on SIGPIPE (`sm boot ... | head` must not run forever). */
static void chan_output(void *ctx, int stream, const uint8_t *buf, uint32_t len)
{
	struct vmm *m = ctx;

	if (write_all(stream, buf, len) == -EPIPE)
		vm__end(&m->vm, VM_END_KILLED, SIGPIPE, "the workload's %s was closed",
			stream == 1 ? "stdout" : "stderr");
}

static void chan_exit(void *ctx, bool signaled, int value)
{
	struct vmm *m = ctx;

	vm__end(&m->vm, signaled ? VM_END_SIGNAL : VM_END_EXIT, value,
		signaled ? "workload killed by signal %d" : "workload exited with %d", value);
}

/* Init has mounted the rootfs and waits for its workload: a "ready" bake
 * point (docs/init-channel.md). */
static void chan_prepared(void *ctx)
{
	struct vmm *m = ctx;

	status_printf(m, "prepared prepared_us=%" PRIu64 "\n", (clock__ns() - start_ns(m)) / 1000);
}

static void chan_log(void *ctx, const char *line)
{
	(void)ctx;
	log__info("guest init: %s", line);
}

static void chan_error(void *ctx, const char *why)
{
	(void)ctx;
	log__warn("init channel: %s — ignoring the rest of it", why);
}

static const struct initchan_ops chan_ops = {
	chan_hello, chan_output, chan_exit, chan_log, chan_error, chan_prepared,
};

static void chan_byte(void *ctx, uint8_t b)
{
	initchan__byte(&((struct vmm *)ctx)->chan, b);
}

static void console_byte(void *ctx, uint8_t b)
{
	console__byte(&((struct vmm *)ctx)->console, b);
}

/* ---- set-up ---- */

/* virtio-net only with --egress.  A snapshot has it exactly when it was
 * taken with egress, and restores only with it: a restored guest neither
 * loses nor silently gains a network (docs/network.md). */
static int setup_net(struct vmm *m, char *msg, size_t msglen)
{
	int mtu = m->o.restore ? m->snap.meta.net_mtu : m->o.egress ? m->o.egress_mtu : 0;
	char err[256];
	size_t len;

	if (m->o.restore && !mtu != !m->o.egress) {
		snprintf(msg, msglen, mtu ? "snapshot %s was taken with egress: restore it with --egress POLICY" :
			 "snapshot %s was taken without egress: a restored VM cannot gain a network device "
			 "(boot or bake it with egress)", m->o.restore);
		return -1;
	}
	if (!mtu)
		return 0;
	m->egress = calloc(1, sizeof(*m->egress));
	if (!m->egress || egress_policy__parse(m->o.egress, m->egress, err, sizeof(err)) < 0) {
		snprintf(msg, msglen, "--egress %s: %s", m->o.egress, m->egress ? err : "out of memory");
		return -1;
	}
	m->net = virtio_net__new(&m->vm, m->egress, m->o.egress, mtu, m->cmdline, sizeof(m->cmdline),
				 msg, msglen);
	if (!m->net)
		return -1;
	len = strlen(m->cmdline);		/* guest init configures eth0 from it */
	virtio_net__cmdline(m->net, m->cmdline + len, sizeof(m->cmdline) - len);
	return 0;
}

static int setup_devices(struct vmm *m, char *msg, size_t msglen)
{
	struct vm *vm = &m->vm;

	m->con_uart = serial__new(vm, 0x3f8, 4, console_byte, m);
	m->chan_uart = serial__new(vm, 0x2f8, 3, chan_byte, m);
	m->kbd = i8042__new(vm);
	/* always: a snapshot of a guest booted with sm_pageops keeps using it */
	m->pageops = pageops__new(vm);
	m->rng = virtio_rng__new(vm, m->cmdline, sizeof(m->cmdline));
	if (!m->con_uart || !m->chan_uart || !m->kbd || !m->pageops || !m->rng) {
		snprintf(msg, msglen, "device set-up failed");
		return -1;
	}
	for (int i = 0; i < VMM_MAX_DISKS; i++) {
		m->blk[i] = virtio_blk__new(vm, m->cmdline, sizeof(m->cmdline));
		if (!m->blk[i]) {
			snprintf(msg, msglen, "device set-up failed: no virtio-mmio slot for disk %d", i);
			return -1;
		}
	}
	/* always there, so a snapshot of any VM restores with or without a socket */
	m->vsock = virtio_vsock__new(vm, m->o.cid, m->o.vsock_uds, m->cmdline, sizeof(m->cmdline),
				     msg, msglen);
	if (!m->vsock)
		return -1;
	return setup_net(m, msg, msglen);
}

/* The read-only disks, the read-write ones, or both.  A standby attaches
 * its read-write ones only at go: each is locked by one VM at a time, and
 * the worker the standby comes to replace may hold it until then. */
static int attach_disks(struct vmm *m, bool ro, bool rw, char *msg, size_t msglen)
{
	for (int i = 0; i < m->o.nr_disks; i++) {
		if (m->o.disks[i].ro ? !ro : !rw)
			continue;
		if (virtio_blk__attach(m->blk[i], m->o.disks[i].path, m->o.disks[i].ro, msg, msglen) < 0)
			return -1;
	}
	return 0;
}

/* The guest's name for disk slot i, as virtio_blk names them in probe
 * order: vda..vdz, vdaa.. (drivers/block/virtio_blk.c, virtblk_name_format). */
static void disk_name(int i, char *out, size_t len)
{
	char tmp[8];
	int n = 0;

	do {
		tmp[n++] = (char)('a' + i % 26);
		i = i / 26 - 1;
	} while (i >= 0 && n < (int)sizeof(tmp));
	snprintf(out, len, "vd");
	for (size_t o = 2; n > 0 && o + 1 < len; o++) {
		out[o] = tmp[--n];
		out[o + 1] = '\0';
	}
}

#define CONFIG_ENTRIES (2 * VMM_MAX_DISKS + VMM_MAX_INIT + 64)

struct config_list {
	const char *strs[CONFIG_ENTRIES];
	char kinds[CONFIG_ENTRIES];
	char names[VMM_MAX_DISKS][8], sizes[VMM_MAX_DISKS][40];
	int n;
};

static void config_add(struct config_list *l, char kind, const char *str)
{
	if (l->n < CONFIG_ENTRIES) {
		l->kinds[l->n] = kind;
		l->strs[l->n++] = str;
	}
}

/* Disks first (init waits for them before it mounts anything), then the
 * --init entries, then the workload's argv: docs/init-channel.md */
static void config_fill(struct vmm *m, struct config_list *l)
{
	for (int i = 0; i < m->o.nr_disks; i++) {
		char name[sizeof(l->names[i])];

		/* from a local copy: GCC cannot tell names[] and sizes[] apart (-Wrestrict) */
		disk_name(i, name, sizeof(name));
		memcpy(l->names[i], name, sizeof(name));
		snprintf(l->sizes[i], sizeof(l->sizes[i]), "%s:%llu", name,
			 (unsigned long long)virtio_blk__sectors(m->blk[i]));
		config_add(l, IC_CFG_DISK, l->sizes[i]);
		if (m->o.disks[i].ro)
			config_add(l, IC_CFG_RO_DISK, l->names[i]);
	}
	for (int i = 0; i < m->o.nr_init; i++)
		config_add(l, m->o.init[i][0], m->o.init[i] + 2);
	for (int i = 0; i < m->o.argc && i < 64; i++)
		config_add(l, IC_CFG_ARG, m->o.argv[i]);
}

/* Fresh randomness and a worker identity for this boot or restore, queued
 * before anything the guest reads after it runs (docs/clone-safety.md). */
static int send_entropy(struct vmm *m)
{
	uint8_t seed[INITCHAN_SEED_BYTES], id[INITCHAN_WORKER_ID_BYTES], frame[INITCHAN_ENTROPY_FRAME];

	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed) ||
	    getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
		vm__end(&m->vm, VM_END_CRASH, 0, "getrandom failed: the guest would share its random state with its clones");
		return -1;
	}
	initchan__encode_entropy(frame, seed, id);
	if (serial__receive(m->chan_uart, frame, sizeof(frame)) != sizeof(frame)) {
		vm__end(&m->vm, VM_END_CRASH, 0, "init channel: no room for the ENTROPY frame");
		return -1;
	}
	return 0;
}

static int send_config(struct vmm *m)
{
	static uint8_t frame[4 + INITCHAN_MAX_PAYLOAD];
	static struct config_list l;
	int len;

	l.n = 0;
	config_fill(m, &l);
	len = initchan__encode_config(frame, l.kinds, l.strs, l.n);
	if (len < 0 || m->o.argc > 64) {
		vm__end(&m->vm, VM_END_CRASH, 0, "the workload's configuration is too long (over 4 KiB or 64 arguments)");
		return -1;
	}
	if (!m->o.restore && send_entropy(m) < 0)
		return -1;
	if (serial__receive(m->chan_uart, frame, (size_t)len) != (size_t)len) {
		vm__end(&m->vm, VM_END_CRASH, 0, "init channel: guest is not reading its input");
		return -1;
	}
	if (m->o.snapshot_after_ms)
		m->snapshot_at_ns = clock__ns() + (uint64_t)m->o.snapshot_after_ms * 1000000ULL;
	return 0;
}

/* The VM's shape: from the options, or from the snapshot we restore. */
static int create_vm(struct vmm *m, char *msg, size_t msglen)
{
	struct vm *vm = &m->vm;
	int mem_fd = -1;

	vm->kvm_fd = kvm__open(m->o.kvm_path, msg, msglen);
	if (vm->kvm_fd < 0)
		return -1;
	vm->emulating_host = kvm__emulating_host();
	if (m->o.restore) {
		if (snapshot__open(&m->snap, vm, m->o.restore, msg, msglen) < 0)
			return -1;
		if (m->snap.meta.disk_slots != VMM_MAX_DISKS) {
			snprintf(msg, msglen, "snapshot %s has %d disk slots, this sm has %d — re-create the snapshot",
				 m->o.restore, m->snap.meta.disk_slots, VMM_MAX_DISKS);
			return -1;
		}
		m->o.vcpus = m->snap.meta.vcpus;
		m->o.memory_mib = (int)(m->snap.meta.mem_bytes >> 20);
		mem_fd = m->snap.mem_fd;
	}
	vm->nr_vcpus = m->o.vcpus;
	if (vm__create(vm, (uint64_t)m->o.memory_mib, mem_fd, msg, msglen) < 0)
		return -1;
	for (int i = 0; i < m->o.vcpus; i++)
		if (vcpu__create(vm, i, msg, msglen) < 0)
			return -1;
	return setup_devices(m, msg, msglen);
}

static int setup_boot(struct vmm *m, char *msg, size_t msglen)
{
	struct boot_info bi = { 0 };
	int r;

	if (attach_disks(m, true, true, msg, msglen) < 0 ||
	    boot__load(&m->vm, m->o.kernel, m->o.initrd, m->cmdline, &bi, msg, msglen) < 0)
		return -1;
	r = vcpu__setup_boot(m->vm.vcpus[0], &bi);
	if (r < 0) {
		snprintf(msg, msglen, "boot vCPU registers: %s", strerror(-r));
		return -1;
	}
	log__info("cmdline: %s", m->cmdline);
	return 0;
}

/* The guest's wall clock stood still while it was a snapshot: init sets it
 * from this frame, queued before anything else the guest reads. */
static void send_time(struct vmm *m)
{
	uint8_t frame[INITCHAN_TIME_FRAME];
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	initchan__encode_time(frame, (int64_t)ts.tv_sec, (uint32_t)ts.tv_nsec);
	if (serial__receive(m->chan_uart, frame, sizeof(frame)) != sizeof(frame))
		log__warn("init channel: no room for the TIME frame — the guest clock stays behind");
}

/* Everything a restore does that does not depend on when the guest
 * resumes: a standby VM stops after this until `go`. */
static int setup_restore(struct vmm *m, char *msg, size_t msglen)
{
	if (vmm__restore(m, msg, msglen) < 0 || attach_disks(m, true, !m->o.standby, msg, msglen) < 0)
		return -1;
	return 0;
}

/* What must be fresh when the guest resumes: its wall clock and entropy
 * (two workers must never share it, docs/clone-safety.md).  Disks attached
 * get a config-change interrupt now; a boot snapshot's init is waiting for
 * its CONFIG frame, so the workload starts at once. */
static int resume_restore(struct vmm *m, char *msg, size_t msglen)
{
	if (vmm__resume(m, msg, msglen) < 0 ||
	    (m->o.standby && attach_disks(m, false, true, msg, msglen) < 0))
		return -1;
	send_time(m);
	if (send_entropy(m) < 0) {
		snprintf(msg, msglen, "%s", m->vm.end_msg);
		return -1;
	}
	for (int i = 0; i < m->o.nr_disks; i++)
		virtio_blk__announce(m->blk[i]);
	if (m->o.argc > 0 || m->o.nr_init > 0)
		request(m, ACT_SEND_CONFIG);	/* the snapshot timer starts with the workload */
	else if (m->o.snapshot_after_ms)	/* the workload runs already */
		m->snapshot_at_ns = clock__ns() + (uint64_t)m->o.snapshot_after_ms * 1000000ULL;
	return 0;
}

static int setup(struct vmm *m, char *msg, size_t msglen)
{
	/* before the devices: they append their declarations to it */
	snprintf(m->cmdline, sizeof(m->cmdline), "%s%s", m->o.cmdline,
		 kvm__emulating_host() ? EMULATING_HOST_CMDLINE : "");
	if (create_vm(m, msg, msglen) < 0)
		return -1;
	if (!m->o.restore && strlen(m->cmdline) >= CMDLINE_MAX) {
		snprintf(msg, msglen, "the kernel command line is %zu bytes with the VMM's %d device declarations "
			 "(the kernel takes %d) — shorten --cmdline", strlen(m->cmdline), m->vm.nr_virtio,
			 CMDLINE_MAX - 1);
		return -1;
	}
	return m->o.restore ? setup_restore(m, msg, msglen) : setup_boot(m, msg, msglen);
}

/* ---- running ---- */

static const char *end_name(enum vm_end e)
{
	static const char *names[] = { "running", "exit", "signal", "poweroff", "reboot", "panic",
				       "crash", "killed", "snapshot" };

	return e < sizeof(names) / sizeof(names[0]) ? names[e] : "unknown";
}

static void snapshot_and_end(struct vmm *m, const char *dir)
{
	char msg[512];

	if (vmm__save(m, dir, msg, sizeof(msg)) < 0)
		vm__end(&m->vm, VM_END_CRASH, 0, "%s", msg);
	else
		vm__end(&m->vm, VM_END_SNAPSHOT, 0, "snapshot written to %s", dir);
}

/* `snapshot DIR`: pause, write DIR, carry on (vm:snapshot in Lua). */
static void control_snapshot(struct vmm *m, const char *dir)
{
	char msg[512];

	if (vmm__save(m, dir, msg, sizeof(msg)) < 0)
		status_printf(m, "snapshotted error msg=%s\n", msg);
	else
		status_printf(m, "snapshotted ok msg=%s\n", dir);
	vm__resume_all(&m->vm);
}

/* One line from the host (len bytes, no '\n'): `go` only while standing by,
 * `snapshot` only once the vCPUs run (there is nothing to pause before). */
static void control_command(struct vmm *m, const char *line, size_t len)
{
	struct control_cmd c;
	char msg[256];
	uint64_t now = clock__ns();

	if (control__parse(line, len, now, &c, msg, sizeof(msg)) < 0)
		status_printf(m, "control error msg=%s\n", msg);
	else if (c.kind == CONTROL_GO && (!m->o.standby || m->go_ns))
		status_printf(m, "control error msg=go: this VM is not standing by\n");
	else if (c.kind == CONTROL_GO)
		m->go_ns = c.t0_ns ? c.t0_ns : now;
	else if (c.kind == CONTROL_PROFILE && profile__set_sampling(&m->vm, c.on) < 0)
		status_printf(m, "control error msg=profile: this VM runs without --profile\n");
	else if (c.kind == CONTROL_PROFILE)
		status_printf(m, "profiling %s\n", c.on ? "on" : "off");
	else if (m->o.no_snapshots)
		status_printf(m, "snapshotted error msg=%s: this VMM was started with --no-snapshots\n", c.dir);
	else if (!m->first_run_ns)
		status_printf(m, "control error msg=snapshot: the VM has not run yet (send go first)\n");
	else
		control_snapshot(m, c.dir);
}

/* Commands from the host, one per line; a line too long is refused. */
static void read_control(struct vmm *m)
{
	ssize_t n;
	char *nl;

	if (m->o.control_fd < 0)
		return;
	n = read(m->o.control_fd, m->ctl_line + m->ctl_len, sizeof(m->ctl_line) - 1 - m->ctl_len);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		m->o.control_fd = -1;		/* the host closed it: no more commands */
		return;
	}
	if (n > 0)
		m->ctl_len += (size_t)n;
	while ((nl = memchr(m->ctl_line, '\n', m->ctl_len))) {
		*nl = '\0';			/* snapshot's DIR is a C string */
		control_command(m, m->ctl_line, (size_t)(nl - m->ctl_line));
		m->ctl_len -= (size_t)(nl + 1 - m->ctl_line);
		memmove(m->ctl_line, nl + 1, m->ctl_len);
	}
	if (m->ctl_len == sizeof(m->ctl_line) - 1) {
		status_printf(m, "control error msg=command too long\n");
		m->ctl_len = 0;
	}
}

/* SIGTERM/SIGINT/SIGHUP end the VM as killed, read from a signalfd; blocked
 * before any thread exists, so every thread inherits the mask. */
static int block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void read_signal(struct vmm *m)
{
	struct signalfd_siginfo si;

	if (read(m->sig_fd, &si, sizeof(si)) == sizeof(si))
		vm__end(&m->vm, VM_END_KILLED, (int)si.ssi_signo, "stopped by signal %u", si.ssi_signo);
}

/* A standby VM, set up but never run, waits here for `go`, a signal, or its
 * control fd to close (the host is gone: no standby outlives it). */
static void stand_by(struct vmm *m)
{
	m->standby_ns = clock__ns();
	status_printf(m, "standby standby_us=%" PRIu64 "\n", (m->standby_ns - m->t0_ns) / 1000);
	while (!m->go_ns && !vm__ended(&m->vm)) {
		struct pollfd p[2] = { { m->o.control_fd, POLLIN, 0 }, { m->sig_fd, POLLIN, 0 } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			vm__end(&m->vm, VM_END_CRASH, 0, "standby: poll: %s", strerror(errno));
		read_control(m);
		read_signal(m);
		if (m->o.control_fd < 0)
			vm__end(&m->vm, VM_END_KILLED, 0, "standby: the control fd closed before go");
	}
}

/* Runs what the vCPU threads asked for, and the timed snapshot. */
static void do_actions(struct vmm *m, int actions)
{
	if (actions & ACT_SEND_CONFIG)
		send_config(m);
	if (m->snapshot_at_ns && clock__ns() >= m->snapshot_at_ns) {
		m->snapshot_at_ns = 0;
		snapshot_and_end(m, m->o.snapshot_to);
	}
	if (actions & ACT_SNAPSHOT)
		snapshot_and_end(m, m->o.snapshot_on_ready);
}

/* Waits for the VM to end or for SIGTERM/SIGINT/SIGHUP (which end it as
 * killed), doing the main thread's actions meanwhile. */
static void wait_end(struct vmm *m)
{
	struct vm *vm = &m->vm;

	pthread_mutex_lock(&vm->end_lock);
	while (vm->end == VM_RUNNING) {
		struct timespec ts;
		int actions = m->actions;

		m->actions = 0;
		pthread_mutex_unlock(&vm->end_lock);
		do_actions(m, actions);
		read_control(m);
		read_signal(m);
		pthread_mutex_lock(&vm->end_lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (vm->end == VM_RUNNING && !m->actions)
			pthread_cond_timedwait(&vm->end_cond, &vm->end_lock, &ts);
	}
	pthread_mutex_unlock(&vm->end_lock);
}

/* After set-up the VMM needs only what its devices, snapshots and vCPUs do
 * (sandbox.c).  SM_VMM_SANDBOX_PROBE=execve (or mkdir: forbidden only with
 * --no-snapshots) tries that call once inside, so a test can see the
 * sandbox is on. */
static int enter_sandbox(struct vmm *m)
{
	char msg[256] = "";
	const char *probe = getenv("SM_VMM_SANDBOX_PROBE");

	if (probe && strcmp(probe, "mkdir") == 0) {
		if (sandbox__enter(m->status_fd, !m->o.no_snapshots, m->net != NULL, msg, sizeof(msg)) == 0)
			mkdir("/proc/sm-sandbox-probe", 0700);	/* fails (EEXIST/EACCES…) if allowed */
		vm__end(&m->vm, VM_END_CRASH, 0, "sandbox probe: mkdir was allowed%s%s", msg[0] ? ": " : "", msg);
		return -1;
	}
	if (sandbox__enter(m->status_fd, !m->o.no_snapshots, m->net != NULL, msg, sizeof(msg)) < 0) {
		vm__end(&m->vm, VM_END_CRASH, 0, "%s", msg);
		return -1;
	}
	if (probe && strcmp(probe, "execve") == 0) {
		char *argv[] = { "/bin/true", NULL };

		execve(argv[0], argv, environ);
		vm__end(&m->vm, VM_END_CRASH, 0, "sandbox probe: execve was allowed (%s)", strerror(errno));
		return -1;
	}
	return 0;
}

/* Host set-up the guest waited for, in µs: start_ns to the first KVM_RUN;
 * 0 if it never ran. */
static uint64_t setup_us(struct vmm *m)
{
	return m->first_run_ns > start_ns(m) ? (m->first_run_ns - start_ns(m)) / 1000 : 0;
}

/* The samples go to their file when the VM has ended; failing to write
 * them is said, but does not change how the VM ended. */
static void finish_profile(struct vmm *m)
{
	char msg[512];

	if (profile__finish(&m->vm, msg, sizeof(msg)) < 0)
		log__warn("%s", msg);
}

static int run(struct vmm *m)
{
	struct vm *vm = &m->vm;

	if (m->o.vsock_uds && virtio_vsock__start(m->vsock) < 0)
		vm__end(vm, VM_END_CRASH, 0, "vsock: cannot listen or start its thread");
	if (m->net && virtio_net__start(m->net) < 0)
		vm__end(vm, VM_END_CRASH, 0, "egress: cannot start the slirp thread");
	m->first_run_ns = clock__ns();
	/* the vsock socket accepts from here: a supervisor may send clients now */
	if (m->o.standby)
		status_printf(m, "running setup_us=%" PRIu64 " standby_us=%" PRIu64 "\n", setup_us(m),
			      (m->standby_ns - m->t0_ns) / 1000);
	else
		status_printf(m, "running setup_us=%" PRIu64 "\n", setup_us(m));
	for (int i = 0; i < vm->nr_vcpus; i++) {
		int r = vcpu__start(vm->vcpus[i]);

		if (r < 0) {
			vm__end(vm, VM_END_CRASH, 0, "vCPU thread: %s", strerror(-r));
			break;
		}
	}
	if (!vm__ended(vm) && profile__start(vm) < 0)
		log__warn("--profile: cannot start the sampler thread — no samples");
	wait_end(m);
	for (int i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i]->thread)
			vcpu__kick(vm->vcpus[i]);
	finish_profile(m);
	if (vm->end == VM_END_REBOOT && console__panicked(&m->console)) {
		vm->end = VM_END_PANIC;
		snprintf(vm->end_msg, sizeof(vm->end_msg), "%s", console__panic_line(&m->console));
	}
	return 0;
}

static int report(struct vmm *m)
{
	struct vm *vm = &m->vm;
	uint64_t ready = m->ready_ns > start_ns(m) ? (m->ready_ns - start_ns(m)) / 1000 : 0;
	uint64_t pages_done = 0, pages_refused = 0;

	if (m->pageops)
		pageops__counts(m->pageops, &pages_done, &pages_refused);
	status_printf(m, "end=%s value=%d setup_us=%" PRIu64 " ready_us=%" PRIu64
		      " emul_exits=%" PRIu64 " page_ops=%" PRIu64 " page_ops_refused=%" PRIu64 " msg=%s\n",
		      end_name(vm->end), vm->end_value, setup_us(m), ready,
		      __atomic_load_n(&vm->emul_exits, __ATOMIC_RELAXED), pages_done, pages_refused, vm->end_msg);
	if (vm->end == VM_END_PANIC || vm->end == VM_END_CRASH) {
		if (!log__verbose)
			console__dump_tail(&m->console, 2);
		if (m->status_fd < 0)
			log__warn("%s", vm->end_msg);
	}
	switch (vm->end) {
	case VM_END_SNAPSHOT: return 0;
	case VM_END_EXIT: return vm->end_value & 0xff;
	case VM_END_SIGNAL: return 128 + (vm->end_value & 0x7f);
	default: return 1;
	}
}

/* Set up; a standby then waits for `go` before the fresh part of its restore. */
static int prepare(struct vmm *m, char *msg, size_t msglen)
{
	if (setup(m, msg, msglen) < 0)
		return -1;
	if (enter_sandbox(m) < 0)		/* the VM has ended: report() says why */
		return 0;
	if (m->o.standby)
		stand_by(m);
	if (m->o.restore && !vm__ended(&m->vm))
		return resume_restore(m, msg, msglen);
	return 0;
}

/* The VM lives as long as the process: kept reachable here, freed by exit. */
static struct vmm *volatile the_vmm;

int vmm__main(int argc, char **argv)
{
	struct vmm *m = the_vmm = calloc(1, sizeof(*m));
	char msg[512] = "";
	const char *t0 = getenv("SM_T0_NS");
	int code;

	if (!m)
		return 1;
	m->t0_ns = t0 ? strtoull(t0, NULL, 10) : clock__ns();
	signal(SIGPIPE, SIG_IGN);	/* a detached VM's status reader goes away; sockets too */
	signal(SIGXFSZ, SIG_IGN);	/* a file-size limit fails a snapshot write with EFBIG */
	m->vm.vm_fd = -1;
	if (vmm_opts__parse(&m->o, argc, argv, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "sm vmm: %s\n", msg);
		return 2;
	}
	m->status_fd = m->o.status_fd;
	/* nothing a parent leaked stays open in a VMM: only stdio, the status
	 * and control fds it was given */
	int keep[2] = { m->o.status_fd, m->o.control_fd }, r = fds__sweep(keep, 2);

	if (r < 0) {
		fprintf(stderr, "sm vmm: closing inherited file descriptors: %s\n", strerror(-r));
		return 1;
	}
	if (m->o.control_fd >= 0)
		fcntl(m->o.control_fd, F_SETFL, O_NONBLOCK);
	log__verbose = m->o.verbose;
	console__init(&m->console, m->o.verbose ? 2 : -1);
	initchan__init(&m->chan, &chan_ops, m);
	m->sig_fd = block_signals();
	if ((m->o.profile && profile__open(&m->vm, m->o.profile, (unsigned)m->o.profile_us, msg,
					   sizeof(msg)) < 0) ||
	    (m->o.profile_paused && profile__set_sampling(&m->vm, 0) < 0) ||
	    prepare(m, msg, sizeof(msg)) < 0) {
		status_printf(m, "end=error value=0 msg=%s\n", msg);
		if (m->status_fd < 0)
			fprintf(stderr, "sm vmm: %s\n", msg);
		return 1;
	}
	if (!vm__ended(&m->vm))		/* a standby may have ended waiting */
		run(m);
	code = report(m);
	fflush(NULL);
	/* no vm__destroy: vCPU threads may still be in KVM_RUN, and the process
	 * exit frees the VM and its devices at once (docs/vmm.md) */
	return code;
}
