/* The VMM's seccomp allowlist; docs/security.md says why each call is here. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/sandbox.h"

/* Calls allowed with any arguments. */
static const int plain[] = {
	/* memory: malloc, guest RAM already mapped (mmap for snapshots' buffers) */
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(mprotect),
	SCMP_SYS(madvise),
	/* threads (the vCPUs, vsock's event loop), their synchronisation and signals
	 * (vCPU kicks; rt_sigaction for the SIGSYS report itself) */
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(sched_yield),
	SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(tgkill), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigaction), SCMP_SYS(sigaltstack),
	/* time */
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday),
	/* I/O on fds it holds: disks, UARTs' stdout, status/control, signalfd, eventfd, epoll */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
	SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev), SCMP_SYS(lseek), SCMP_SYS(close),
	SCMP_SYS(fcntl), SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(statx),
	/* vsock: host clients accepted on its socket, guest connections to host sockets */
	SCMP_SYS(accept4), SCMP_SYS(connect), SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg), SCMP_SYS(shutdown), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	/* the vsock socket removed at exit */
	SCMP_SYS(unlink), SCMP_SYS(unlinkat),
	/* fresh entropy for each restored guest */
	SCMP_SYS(getrandom),
	/* a standby at go: its read-write disks are opened and locked, its
	 * bound vsock socket starts listening (vmm.md, Standby) */
	SCMP_SYS(flock), SCMP_SYS(listen),
};

/* ioctl requests: the KVM calls made after set-up (running, snapshots,
 * interrupts, the profiler's translations) and the terminal queries stdio makes. */
static const unsigned long ioctls[] = {
	KVM_RUN, KVM_IRQ_LINE, KVM_TRANSLATE,
	KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_GET_FPU, KVM_SET_FPU,
	KVM_GET_XSAVE, KVM_SET_XSAVE, KVM_GET_XCRS, KVM_SET_XCRS, KVM_GET_LAPIC, KVM_SET_LAPIC,
	KVM_GET_MSRS, KVM_SET_MSRS, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_GET_MP_STATE,
	KVM_SET_MP_STATE, KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS, KVM_GET_IRQCHIP, KVM_SET_IRQCHIP,
	KVM_GET_PIT2, KVM_SET_PIT2, KVM_GET_CLOCK, KVM_SET_CLOCK,
	KVM_GET_SUPPORTED_CPUID, KVM_GET_MSR_INDEX_LIST,	/* a snapshot's CPU fingerprint and MSR list */
	TCGETS, TIOCGWINSZ,
};

/* snapshots (vm:snapshot, the bake): a directory written, fsynced and
 * renamed into place, and the dead writers' leftovers swept (snapshot.c);
 * open may create and truncate.  Left out with --no-snapshots. */
static const int snapshot_calls[] = {
	SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(rename), SCMP_SYS(renameat),
	SCMP_SYS(renameat2), SCMP_SYS(rmdir), SCMP_SYS(getdents64), SCMP_SYS(ftruncate),
	SCMP_SYS(fallocate), SCMP_SYS(openat),
};

static int report_fd = -1;

static size_t put(char *out, size_t at, const char *s)
{
	size_t n = strlen(s);

	memcpy(out + at, s, n);
	return at + n;
}

/* Reports the call and dies by SIGSYS; async-signal-safe (no stdio). */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	static const char status[] = "end=crash value=0 msg=";
	char line[256], num[16];
	unsigned v = (unsigned)si->si_syscall;
	size_t len, n = sizeof(num);

	(void)uc;
	num[--n] = '\0';
	do
		num[--n] = (char)('0' + v % 10);
	while ((v /= 10) && n > 0);
	len = put(line, 0, status);
	len = put(line, len, "sandbox: forbidden system call ");
	len = put(line, len, num + n);
	len = put(line, len, " (x86-64) — the VMM was stopped; docs/security.md lists what it may call\n");
	if (report_fd >= 0 && write(report_fd, line, len) < 0)
		report_fd = -1;
	if (write(2, "sm vmm: ", 8) < 0 || write(2, line + sizeof(status) - 1, len - sizeof(status) + 1) < 0)
		report_fd = -1;
	signal(sig, SIG_DFL);
	raise(sig);
}

static int add_rules(scmp_filter_ctx f, bool snapshots)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < sizeof(plain) / sizeof(plain[0]); i++)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, plain[i], 0);
	for (size_t i = 0; snapshots && r == 0 && i < sizeof(snapshot_calls) / sizeof(snapshot_calls[0]); i++)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, snapshot_calls[i], 0);
	/* without snapshots, open only what exists (a standby's disks at go) */
	if (!snapshots && r == 0)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT | O_TRUNC, 0));
	for (size_t i = 0; r == 0 && i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)ioctls[i]));
	/* a guest connecting to a host port gets a Unix socket, nothing else */
	if (r == 0)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	/* new threads only (pthread_create), never a new process */
	if (r == 0)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	/* clone3's flags sit behind a pointer seccomp cannot read: ENOSYS makes
	 * glibc fall back to clone, whose flags are checked above */
	if (r == 0)
		r = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	return r;
}

/* slirp's sockets to the outside (virtio-net, --egress only): TCP and UDP
 * over IPv4/IPv6, ICMP echo datagrams; getsockname/getpeername for a
 * connection's addresses, FIONREAD to size a UDP datagram; the other calls
 * it makes (connect, recvfrom, sendto, getsockopt, setsockopt, shutdown)
 * vsock has already. */
static int add_egress_rules(scmp_filter_ctx f)
{
	int r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_INET));

	if (r == 0)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	if (r == 0)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(getsockname), 0);
	if (r == 0)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(getpeername), 0);
	if (r == 0)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	return r;
}

int sandbox__enter(int status_fd, bool snapshots, bool egress, char *msg, size_t msglen)
{
	const char *env = getenv("SM_VMM_SANDBOX");
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	scmp_filter_ctx f;
	int r;

	if (env && strcmp(env, "0") == 0)
		return 0;
	report_fd = status_fd;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sigaction(SIGSYS, &sa, NULL) < 0) {
		snprintf(msg, msglen, "sandbox: %s", strerror(errno));
		return -1;
	}
	f = seccomp_init(SCMP_ACT_TRAP);
	if (!f) {
		snprintf(msg, msglen, "sandbox: seccomp_init failed");
		return -1;
	}
	r = add_rules(f, snapshots);
	if (r == 0 && egress)
		r = add_egress_rules(f);
	if (r == 0)
		r = seccomp_load(f);
	seccomp_release(f);
	if (r < 0) {
		snprintf(msg, msglen, "sandbox: installing the seccomp filter: %s (SM_VMM_SANDBOX=0 runs without it)",
			 strerror(-r));
		return -1;
	}
	return 0;
}
