/*
 * sm guest init (PID 1).  Mounts the basics, says hello to the VMM over the
 * init channel (second UART, docs/init-channel.md), runs the workload given
 * on the kernel command line as sm.argv=HEX, forwards its stdout/stderr as
 * frames, reaps every child, and reports the workload's exit.  The VMM ends
 * the VM when it reads the exit frame.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>

#include "agent.h"
#include "chan.h"

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

/* The CONFIG frame (docs/init-channel.md): entries of kind byte + string.
 * Returns argc; argv points into buf. */
static int read_config(char *buf, char **argv)
{
	size_t len = 0, i = 0;
	int argc = 0, type;

	while ((type = chan_recv(buf, &len)) != CHAN_CONFIG) {
		if (type < 0)
			return 0;
		if (type == CHAN_TIME)
			chan_apply_time(buf, len);
	}
	buf[len] = '\0';
	while (i + 1 < len) {
		char kind = buf[i++], *str = buf + i;

		i += strnlen(str, len - i) + 1;
		if (kind == 'a' && argc < MAX_ARGS)
			argv[argc++] = str;
		else if (kind == 'e' && strchr(str, '='))
			putenv(str);
		else if (kind == 'd')
			wait_disk(str);
		else if (kind == 'r')
			set_readonly(str);
	}
	argv[argc] = NULL;
	return argc;
}

static pid_t spawn(char **argv, int out[2], int err[2])
{
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid != 0)
		return pid;
	setsid();
	dup2(open("/dev/null", O_RDONLY), 0);
	dup2(out[1], 1);
	dup2(err[1], 2);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(argv[0], argv);
	dprintf(2, "sm init: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* Forward one read from fd as a frame; false at EOF/error. */
static bool forward(int fd, int type)
{
	uint8_t buf[CHAN_MAX_PAYLOAD];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	chan_send(type, buf, (size_t)n);
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

/* A host frame while the workload runs: TIME after a restore; others have
 * no meaning now.  False if the channel is unusable. */
static bool host_frame(void)
{
	static char buf[CHAN_MAX_PAYLOAD];
	size_t len;
	int type = chan_recv(buf, &len);

	if (type == CHAN_TIME)
		chan_apply_time(buf, len);
	return type >= 0;
}

static int supervise(pid_t child, int out_fd, int err_fd, int sig_fd)
{
	struct pollfd p[4] = { { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 }, { sig_fd, POLLIN, 0 },
			       { chan_fd_get(), POLLIN, 0 } };
	bool exited = false;
	int status = 0;

	while (p[0].fd >= 0 || p[1].fd >= 0 || !exited) {
		int n = poll(p, 4, exited ? DRAIN_MS : -1);

		if (n == 0)
			break;		/* exited, and its output went quiet (daemons keep pipes open) */
		for (int i = 0; i < 2; i++)
			if (p[i].revents && !forward(p[i].fd, i == 0 ? CHAN_STDOUT : CHAN_STDERR)) {
				close(p[i].fd);
				p[i].fd = -1;
			}
		if (p[2].revents) {
			struct signalfd_siginfo si;

			while (read(sig_fd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo != SIGCHLD && !exited)
					kill(child, (int)si.ssi_signo);
			if (reap(child, &status))
				exited = true;
		}
		if (p[3].revents && !host_frame())
			p[3].fd = -1;
	}
	return status;
}

int main(void)
{
	static char argbuf[CHAN_MAX_PAYLOAD + 1];
	char *argv[MAX_ARGS + 1];
	int out[2], err[2], status, sig_fd;
	sigset_t set;
	pid_t child;

	mount_basics();
	open_console();
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	setenv("HOME", "/root", 1);
	if (chan_open("/dev/ttyS1") < 0) {
		dprintf(2, "sm init: /dev/ttyS1: %s\n", strerror(errno));
		return 1;
	}
	/* before HELLO, so boot snapshots (taken at HELLO) hold a running agent */
	agent__start();		/* vsock agent (docs/agent-protocol.md), a child of ours */
	chan_hello();
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (int i = 0; i < (int)(sizeof(forwarded) / sizeof(forwarded[0])); i++)
		sigaddset(&set, forwarded[i]);	/* vm:signal / `sm stop`, via the agent */
	sigprocmask(SIG_BLOCK, &set, NULL);
	sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (read_config(argbuf, argv) == 0) {
		chan_log("no workload given");
		chan_exit(0, 0);
		for (;;)
			pause();
	}
	child = spawn(argv, out, err);
	if (child < 0) {
		chan_log("fork failed");
		chan_exit(0, 126);
		for (;;)
			pause();
	}
	close(out[1]);
	close(err[1]);
	status = supervise(child, out[0], err[0], sig_fd);
	if (WIFSIGNALED(status))
		chan_exit(1, WTERMSIG(status));
	else
		chan_exit(0, WEXITSTATUS(status));
	for (;;)
		pause();		/* the VMM ends the VM on the exit frame */
}
