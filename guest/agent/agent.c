/*
 * The agent's event loop: one poll() over the vsock listener, every session
 * and SIGCHLD.  A session is one host connection (docs/agent-protocol.md):
 * its first frame makes it an exec, a port proxy, or a one-shot question.
 * Every buffer is bounded; when one is full we stop reading its source, so
 * a slow reader on either side slows the writer instead of growing memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent-proto.h"
#include "framebuf.h"
#include "agent.h"
#include "vm_sockets.h"

#define MAX_SESSIONS	64
#define IN_CAP		(AGENT_HDR_LEN + AGENT_MAX_PAYLOAD)
#define OUT_CAP		(256 * 1024)	/* toward the host */
#define SIDE_CAP	(256 * 1024)	/* toward the process's stdin / the TCP peer */
#define KEEP_SLOTS	8		/* sessions whose buffers outlive them (below) */
#define DRAIN_MS	200		/* after an exit, wait this long for the output */
#define AGENT_START_MS	60000		/* init waits at most this long for the listener */

enum kind { S_FREE, S_NEW, S_EXEC, S_PROXY, S_PUT, S_CLOSING };

struct session {
	enum kind kind;
	int vs;				/* the host's vsock connection */
	struct framebuf in, out, side;	/* host frames, bytes to the host, bytes to the process/TCP */
	bool host_eof;
	struct exec_io io;		/* exec: fds are -1 once closed */
	bool tty, stdin_eof, exited;
	int status;
	uint64_t exit_ms;
	int tcp;			/* proxy */
	bool tcp_eof, tcp_shut, vs_shut;
	struct put put;			/* put: the entry being written */
};

static struct session sessions[MAX_SESSIONS];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void say(const char *fmt, const char *arg)
{
	dprintf(2, "sm agent: ");
	dprintf(2, fmt, arg);
	dprintf(2, "\n");
}

/* ---- buffers ---- */

/* Writes what fd takes; false if fd failed. */
static bool buf_flush(struct framebuf *b, int fd)
{
	while (b->len) {
		ssize_t n = send(fd, b->p, b->len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, b->p, b->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		framebuf__drop(b, (size_t)n);
	}
	return true;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- frames to the host ---- */

static bool frame(struct session *s, int type, const void *payload, uint32_t len)
{
	return framebuf__add_frame(&s->out, type, payload, len, OUT_CAP);
}

static void reply_u8(struct session *s, uint8_t v)
{
	frame(s, AGENT_OK, &v, 1);
	s->kind = S_CLOSING;
}

static void fail(struct session *s, const char *msg)
{
	frame(s, AGENT_ERROR, msg, (uint32_t)strlen(msg));
	s->kind = S_CLOSING;
}

/* ---- sessions ---- */

static void exec_close_io(struct session *s)
{
	if (s->io.in == s->io.out)
		s->io.in = -1;		/* a pty: one fd for both */
	close_fd(&s->io.in);
	close_fd(&s->io.out);
	close_fd(&s->io.err);
}

/*
 * A new session in slot s.  The first KEEP_SLOTS slots (accept takes the
 * lowest free one) keep their buffers from one session to the next: every
 * fresh buffer page costs the guest a fault and a page clear, which on
 * emulating hosts is most of a short request's cost, and a snapshot taken
 * after some traffic restores with those pages already there.
 */
static void session_reset(struct session *s)
{
	struct framebuf in = s->in, out = s->out, side = s->side;

	if (s - sessions >= KEEP_SLOTS) {
		framebuf__free(&in);
		framebuf__free(&out);
		framebuf__free(&side);
	}
	memset(s, 0, sizeof(*s));
	in.len = out.len = side.len = 0;
	s->in = in, s->out = out, s->side = side;
	s->io.in = s->io.out = s->io.err = s->tcp = s->vs = -1;
}

static void session_free(struct session *s)
{
	if (s->kind == S_EXEC && !s->exited)
		kill(-s->io.pid, SIGHUP);	/* the host hung up on it */
	exec_close_io(s);
	put__abort(&s->put);		/* nothing half-written stays behind */
	close_fd(&s->vs);
	close_fd(&s->tcp);
	session_reset(s);
	s->kind = S_FREE;
}

static void accept_one(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < MAX_SESSIONS; i++) {
		struct session *s = &sessions[i];

		if (s->kind != S_FREE)
			continue;
		session_reset(s);
		s->kind = S_NEW;
		s->vs = fd;
		return;
	}
	close(fd);			/* full: the host sees the connection close */
}

static void start_exec(struct session *s, const uint8_t *payload, uint32_t len)
{
	struct agent_exec e;
	const char *why;
	char msg[160];
	uint8_t pid[4];

	if (agent_exec__decode(payload, len, &e, &why) < 0) {
		fail(s, why);
		return;
	}
	if (exec__spawn(&e, &s->io, msg, sizeof(msg)) < 0) {
		fail(s, msg);
		return;
	}
	s->kind = S_EXEC;
	s->tty = e.flags & AGENT_EXEC_TTY;
	agent__put32(pid, (uint32_t)s->io.pid);
	frame(s, AGENT_STARTED, pid, 4);
}

static void start_proxy(struct session *s, unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char msg[80];

	s->tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->tcp < 0 || connect(s->tcp, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(msg, sizeof(msg), "127.0.0.1:%u: %s", port, strerror(errno));
		close_fd(&s->tcp);
		fail(s, msg);
		return;
	}
	fcntl(s->tcp, F_SETFL, O_NONBLOCK);
	frame(s, AGENT_OK, NULL, 0);
	s->kind = S_PROXY;
}

/* PUT, DATA or DONE of a put connection (docs/agent-protocol.md §PUT). */
static void put_frame(struct session *s, const struct agent_hdr *h, const uint8_t *p)
{
	struct agent_put e;
	const char *why;
	char msg[AGENT_PATH_MAX + 160];
	uint8_t n[4];

	if (s->put.open && h->type != AGENT_DATA) {
		fail(s, "put: a file's DATA must end with an empty DATA before the next entry");
	} else if (s->put.open) {
		if (put__data(&s->put, p, h->len, msg, sizeof(msg)) < 0)
			fail(s, msg);
	} else if (h->type == AGENT_PUT) {
		if (agent_put__decode(p, h->len, &e, &why) < 0)
			fail(s, why);
		else if (put__entry(&s->put, &e, msg, sizeof(msg)) < 0)
			fail(s, msg);
	} else if (h->type == AGENT_DONE && h->len == 0) {
		agent__put32(n, s->put.entries);
		frame(s, AGENT_OK, n, 4);
		s->kind = S_CLOSING;
	} else {
		fail(s, "put: expected PUT, DATA after a file entry, or an empty DONE");
	}
}

/* The first frame of a connection. */
static void first_frame(struct session *s, const struct agent_hdr *h, const uint8_t *p)
{
	switch (h->type) {
	case AGENT_EXEC:
		start_exec(s, p, h->len);
		return;
	case AGENT_PROXY:
		if (h->len == 2 && agent__get16(p))
			start_proxy(s, agent__get16(p));
		else
			fail(s, "PROXY needs a u16 port, not 0");
		return;
	case AGENT_LISTENING:
		if (h->len == 2)
			reply_u8(s, ports__listening(agent__get16(p)));
		else
			fail(s, "LISTENING needs a u16 port");
		return;
	case AGENT_STOP:
		if (h->len == 4 && kill(1, (int)agent__get32(p)) == 0)
			reply_u8(s, 1);	/* init passes it on to the workload */
		else
			fail(s, "STOP needs a valid i32 signal");
		return;
	case AGENT_PING:
		reply_u8(s, AGENT_PROTO_VERSION);
		return;
	case AGENT_PUT:
		s->kind = S_PUT;
		put_frame(s, h, p);
		return;
	}
	fail(s, "a connection must start with EXEC, PROXY, LISTENING, STOP, PING or PUT");
}

static void exec_frame(struct session *s, const struct agent_hdr *h, const uint8_t *p)
{
	struct winsize ws;

	if (h->type == AGENT_STDIN && h->len == 0) {
		s->stdin_eof = true;
		if (s->tty)
			framebuf__add(&s->side, "\004", 1, SIDE_CAP);	/* VEOF */
	} else if (h->type == AGENT_STDIN) {
		framebuf__add(&s->side, p, h->len, SIDE_CAP);		/* room was checked before reading */
	} else if (h->type == AGENT_SIGNAL && h->len == 4) {
		if (!s->exited)
			kill(s->io.pid, (int)agent__get32(p));
	} else if (h->type == AGENT_RESIZE && h->len == 4) {
		ws = (struct winsize){ .ws_row = agent__get16(p), .ws_col = agent__get16(p + 2) };
		if (s->tty && s->io.in >= 0)
			ioctl(s->io.in, TIOCSWINSZ, &ws);
	} else {
		fail(s, "during an exec only STDIN, SIGNAL (4 bytes) and RESIZE (4 bytes) are valid");
	}
}

/* Decodes and handles every complete frame in s->in. */
static void host_frames(struct session *s)
{
	struct agent_hdr h;
	const char *why;
	size_t at = 0;

	while (s->kind == S_NEW || s->kind == S_EXEC || s->kind == S_PUT) {
		if (s->in.len - at < AGENT_HDR_LEN)
			break;
		if (agent_hdr__decode(s->in.p + at, &h, &why) < 0) {
			fail(s, why);
			break;
		}
		if (s->in.len - at < AGENT_HDR_LEN + h.len)
			break;
		if (s->kind == S_NEW)
			first_frame(s, &h, s->in.p + at + AGENT_HDR_LEN);
		else if (s->kind == S_PUT)
			put_frame(s, &h, s->in.p + at + AGENT_HDR_LEN);
		else
			exec_frame(s, &h, s->in.p + at + AGENT_HDR_LEN);
		at += AGENT_HDR_LEN + h.len;
	}
	if (s->kind == S_PROXY && at < s->in.len)	/* bytes right after PROXY are raw */
		framebuf__add(&s->side, s->in.p + at, s->in.len - at, SIDE_CAP);
	if (s->kind == S_PROXY || s->kind == S_CLOSING)
		at = s->in.len;
	if (at)
		framebuf__drop(&s->in, at);
}

static bool wants_host_input(struct session *s)
{
	if (s->host_eof)
		return false;
	if (s->kind == S_NEW || s->kind == S_PUT)
		return true;		/* a put's frames are written out as they come */
	if (s->kind == S_EXEC)
		return s->side.len + IN_CAP <= SIDE_CAP;
	return s->kind == S_PROXY && s->side.len < SIDE_CAP;
}

/* Reads go straight into the session's buffer, as much as it has room for:
 * one system call (≥ 28 µs of guest kernel work on emulating hosts) per
 * buffer's worth, no copy through the stack. */
static void host_readable(struct session *s)
{
	struct framebuf *b = s->kind == S_PROXY ? &s->side : &s->in;
	size_t room;
	uint8_t *dst = framebuf__space(b, s->kind == S_PROXY ? SIDE_CAP : IN_CAP, &room);
	ssize_t n;

	if (!room)
		return;			/* full: read again once it drains */
	n = read(s->vs, dst, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		s->host_eof = true;
		if (s->kind != S_PROXY)
			session_free(s);	/* the host went away */
		return;
	}
	framebuf__commit(b, (size_t)n);
	if (s->kind != S_PROXY)
		host_frames(s);
}

/* stdout/stderr of the process (or the TCP side of a proxy) → frames/bytes,
 * read in place into the host-bound buffer: raw for a proxy, after a
 * frame header's room for an exec (one frame per read, ≤ AGENT_MAX_PAYLOAD). */
static void side_readable(struct session *s, int *fd, int type)
{
	size_t hdr = s->kind == S_PROXY ? 0 : AGENT_HDR_LEN, room;
	uint8_t *dst = framebuf__space(&s->out, OUT_CAP, &room);
	ssize_t n;

	if (room <= hdr)
		return;			/* full: read again once the host takes some */
	room -= hdr;
	if (hdr && room > AGENT_MAX_PAYLOAD)
		room = AGENT_MAX_PAYLOAD;
	n = read(*fd, dst + hdr, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {			/* EOF, or EIO from a pty whose process is gone */
		if (s->kind == S_PROXY)
			s->tcp_eof = true;
		else if (s->tty)
			exec_close_io(s);
		else
			close_fd(fd);
		return;
	}
	if (hdr)
		agent_hdr__encode(dst, type, (uint32_t)n);
	framebuf__commit(&s->out, hdr + (size_t)n);
}

static void reap(void)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (int i = 0; i < MAX_SESSIONS; i++) {
			struct session *s = &sessions[i];

			if (s->kind == S_EXEC && s->io.pid == pid) {
				s->exited = true;
				s->status = st;
				s->exit_ms = now_ms();
			}
		}
}

static void exec_progress(struct session *s)
{
	uint8_t ex[8] = { 0 };

	if (s->stdin_eof && !s->side.len && !s->tty)
		close_fd(&s->io.in);
	if (!s->exited || s->out.len + sizeof(ex) + AGENT_HDR_LEN > OUT_CAP)
		return;
	if ((s->io.out >= 0 || s->io.err >= 0) && now_ms() - s->exit_ms < DRAIN_MS)
		return;
	exec_close_io(s);
	ex[0] = WIFSIGNALED(s->status) ? 1 : 0;
	agent__put32(ex + 4, (uint32_t)(WIFSIGNALED(s->status) ? WTERMSIG(s->status) : WEXITSTATUS(s->status)));
	frame(s, AGENT_EXIT, ex, sizeof(ex));
	s->kind = S_CLOSING;
}

/* Half-closes: EOF from one side is passed on once its bytes are through. */
static void proxy_progress(struct session *s)
{
	if (s->host_eof && !s->side.len && !s->tcp_shut) {
		shutdown(s->tcp, SHUT_WR);
		s->tcp_shut = true;
	}
	if (s->tcp_eof && !s->out.len && !s->vs_shut) {
		shutdown(s->vs, SHUT_WR);
		s->vs_shut = true;
	}
	if (s->tcp_shut && s->vs_shut)
		session_free(s);
}

/* ---- the loop ---- */

enum role { R_HOST, R_OUT, R_ERR, R_IN, R_TCP };
struct watch {
	struct session *s;
	enum role role;
};

static int add(struct pollfd *pf, struct watch *w, int n, int fd, short ev, struct session *s, enum role r)
{
	if (fd < 0 || !ev)
		return n;
	pf[n] = (struct pollfd){ fd, ev, 0 };
	w[n] = (struct watch){ s, r };
	return n + 1;
}

static int watch_session(struct session *s, struct pollfd *pf, struct watch *w, int n)
{
	bool room = s->out.len + AGENT_HDR_LEN + 1 < OUT_CAP;

	n = add(pf, w, n, s->vs, (short)((wants_host_input(s) ? POLLIN : 0) | (s->out.len ? POLLOUT : 0)),
		s, R_HOST);
	if (s->kind == S_EXEC) {
		short tty_in = s->tty && s->side.len ? POLLOUT : 0;	/* a pty master is both */

		n = add(pf, w, n, s->io.out, (short)((room ? POLLIN : 0) | tty_in), s, R_OUT);
		n = add(pf, w, n, s->io.err, room ? POLLIN : 0, s, R_ERR);
		if (!s->tty)
			n = add(pf, w, n, s->io.in, s->side.len ? POLLOUT : 0, s, R_IN);
	}
	if (s->kind == S_PROXY)
		n = add(pf, w, n, s->tcp, (short)((room && !s->tcp_eof ? POLLIN : 0) | (s->side.len ? POLLOUT : 0)),
			s, R_TCP);
	return n;
}

static void dispatch(struct watch *w, short re)
{
	struct session *s = w->s;

	if (s->kind == S_FREE)
		return;				/* freed earlier in this round */
	switch (w->role) {
	case R_HOST:
		if ((re & POLLOUT) && !buf_flush(&s->out, s->vs)) {
			session_free(s);
			return;
		}
		if (re & (POLLIN | POLLHUP | POLLERR))
			host_readable(s);
		return;
	case R_OUT:
		if ((re & POLLOUT) && !buf_flush(&s->side, s->io.out))
			framebuf__drop(&s->side, s->side.len);	/* the pty is gone */
		if (re & (POLLIN | POLLHUP | POLLERR))
			side_readable(s, &s->io.out, AGENT_STDOUT);
		return;
	case R_ERR:
		side_readable(s, &s->io.err, AGENT_STDERR);
		return;
	case R_IN:
		if (!buf_flush(&s->side, s->io.in)) {
			framebuf__drop(&s->side, s->side.len);
			close_fd(&s->io.in);
		}
		return;
	case R_TCP:
		if ((re & POLLOUT) && !buf_flush(&s->side, s->tcp)) {
			session_free(s);
			return;
		}
		if (re & (POLLIN | POLLHUP | POLLERR))
			side_readable(s, &s->tcp, 0);
		return;
	}
}

static void progress(void)
{
	for (int i = 0; i < MAX_SESSIONS; i++) {
		struct session *s = &sessions[i];

		if (s->kind == S_EXEC)
			exec_progress(s);
		if (s->kind == S_PROXY)
			proxy_progress(s);
		if (s->kind == S_CLOSING && !s->out.len)
			session_free(s);
	}
}

static int poll_timeout(void)
{
	for (int i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].kind == S_EXEC && sessions[i].exited)
			return DRAIN_MS / 4;
	return -1;
}

static void serve(int lfd, int sig_fd)
{
	static struct pollfd pf[2 + MAX_SESSIONS * 4];
	static struct watch w[2 + MAX_SESSIONS * 4];

	for (;;) {
		int n = 0;

		pf[n++] = (struct pollfd){ lfd, POLLIN, 0 };
		pf[n++] = (struct pollfd){ sig_fd, POLLIN, 0 };
		for (int i = 0; i < MAX_SESSIONS; i++)
			if (sessions[i].kind != S_FREE)
				n = watch_session(&sessions[i], pf, w, n);
		if (poll(pf, (nfds_t)n, poll_timeout()) < 0 && errno != EINTR)
			return;
		if (pf[1].revents) {
			struct signalfd_siginfo si;

			while (read(sig_fd, &si, sizeof(si)) == sizeof(si))
				;
			reap();
		}
		for (int i = 2; i < n; i++)
			if (pf[i].revents)
				dispatch(&w[i], pf[i].revents);
		if (pf[0].revents)
			accept_one(lfd);
		progress();
	}
}

static int listen_vsock(void)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_port = AGENT_VSOCK_PORT,
				  .svm_cid = VMADDR_CID_ANY };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* `ready` gets one byte once we listen (init waits for it before HELLO). */
static void agent_main(int ready)
{
	sigset_t set;
	int lfd, sig_fd;

	for (int fd = 3; fd < 64; fd++)
		if (fd != ready)
			close(fd);		/* init's channel is init's alone */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	lfd = listen_vsock();
	if (lfd < 0) {
		say("no vsock (%s): not serving", strerror(errno));
		_exit(0);
	}
	if (write(ready, "", 1) < 0) {
		/* init gave up waiting: serve anyway */
	}
	close(ready);
	serve(lfd, sig_fd);
	say("poll: %s", strerror(errno));
	_exit(1);
}

pid_t agent__start(void)
{
	int ready[2];
	pid_t pid;

	static bool warmed;

	if (!warmed)		/* once per boot: again after a root move costs a TCP connect */
		netwarm__run();
	warmed = true;
	if (pipe2(ready, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0)
		agent_main(ready[1]);
	close(ready[1]);
	if (pid > 0) {
		struct pollfd p = { ready[0], POLLIN, 0 };

		poll(&p, 1, AGENT_START_MS);	/* a byte, or EOF if it exited */
	}
	close(ready[0]);
	return pid;
}
