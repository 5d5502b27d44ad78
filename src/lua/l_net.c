/*
 * sm.core sockets: Unix-socket streams, the hybrid-vsock handshake, the
 * agent exec pump (docs/agent-protocol.md) and terminal modes for `sm exec -t`.
 *
 *   s, hostport = core.vsock_connect(uds, port, timeout_s)  -- "CONNECT port" → "OK hostport"
 *   s = core.unix_connect(path); l = core.unix_listen(path); s = l:accept(timeout_s)
 *   s = core.tcp_connect(host, port)  -- numeric or resolvable host; blocking connect
 *   n = s:send(data, timeout_s)       -- bytes written before the timeout (nil, err on error)
 *   d = s:recv(max, timeout_s)        -- "" at EOF; nil, "timeout"
 *   s:shutdown(); s:close(); s:fd()
 *   res = core.agent_exec(s, { stdin = fd|string|nil, stdout = fd|nil, stderr = fd|nil,
 *                              tty = bool, forward_signals = bool, timeout = s })
 *         -- { exit = n | signal = n, stdout = captured, stderr = captured } | nil, err
 *   saved = core.tty_raw(fd); core.tty_restore(fd, saved); rows, cols = core.winsize(fd)
 *   ok = core.private_dir(path)       -- mkdir -p; the leaf must be ours and 0700
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/core.h"
#include "net/agent-proto.h"
#include "net/framebuf.h"
#include "util/clock.h"

#define SOCK_MT		"sm.sock"
#define CAPTURE_MAX	(64u << 20)	/* captured stdout/stderr of one exec */

struct sock {
	int fd;
};

static int64_t deadline_of(lua_State *L, int idx)
{
	double t = luaL_optnumber(L, idx, -1);

	return t < 0 ? INT64_MAX : (int64_t)clock__ms() + (int64_t)(t * 1000);
}

static struct sock *new_sock(lua_State *L, int fd)
{
	struct sock *s = lua_newuserdatauv(L, sizeof(*s), 0);

	s->fd = fd;
	luaL_setmetatable(L, SOCK_MT);
	return s;
}

static struct sock *check_sock(lua_State *L, int idx)
{
	struct sock *s = luaL_checkudata(L, idx, SOCK_MT);

	if (s->fd < 0)
		luaL_error(L, "socket is closed");
	return s;
}

static int wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd p = { fd, ev, 0 };
	int r;

	do
		r = poll(&p, 1, clock__left_ms(deadline));
	while (r < 0 && errno == EINTR);
	return r;
}

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

/* A connected non-blocking stream socket, or -1 with errno. */
static int connect_fd(const struct sockaddr *sa, socklen_t len)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, sa, len) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static int unix_connect_fd(const char *path)
{
	struct sockaddr_un sa;

	if (unix_addr(path, &sa) < 0)
		return -1;
	return connect_fd((struct sockaddr *)&sa, sizeof(sa));
}

static int l_tcp_connect(lua_State *L)
{
	const char *host = luaL_checkstring(L, 1);
	const char *port = luaL_checkstring(L, 2);	/* numbers convert */
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, r = getaddrinfo(host, port, &hints, &res);

	if (r) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s: %s", host, gai_strerror(r));
		return 2;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = connect_fd(ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(res);
	if (fd < 0)
		return l_core__fail(L, host, NULL, errno);
	new_sock(L, fd);
	return 1;
}

static int l_unix_connect(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int fd = unix_connect_fd(path);

	if (fd < 0)
		return l_core__fail(L, path, NULL, errno);
	new_sock(L, fd);
	return 1;
}

static int l_unix_listen(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct sockaddr_un sa;
	int fd;

	if (unix_addr(path, &sa) < 0)
		return l_core__fail(L, path, NULL, errno);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		errno = e;
		return l_core__fail(L, path, NULL, errno);
	}
	new_sock(L, fd);
	return 1;
}

static int l_accept(lua_State *L)
{
	struct sock *s = check_sock(L, 1);
	int64_t deadline = deadline_of(L, 2);
	int fd;

	while ((fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return l_core__fail(L, "accept", NULL, errno);
		if (wait_fd(s->fd, POLLIN, deadline) == 0) {
			lua_pushnil(L);
			lua_pushliteral(L, "timeout");
			return 2;
		}
	}
	new_sock(L, fd);
	return 1;
}

static ssize_t send_some(int fd, const void *p, size_t n)
{
	ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (w < 0 && errno == ENOTSOCK)
		w = write(fd, p, n);
	return w;
}

/* Sends until done or the deadline; returns bytes sent or -1 (errno). */
static ssize_t send_until(int fd, const char *p, size_t n, int64_t deadline)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = send_some(fd, p + done, n - done);

		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (wait_fd(fd, POLLOUT, deadline) == 0)
			break;
	}
	return (ssize_t)done;
}

static int l_send(lua_State *L)
{
	struct sock *s = check_sock(L, 1);
	size_t n;
	const char *p = luaL_checklstring(L, 2, &n);
	ssize_t w = send_until(s->fd, p, n, deadline_of(L, 3));

	if (w < 0)
		return l_core__fail(L, "send", NULL, errno);
	lua_pushinteger(L, w);
	return 1;
}

static int l_recv(lua_State *L)
{
	struct sock *s = check_sock(L, 1);
	size_t max = (size_t)luaL_optinteger(L, 2, 65536);
	int64_t deadline = deadline_of(L, 3);
	luaL_Buffer b;
	char *p = luaL_buffinitsize(L, &b, max);
	ssize_t r;

	for (;;) {
		r = read(s->fd, p, max);
		if (r >= 0)
			break;
		if (errno != EAGAIN && errno != EINTR)
			return l_core__fail(L, "recv", NULL, errno);
		if (wait_fd(s->fd, POLLIN, deadline) == 0) {
			lua_pushnil(L);
			lua_pushliteral(L, "timeout");
			return 2;
		}
	}
	luaL_pushresultsize(&b, (size_t)r);
	return 1;
}

static int l_shutdown(lua_State *L)
{
	struct sock *s = check_sock(L, 1);

	shutdown(s->fd, SHUT_WR);
	return 0;
}

static int l_close(lua_State *L)
{
	struct sock *s = luaL_checkudata(L, 1, SOCK_MT);

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	return 0;
}

int l_net__sockfd(lua_State *L, int idx)
{
	return check_sock(L, idx)->fd;
}

static int l_sockfd(lua_State *L)
{
	lua_pushinteger(L, check_sock(L, 1)->fd);
	return 1;
}

/* ---- hybrid vsock handshake ---- */

static int l_vsock_connect(lua_State *L)
{
	const char *uds = luaL_checkstring(L, 1);
	lua_Integer port = luaL_checkinteger(L, 2);
	int64_t deadline = deadline_of(L, 3);
	char line[64];
	size_t got = 0;
	int fd = unix_connect_fd(uds);
	unsigned long hostport;

	if (fd < 0)
		return l_core__fail(L, uds, NULL, errno);
	snprintf(line, sizeof(line), "CONNECT %u\n", (unsigned)port);
	if (send_until(fd, line, strlen(line), deadline) != (ssize_t)strlen(line))
		goto bad;
	/* byte by byte: whatever follows the OK line belongs to the caller */
	while (got < sizeof(line) - 1) {
		ssize_t r = read(fd, line + got, 1);

		if (r == 1 && line[got++] == '\n')
			break;
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			goto refused;
		if (r < 0 && wait_fd(fd, POLLIN, deadline) == 0)
			goto bad;
	}
	line[got] = '\0';
	if (sscanf(line, "OK %lu\n", &hostport) != 1)
		goto refused;
	new_sock(L, fd);
	lua_pushinteger(L, (lua_Integer)hostport);
	return 2;
refused:
	close(fd);
	lua_pushnil(L);
	lua_pushfstring(L, "vsock port %d: connection refused (nothing listening in the guest yet?)", (int)port);
	return 2;
bad:
	close(fd);
	lua_pushnil(L);
	lua_pushliteral(L, "timeout");
	return 2;
}

/* ---- the exec pump ---- */

struct capture {
	char *p;
	size_t len;
};

struct pump {
	int sock, in_fd, out_fd[2], sig_fd;
	const char *in_str;
	size_t in_len, in_off;
	bool in_done, tty;
	uint8_t rbuf[AGENT_HDR_LEN + AGENT_MAX_PAYLOAD];
	size_t rlen;
	struct framebuf w;		/* frames to the agent */
	struct capture cap[2];
	bool ended;
	int kind, value;
	char err[256];
};

static bool queue(struct pump *p, int type, const void *data, uint32_t len)
{
	return framebuf__add_frame(&p->w, type, data, len, SIZE_MAX);
}

static void write_all(int fd, const uint8_t *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
			struct pollfd pf = { fd, POLLOUT, 0 };

			poll(&pf, 1, 100);
			continue;
		}
		if (w <= 0)
			return;		/* our reader is gone: drop the output */
		b += w;
		n -= (size_t)w;
	}
}

static void output(struct pump *p, int i, const uint8_t *b, uint32_t n)
{
	struct capture *c = &p->cap[i];
	char *nb;

	if (p->out_fd[i] >= 0) {
		write_all(p->out_fd[i], b, n);
		return;
	}
	if (c->len + n > CAPTURE_MAX || !(nb = realloc(c->p, c->len + n)))
		return;
	memcpy(nb + c->len, b, n);
	c->p = nb;
	c->len += n;
}

/* One frame from the agent; false when the exec is over (or broken). */
static bool agent_frame(struct pump *p, const struct agent_hdr *h, const uint8_t *b)
{
	switch (h->type) {
	case AGENT_STARTED:
		return true;
	case AGENT_STDOUT:
	case AGENT_STDERR:
		output(p, h->type == AGENT_STDERR, b, h->len);
		return true;
	case AGENT_EXIT:
		if (h->len != 8)
			break;
		p->ended = true;
		p->kind = b[0];
		p->value = (int)agent__get32(b + 4);
		return false;
	case AGENT_ERROR:
		snprintf(p->err, sizeof(p->err), "guest agent: %.*s", (int)(h->len > 200 ? 200 : h->len), b);
		return false;
	}
	snprintf(p->err, sizeof(p->err), "guest agent sent message type %u during an exec", h->type);
	return false;
}

static bool sock_readable(struct pump *p)
{
	ssize_t r = read(p->sock, p->rbuf + p->rlen, sizeof(p->rbuf) - p->rlen);
	size_t at = 0;

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (r <= 0) {
		snprintf(p->err, sizeof(p->err), "the guest agent closed the connection");
		return false;
	}
	p->rlen += (size_t)r;
	for (;;) {
		struct agent_hdr h;
		const char *why;

		if (p->rlen - at < AGENT_HDR_LEN)
			break;
		if (agent_hdr__decode(p->rbuf + at, &h, &why) < 0) {
			snprintf(p->err, sizeof(p->err), "guest agent: bad frame: %s", why);
			return false;
		}
		if (p->rlen - at < AGENT_HDR_LEN + h.len)
			break;
		if (!agent_frame(p, &h, p->rbuf + at + AGENT_HDR_LEN))
			return false;
		at += AGENT_HDR_LEN + h.len;
	}
	memmove(p->rbuf, p->rbuf + at, p->rlen - at);
	p->rlen -= at;
	return true;
}

static void stdin_readable(struct pump *p)
{
	uint8_t b[32768];
	ssize_t r = read(p->in_fd, b, sizeof(b));

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r > 0) {
		queue(p, AGENT_STDIN, b, (uint32_t)r);
		return;
	}
	queue(p, AGENT_STDIN, NULL, 0);	/* EOF */
	p->in_done = true;
}

static void resize(struct pump *p)
{
	struct winsize ws;
	uint8_t b[4];

	if (!p->tty || p->in_fd < 0 || ioctl(p->in_fd, TIOCGWINSZ, &ws) < 0)
		return;
	agent__put16(b, ws.ws_row);
	agent__put16(b + 2, ws.ws_col);
	queue(p, AGENT_RESIZE, b, 4);
}

static void signals(struct pump *p)
{
	struct signalfd_siginfo si;
	uint8_t b[4];

	while (read(p->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGWINCH) {
			resize(p);
			continue;
		}
		agent__put32(b, si.ssi_signo);
		queue(p, AGENT_SIGNAL, b, 4);
	}
}

static bool flush_w(struct pump *p)
{
	ssize_t w = send_some(p->sock, p->w.p, p->w.len);

	if (w < 0 && errno != EAGAIN && errno != EINTR) {
		snprintf(p->err, sizeof(p->err), "send to the guest agent: %s", strerror(errno));
		return false;
	}
	if (w > 0)
		framebuf__drop(&p->w, (size_t)w);
	return true;
}

static void string_stdin(struct pump *p)
{
	while (p->in_str && !p->in_done && p->w.len < 4 * 65536) {
		size_t n = p->in_len - p->in_off > 32768 ? 32768 : p->in_len - p->in_off;

		queue(p, AGENT_STDIN, p->in_str + p->in_off, (uint32_t)n);
		p->in_off += n;
		p->in_done = n == 0;
	}
}

static void run_pump(struct pump *p, int64_t deadline)
{
	for (;;) {
		struct pollfd pf[3] = { { p->sock, POLLIN, 0 }, { -1, POLLIN, 0 }, { p->sig_fd, POLLIN, 0 } };
		int r;

		string_stdin(p);
		if (p->w.len)
			pf[0].events |= POLLOUT;
		if (p->in_fd >= 0 && !p->in_done && p->w.len < 65536)
			pf[1].fd = p->in_fd;
		r = poll(pf, 3, clock__left_ms(deadline));
		if (r < 0 && errno != EINTR) {
			snprintf(p->err, sizeof(p->err), "poll: %s", strerror(errno));
			return;
		}
		if (r == 0) {
			snprintf(p->err, sizeof(p->err), "timeout");
			return;
		}
		if ((pf[0].revents & POLLOUT) && !flush_w(p))
			return;
		if ((pf[0].revents & (POLLIN | POLLHUP | POLLERR)) && !sock_readable(p))
			return;
		if (pf[1].revents)
			stdin_readable(p);
		if (pf[2].revents)
			signals(p);
	}
}

static int opt_fd(lua_State *L, int t, const char *key)
{
	int fd;

	lua_getfield(L, t, key);
	fd = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : -1;
	lua_pop(L, 1);
	return fd;
}

static bool opt_bool(lua_State *L, int t, const char *key)
{
	bool v;

	lua_getfield(L, t, key);
	v = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

static int setup_signals(struct pump *p, bool forward, sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	if (p->tty)
		sigaddset(&set, SIGWINCH);
	if (forward) {
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGHUP);
		sigaddset(&set, SIGQUIT);
	}
	sigprocmask(SIG_BLOCK, &set, old);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static int push_result(lua_State *L, struct pump *p)
{
	if (!p->ended) {
		lua_pushnil(L);
		lua_pushstring(L, p->err[0] ? p->err : "the exec ended without an exit status");
		return 2;
	}
	lua_createtable(L, 0, 4);
	lua_pushinteger(L, p->value);
	lua_setfield(L, -2, p->kind ? "signal" : "exit");
	for (int i = 0; i < 2; i++)
		if (p->out_fd[i] < 0) {
			lua_pushlstring(L, p->cap[i].p ? p->cap[i].p : "", p->cap[i].len);
			lua_setfield(L, -2, i ? "stderr" : "stdout");
		}
	return 1;
}

static int l_agent_exec(lua_State *L)
{
	struct sock *s = check_sock(L, 1);
	struct pump *p;
	sigset_t old;
	int64_t deadline;
	int n;

	luaL_checktype(L, 2, LUA_TTABLE);
	p = calloc(1, sizeof(*p));
	if (!p)
		return luaL_error(L, "out of memory");
	p->sock = s->fd;
	p->in_fd = opt_fd(L, 2, "stdin");
	lua_getfield(L, 2, "stdin");
	if (lua_type(L, -1) == LUA_TSTRING)
		p->in_str = lua_tolstring(L, -1, &p->in_len);	/* kept alive on the stack */
	p->in_done = p->in_fd < 0 && !p->in_str;
	p->out_fd[0] = opt_fd(L, 2, "stdout");
	p->out_fd[1] = opt_fd(L, 2, "stderr");
	p->tty = opt_bool(L, 2, "tty");
	lua_getfield(L, 2, "timeout");
	deadline = lua_isnumber(L, -1) ? (int64_t)clock__ms() + (int64_t)(lua_tonumber(L, -1) * 1000) : INT64_MAX;
	lua_pop(L, 1);
	if (p->in_done)
		queue(p, AGENT_STDIN, NULL, 0);
	p->sig_fd = setup_signals(p, opt_bool(L, 2, "forward_signals"), &old);
	resize(p);
	run_pump(p, deadline);
	close(p->sig_fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	n = push_result(L, p);
	framebuf__free(&p->w);
	free(p->cap[0].p);
	free(p->cap[1].p);
	free(p);
	return n;
}

/* ---- terminals ---- */

static int l_tty_raw(lua_State *L)
{
	int fd = (int)luaL_checkinteger(L, 1);
	struct termios t, raw;

	if (tcgetattr(fd, &t) < 0)
		return l_core__fail(L, "tcgetattr", NULL, errno);
	raw = t;
	cfmakeraw(&raw);
	if (tcsetattr(fd, TCSANOW, &raw) < 0)
		return l_core__fail(L, "tcsetattr", NULL, errno);
	lua_pushlstring(L, (const char *)&t, sizeof(t));
	return 1;
}

static int l_tty_restore(lua_State *L)
{
	int fd = (int)luaL_checkinteger(L, 1);
	size_t n;
	const char *saved = luaL_checklstring(L, 2, &n);
	struct termios t;

	if (n != sizeof(t))
		return luaL_error(L, "tty_restore: not a saved terminal state");
	memcpy(&t, saved, sizeof(t));
	tcsetattr(fd, TCSANOW, &t);
	return 0;
}

static int l_winsize(lua_State *L)
{
	struct winsize ws;

	if (ioctl((int)luaL_checkinteger(L, 1), TIOCGWINSZ, &ws) < 0)
		return l_core__fail(L, "TIOCGWINSZ", NULL, errno);
	lua_pushinteger(L, ws.ws_row);
	lua_pushinteger(L, ws.ws_col);
	return 2;
}

/* mkdir -p; the leaf must end up a directory of ours that only we can use. */
static int l_private_dir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char buf[4096];
	struct stat st;

	if (strlen(path) >= sizeof(buf) || path[0] != '/')
		return luaL_error(L, "private_dir: need an absolute path");
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0700);
			*p = '/';
		}
	mkdir(buf, 0700);
	if (stat(buf, &st) < 0)
		return l_core__fail(L, path, NULL, errno);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s: must be a directory owned by you with mode 0700 (chmod 700 it)", path);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

static int l_kill_pid(lua_State *L)
{
	pid_t pid = (pid_t)luaL_checkinteger(L, 1);
	int sig = (int)luaL_optinteger(L, 2, SIGTERM);

	if (pid <= 0)
		return luaL_error(L, "kill: bad pid %d", (int)pid);
	if (kill(pid, sig) < 0)
		return l_core__fail(L, "kill", NULL, errno);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_sleep(lua_State *L)
{
	double s = luaL_checknumber(L, 1);
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 0;
}

static const luaL_Reg sock_methods[] = {
	{ "send", l_send }, { "recv", l_recv }, { "accept", l_accept }, { "shutdown", l_shutdown },
	{ "close", l_close }, { "fd", l_sockfd }, { NULL, NULL },
};

static const luaL_Reg fns[] = {
	{ "unix_connect", l_unix_connect }, { "tcp_connect", l_tcp_connect }, { "unix_listen", l_unix_listen },
	{ "vsock_connect", l_vsock_connect }, { "agent_exec", l_agent_exec },
	{ "tty_raw", l_tty_raw }, { "tty_restore", l_tty_restore }, { "winsize", l_winsize },
	{ "private_dir", l_private_dir }, { "kill_pid", l_kill_pid }, { "sleep", l_sleep },
	{ NULL, NULL },
};

void l_net__register(lua_State *L)
{
	l_core__class(L, SOCK_MT, sock_methods, l_close);
	luaL_setfuncs(L, fns, 0);
}
