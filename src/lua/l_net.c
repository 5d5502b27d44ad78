/*
 * sm.core.net: stream sockets — Unix sockets, TCP, and the hybrid-vsock
 * handshake to a guest port (docs/vsock.md).
 *
 *   s, hostport = net.vsock_connect(uds, port, timeout_s)  -- "CONNECT port" → "OK hostport"
 *   s = net.unix_connect(path); l = net.unix_listen(path); s = l:accept(timeout_s)
 *   s = net.tcp_connect(host, port)   -- numeric or resolvable host; blocking connect
 *   n = s:send(data, timeout_s)       -- bytes written before the timeout (nil, err on error)
 *   d = s:recv(max, timeout_s)        -- "" at EOF; nil, "timeout"
 *   s:shutdown(); s:close(); s:fd()
 * Every failing function returns nil, "what: message", errno; the methods'
 * timeouts are nil, "timeout" (the loop's word, sm.loop's callers test it).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/core.h"
#include "util/clock.h"

#define SOCK_MT		"sm.sock"

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

/* getaddrinfo's failures have no errno of their own: the nearest one. */
static int gai_errno(int r)
{
	switch (r) {
	case EAI_SYSTEM:
		return errno;
	case EAI_NONAME:
	case EAI_NODATA:
		return ENOENT;
	case EAI_AGAIN:
		return EAGAIN;
	case EAI_MEMORY:
		return ENOMEM;
	default:
		return EINVAL;
	}
}

static int l_tcp_connect(lua_State *L)
{
	const char *host = luaL_checkstring(L, 1);
	const char *port = luaL_checkstring(L, 2);	/* numbers convert */
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, r = getaddrinfo(host, port, &hints, &res);

	if (r)
		return l_core__fail(L, host, gai_strerror(r), gai_errno(r));
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
	char what[32];

	if (fd < 0)
		return l_core__fail(L, uds, NULL, errno);
	snprintf(what, sizeof(what), "vsock port %u", (unsigned)port);
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
	return l_core__fail(L, what, "connection refused (nothing listening in the guest yet?)", ECONNREFUSED);
bad:
	close(fd);
	return l_core__fail(L, what, "timeout", ETIMEDOUT);
}

static const luaL_Reg sock_methods[] = {
	{ "send", l_send }, { "recv", l_recv }, { "accept", l_accept }, { "shutdown", l_shutdown },
	{ "close", l_close }, { "fd", l_sockfd }, { NULL, NULL },
};

static const luaL_Reg fns[] = {
	{ "unix_connect", l_unix_connect }, { "tcp_connect", l_tcp_connect }, { "unix_listen", l_unix_listen },
	{ "vsock_connect", l_vsock_connect }, { NULL, NULL },
};

void l_net__register(lua_State *L)
{
	l_core__class(L, SOCK_MT, sock_methods, l_close);
	luaL_setfuncs(L, fns, 0);
}
