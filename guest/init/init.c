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
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "chan.h"

#define MAX_ARGS	256
#define CMDLINE_MAX	4096
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

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* sm.argv=HEX: the arguments, each NUL-terminated, hex encoded.  Returns argc. */
static int parse_argv(char *buf, size_t buflen, char **argv)
{
	char cmdline[CMDLINE_MAX] = "";
	const char *p;
	size_t n = 0;
	int argc = 0, fd = open("/proc/cmdline", O_RDONLY);

	if (fd >= 0) {
		ssize_t r = read(fd, cmdline, sizeof(cmdline) - 1);

		cmdline[r > 0 ? r : 0] = '\0';
		close(fd);
	}
	p = strstr(cmdline, "sm.argv=");
	if (!p)
		return 0;
	for (p += 8; hexval(p[0]) >= 0 && hexval(p[1]) >= 0 && n < buflen - 1; p += 2)
		buf[n++] = (char)(hexval(p[0]) << 4 | hexval(p[1]));
	buf[n] = '\0';
	for (size_t i = 0; i < n && argc < MAX_ARGS; i += strlen(buf + i) + 1)
		argv[argc++] = buf + i;
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

static int supervise(pid_t child, int out_fd, int err_fd, int sig_fd)
{
	struct pollfd p[3] = { { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 }, { sig_fd, POLLIN, 0 } };
	bool exited = false;
	int status = 0;

	while (p[0].fd >= 0 || p[1].fd >= 0 || !exited) {
		int n = poll(p, 3, exited ? DRAIN_MS : -1);

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
				;
			if (reap(child, &status))
				exited = true;
		}
	}
	return status;
}

int main(void)
{
	static char argbuf[CMDLINE_MAX];
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
	chan_hello();
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (parse_argv(argbuf, sizeof(argbuf), argv) == 0) {
		chan_log("no workload given (sm.argv)");
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
