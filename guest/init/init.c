/*
 * sm guest init (PID 1).  Mounts the basics, says hello to the VMM over the
 * init channel (second UART, docs/init-channel.md), then takes CONFIG
 * frames: disks, the image's rootfs (rootfs.c) and volumes, then the
 * workload, which it runs with the image's user, env and working dir,
 * forwarding its stdout/stderr as frames.  It reaps every child, applies
 * TIME and ENTROPY frames (seed.c) after restores, and reports the
 * workload's exit; the VMM ends the VM when it reads the exit frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "chan.h"
#include "net.h"
#include "rootfs.h"
#include "seed.h"

#ifndef BLKROSET
#define BLKROSET _IO(0x12, 93)	/* linux/fs.h: musl has no kernel headers */
#endif

#define MAX_ARGS	256
/* Signals the agent sends PID 1 for the workload (docs/agent-protocol.md, STOP). */
static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

#define DRAIN_MS	200	/* after the workload exits, wait this long for its output */

static void mount_basics(void)
{
	mkdir("/dev", 0755);
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mkdir("/tmp", 01777);
	mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mkdir("/dev/pts", 0755);
	mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666");
}

/* init's own stdio is the kernel console */
static void open_console(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* Mark a disk read-only in the guest too (the VMM refuses its writes anyway). */
static void set_readonly(const char *name)
{
	char path[64];
	int fd, one = 1;

	snprintf(path, sizeof(path), "/dev/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, BLKROSET, &one) < 0)
		dprintf(2, "sm init: %s: cannot mark read-only: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* A disk attached at restore reaches the guest through a config-change
 * interrupt: wait (briefly) until the kernel has the new size, so the
 * workload never sees an empty disk. */
static void wait_disk(const char *spec)
{
	char name[16], path[64], buf[32];
	unsigned long long want, have;

	if (sscanf(spec, "%15[a-z]:%llu", name, &want) != 2)
		return;
	snprintf(path, sizeof(path), "/sys/block/%s/size", name);
	for (int i = 0; i < 500; i++) {		/* 5 s at most */
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = '\0';
		have = strtoull(buf, NULL, 10);
		if (have == want)
			return;
		usleep(10000);
	}
	dprintf(2, "sm init: /dev/%s did not reach its size\n", name);
}

#define MAX_ENV		256
#define DEFAULT_GRACE_S	5	/* SIGTERM to SIGKILL when the host stops the workload */

/* One CONFIG frame (docs/init-channel.md), its strings pointing into buf. */
struct config {
	char buf[INITCHAN_MAX_PAYLOAD + 1];
	char *argv[MAX_ARGS + 1], *env[MAX_ENV];
	const char *layers[ROOTFS_MAX_LAYERS], *volumes[ROOTFS_MAX_VOLUMES];
	const char *hostname, *workdir, *user;
	int argc, envc, nr_layers, nr_volumes, grace_s;
};

static pid_t agent_pid = -1;

static void host_control_frame(int type, const void *buf, size_t len)
{
	if (type == IC_TIME)
		chan__apply_time(buf, len);
	else if (type == IC_ENTROPY)
		seed__apply(buf, len);
}

/* Disks are waited for as they come: the VMM lists them first. */
static void config_entry(struct config *c, char kind, char *str)
{
	if (kind == 'a' && c->argc < MAX_ARGS)
		c->argv[c->argc++] = str;
	else if (kind == 'e' && strchr(str, '=') && c->envc < MAX_ENV)
		c->env[c->envc++] = str;
	else if (kind == 'l' && c->nr_layers < ROOTFS_MAX_LAYERS)
		c->layers[c->nr_layers++] = str;
	else if (kind == 'v' && c->nr_volumes < ROOTFS_MAX_VOLUMES)
		c->volumes[c->nr_volumes++] = str;
	else if (kind == 'h')
		c->hostname = str;
	else if (kind == 'w')
		c->workdir = str;
	else if (kind == 'u')
		c->user = str;
	else if (kind == 't')
		c->grace_s = atoi(str) > 0 && atoi(str) <= 3600 ? atoi(str) : DEFAULT_GRACE_S;
	else if (kind == 'd')
		wait_disk(str);
	else if (kind == 'r')
		set_readonly(str);
}

/* Waits for the next CONFIG (applying TIME and ENTROPY meanwhile); -1 if
 * the channel is gone. */
static int read_config(struct config *c)
{
	size_t len = 0, i = 0;
	int type;

	while ((type = chan__recv(c->buf, &len)) != IC_CONFIG) {
		if (type < 0)
			return -1;
		host_control_frame(type, c->buf, len);
	}
	c->buf[len] = '\0';
	c->argc = c->envc = c->nr_layers = c->nr_volumes = 0;
	c->hostname = c->workdir = c->user = NULL;
	c->grace_s = DEFAULT_GRACE_S;
	while (i + 1 < len) {
		char kind = c->buf[i++], *str = c->buf + i;

		i += strnlen(str, len - i) + 1;
		config_entry(c, kind, str);
	}
	c->argv[c->argc] = NULL;
	return 0;
}

/* The agent must serve inside the new root (`sm exec` lands in the image):
 * the old one still sees the initramfs, so start another. */
static void restart_agent(void)
{
	if (agent_pid > 0) {
		kill(agent_pid, SIGKILL);
		waitpid(agent_pid, NULL, 0);
	}
	agent_pid = agent__start();
}

/* Hostname, rootfs, volumes: 0, or -1 with msg. */
static int apply_config(const struct config *c, char *msg, size_t msglen)
{
	if (c->hostname && sethostname(c->hostname, strnlen(c->hostname, 64)) < 0) {
		snprintf(msg, msglen, "hostname '%.64s': %s", c->hostname, strerror(errno));
		return -1;
	}
	if (c->nr_layers > 0) {
		if (rootfs__prepare(c->layers, c->nr_layers, msg, msglen) < 0)
			return -1;
		restart_agent();
		seed__write_worker_id();	/* the new root has its own /run */
	}
	for (int i = 0; i < c->nr_volumes; i++)
		if (rootfs__mount_volume(c->volumes[i], msg, msglen) < 0)
			return -1;
	return 0;
}

struct workload {
	const struct config *c;
	struct ident id;
	char **env;
	int out, err;
	char why[320];			/* set: the child only reports it and exits 126 */
};

/* The workload's environment, Docker's way: PATH, HOME (the user's),
 * HOSTNAME, then the image's and the caller's entries (later ones win). */
static char **workload_env(const struct config *c, const struct ident *id, char *home, char *host)
{
	const char *base[3] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", home, host };
	char name[65] = "";

	snprintf(home, 264, "HOME=%s", id->home);
	if (gethostname(name, sizeof(name) - 1) == 0 && name[0])
		snprintf(host, 80, "HOSTNAME=%s", name);
	return exec__env(base, host[0] ? 3 : 2, (const char *const *)c->env, c->envc);
}

/* Before the child: the user (from /etc/passwd: stdio, malloc) and the
 * working directory made, as root; a failure is the child's to report. */
static void workload_prepare(struct workload *w)
{
	const struct config *c = w->c;
	char msg[256];

	if (exec__resolve_user(c->user ? c->user : "", &w->id, msg, sizeof(msg)) < 0)
		snprintf(w->why, sizeof(w->why), "sm init: %s\n", msg);
	else if (c->workdir && c->workdir[0] && rootfs__mkdirs(c->workdir, 0755) < 0)
		snprintf(w->why, sizeof(w->why), "sm init: working directory %s: %s\n", c->workdir, strerror(errno));
}

/* In the child (exec__vfork: system calls only): stdio, session, working
 * directory, user, exec.  Never returns. */
static int workload_child(void *arg)
{
	struct workload *w = arg;
	const struct config *c = w->c;
	sigset_t none;

	setsid();
	dup2(open("/dev/null", O_RDONLY), 0);
	dup2(w->out, 1);
	dup2(w->err, 2);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (w->why[0]) {
		dprintf(2, "%s", w->why);
		_exit(126);
	}
	if (c->workdir && c->workdir[0] && chdir(c->workdir) < 0) {
		dprintf(2, "sm init: working directory %s: %s\n", c->workdir, strerror(errno));
		_exit(126);
	}
	if (exec__become(&w->id) < 0) {
		dprintf(2, "sm init: switching to %u:%u: %s\n", w->id.uid, w->id.gid, strerror(errno));
		_exit(126);
	}
	exec__search(c->argv[0], c->argv, w->env);
	dprintf(2, "sm init: cannot run %s: %s\n", c->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

static pid_t spawn(const struct config *c, int out[2], int err[2])
{
	static struct workload w;
	char home[264], host[80] = "";
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return -1;
	w = (struct workload){ .c = c, .out = out[1], .err = err[1] };
	workload_prepare(&w);
	w.env = workload_env(c, &w.id, home, host);
	if (!w.env)
		return -1;
	pid = exec__vfork(workload_child, &w);
	free(w.env);
	return pid;
}

/* Forward one read from fd as a frame; false at EOF/error. */
static bool forward(int fd, int type)
{
	uint8_t buf[INITCHAN_MAX_PAYLOAD];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	chan__send(type, buf, (size_t)n);
	return true;
}

/* Reap everything; returns true (and *status) once `child` has exited. */
static bool reap(pid_t child, int *status)
{
	bool done = false;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if (pid == child) {
			*status = st;
			done = true;
		}
	return done;
}

/* A host frame while the workload runs: TIME and ENTROPY after a restore;
 * others have no meaning now.  False if the channel is unusable. */
static bool host_frame(void)
{
	static char buf[INITCHAN_MAX_PAYLOAD];
	size_t len;
	int type = chan__recv(buf, &len);

	host_control_frame(type, buf, len);
	return type >= 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct watch {
	pid_t child;
	int sig_fd, grace_s, status;
	bool exited;
	int64_t kill_at;	/* SIGKILL then, once SIGTERM was passed on; 0: not stopping */
};

/* Signals for the workload (from the agent), and SIGCHLD. */
static void on_signals(struct watch *w)
{
	struct signalfd_siginfo si;

	while (read(w->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD || w->exited)
			continue;
		kill(w->child, (int)si.ssi_signo);
		if (si.ssi_signo == SIGTERM && !w->kill_at)
			w->kill_at = now_ms() + 1000LL * w->grace_s;
	}
	if (reap(w->child, &w->status))
		w->exited = true;
}

static int poll_timeout(const struct watch *w)
{
	if (w->exited)
		return DRAIN_MS;
	if (!w->kill_at)
		return -1;
	return now_ms() >= w->kill_at ? 0 : (int)(w->kill_at - now_ms());
}

static int supervise(pid_t child, int out_fd, int err_fd, int sig_fd, int grace_s)
{
	struct pollfd p[4] = { { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 }, { sig_fd, POLLIN, 0 },
			       { chan__fd(), POLLIN, 0 } };
	struct watch w = { child, sig_fd, grace_s, 0, false, 0 };

	while (p[0].fd >= 0 || p[1].fd >= 0 || !w.exited) {
		int n = poll(p, 4, poll_timeout(&w));

		if (n == 0 && w.exited)
			break;		/* exited, and its output went quiet (daemons keep pipes open) */
		if (n == 0) {		/* the grace is over: Docker's SIGKILL */
			kill(-child, SIGKILL);
			kill(child, SIGKILL);
			w.kill_at = INT64_MAX;
			continue;
		}
		for (int i = 0; i < 2; i++)
			if (p[i].revents && !forward(p[i].fd, i == 0 ? IC_STDOUT : IC_STDERR)) {
				close(p[i].fd);
				p[i].fd = -1;
			}
		if (p[2].revents)
			on_signals(&w);
		if (p[3].revents && !host_frame())
			p[3].fd = -1;
	}
	return w.status;
}

static void halt(void)
{
	for (;;)
		pause();		/* the VMM ends the VM on the exit frame */
}

static void fail(const char *msg, int code)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "sm init: %s\n", msg);

	chan__send(IC_STDERR, line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
	chan__exit(false, code);
	halt();
}

/* Volumes must be clean when the VM ends: nothing may hold them open. */
static void release_volumes(void)
{
	if (rootfs__nr_volumes() == 0)
		return;
	kill(-1, SIGKILL);		/* every process but us */
	while (waitpid(-1, NULL, 0) > 0)
		;
	rootfs__unmount_volumes();
}

/* CONFIG frames until one has a workload; after a rootfs-only one, say
 * PREPARED (a "ready" bake point) and wait for the next. */
static void configure(struct config *c)
{
	char msg[256];

	for (;;) {
		if (read_config(c) < 0)
			fail("the init channel closed before a workload came", 1);
		if (apply_config(c, msg, sizeof(msg)) < 0)
			fail(msg, 125);
		if (c->argc > 0)
			return;
		if (!rootfs__ready()) {
			chan__log("no workload given");
			chan__exit(false, 0);
			halt();
		}
		chan__send(IC_PREPARED, NULL, 0);
	}
}

int main(void)
{
	static struct config cfg;
	char net_msg[256];
	int out[2], err[2], status, sig_fd;
	bool net_ok;
	sigset_t set;
	pid_t child;

	mount_basics();
	open_console();
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	setenv("HOME", "/root", 1);
	if (chan__open("/dev/ttyS1") < 0) {
		dprintf(2, "sm init: /dev/ttyS1: %s\n", strerror(errno));
		return 1;
	}
	/* eth0 before HELLO too: a boot snapshot with egress holds it configured */
	net_ok = net__setup(net_msg, sizeof(net_msg)) == 0;
	/* before HELLO, so boot snapshots (taken at HELLO) hold a running agent */
	agent_pid = agent__start();	/* vsock agent (docs/agent-protocol.md), a child of ours */
	chan__hello();
	if (!net_ok)
		chan__log(net_msg);	/* the VMM's log; the workload sees no eth0 address */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (int i = 0; i < (int)(sizeof(forwarded) / sizeof(forwarded[0])); i++)
		sigaddset(&set, forwarded[i]);	/* vm:signal / `sm stop`, via the agent */
	sigprocmask(SIG_BLOCK, &set, NULL);
	sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	configure(&cfg);
	child = spawn(&cfg, out, err);
	if (child < 0)
		fail("fork failed", 126);
	close(out[1]);
	close(err[1]);
	status = supervise(child, out[0], err[0], sig_fd, cfg.grace_s);
	release_volumes();
	if (WIFSIGNALED(status))
		chan__exit(true, WTERMSIG(status));
	else
		chan__exit(false, WEXITSTATUS(status));
	halt();
}
