/*
 * sm.core.agent.exec: the host side of one exec (docs/agent-protocol.md
 * §During an exec) — stdin, signals and window sizes to the agent, its
 * output to fds or captured, until EXIT.  It blocks: `sm exec` and the
 * friendly layer's one-shot execs use it; the daemon streams with sm.loop.
 *
 *   res = agent.exec(s, { stdin = fd|string|nil, stdout = fd|nil, stderr = fd|nil,
 *                         tty = bool, forward_signals = bool, timeout = s })
 *       -> { exit = n | signal = n, stdout = captured, stderr = captured }
 *        | nil, "guest agent: why", errno   (ETIMEDOUT, ECONNRESET, EPROTO, EIO: the agent's ERROR)
 *   s is an sm.core.net socket with the EXEC frame already sent.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/core.h"
#include "net/agent-proto.h"
#include "net/framebuf.h"
#include "util/clock.h"

#define CAPTURE_MAX	(64u << 20)	/* captured stdout/stderr of one exec */

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
	char err[256];			/* why it failed, after "guest agent: " */
	int errnum;
};

/* The exec is over without an exit status: why, and its errno. */
__attribute__((format(printf, 3, 4)))
static void broke(struct pump *p, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	p->errnum = err;
}

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
		broke(p, EIO, "%.*s", (int)(h->len > 200 ? 200 : h->len), b);
		return false;
	}
	broke(p, EPROTO, "sent message type %u during an exec", h->type);
	return false;
}

static bool sock_readable(struct pump *p)
{
	ssize_t r = read(p->sock, p->rbuf + p->rlen, sizeof(p->rbuf) - p->rlen);
	size_t at = 0;

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (r <= 0) {
		broke(p, ECONNRESET, "closed the connection");
		return false;
	}
	p->rlen += (size_t)r;
	for (;;) {
		struct agent_hdr h;
		const char *why;

		if (p->rlen - at < AGENT_HDR_LEN)
			break;
		if (agent_hdr__decode(p->rbuf + at, &h, &why) < 0) {
			broke(p, EPROTO, "bad frame: %s", why);
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
	ssize_t w = send(p->sock, p->w.p, p->w.len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (w < 0 && errno != EAGAIN && errno != EINTR) {
		broke(p, errno, "send: %s", strerror(errno));
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
			broke(p, errno, "poll: %s", strerror(errno));
			return;
		}
		if (r == 0) {
			broke(p, ETIMEDOUT, "timeout");
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
	if (!p->ended)
		return p->errnum ? l_core__fail(L, "guest agent", p->err, p->errnum)
				 : l_core__fail(L, "guest agent", "the exec ended without an exit status", EPROTO);
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

static int l_exec(lua_State *L)
{
	int sock = l_net__sockfd(L, 1);
	struct pump *p;
	sigset_t old;
	int64_t deadline;
	int n;

	luaL_checktype(L, 2, LUA_TTABLE);
	p = calloc(1, sizeof(*p));
	if (!p)
		return luaL_error(L, "out of memory");
	p->sock = sock;
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

void l_exec__register(lua_State *L)
{
	lua_pushcfunction(L, l_exec);
	lua_setfield(L, -2, "exec");
}
