/*
 * sm.core.agent.put: the file copy into a guest (docs/agent-protocol.md
 * §PUT): walks a host file or directory tree and streams it over one agent
 * connection.
 *
 *   ok, stats = agent.put(sock, host_path, guest_path, { mode =, owner =, timeout = })
 *       -> true, { files = N, bytes = N, entries = N } | nil, "what: why", errno
 *
 * Like `docker cp` / Dockerfile COPY: a file copied to a path ending in "/"
 * lands inside that directory; a directory's contents are copied into the
 * destination directory (which keeps its mode and owner if it exists).
 * Regular files, directories and symlinks (copied as symlinks) only; the
 * whole tree is checked before anything is sent, so a FIFO deep inside
 * refuses the copy up front.  mode (permission bits) overrides every
 * non-symlink's mode; else the host's is kept.  owner is EXEC's user spec.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/core.h"
#include "net/agent-proto.h"
#include "util/clock.h"

#define CHUNK		AGENT_MAX_PAYLOAD	/* DATA frame size */
#define MAX_DEPTH	256		/* directory levels: each holds two paths on the stack */
#define REPLY_WAIT_MS	5000		/* for the ERROR after the agent hung up on us */
#define OLD_AGENT	"the VM's guest agent is too old to copy files (this needs agent protocol 2): " \
			"its snapshot was made by an older sm; bake it again"

struct putter {
	int sock;
	int64_t deadline;
	bool dry;			/* first pass: only check the tree */
	int mode;			/* -1: keep the host's */
	const char *owner;
	uint64_t files, bytes, entries;
	int depth;
	int err;			/* errno for the failure result */
	char msg[AGENT_PATH_MAX + 512];
	uint8_t buf[AGENT_HDR_LEN + AGENT_MAX_PAYLOAD];
};

__attribute__((format(printf, 3, 4)))
static int fail(struct putter *pt, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pt->msg, sizeof(pt->msg), fmt, ap);
	va_end(ap);
	pt->err = err;
	return -1;
}

static int recv_exact(struct putter *pt, uint8_t *p, size_t n, int64_t deadline)
{
	while (n) {
		struct pollfd pf = { pt->sock, POLLIN, 0 };
		ssize_t r;

		if (poll(&pf, 1, clock__left_ms(deadline)) == 0)
			return fail(pt, ETIMEDOUT, "timeout waiting for the guest agent");
		r = recv(pt->sock, p, n, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return fail(pt, ECONNRESET, "the guest agent closed the connection");
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The agent's reply: OK's payload into pt->buf (its length), or -1 with the message. */
static int reply(struct putter *pt, int64_t deadline)
{
	struct agent_hdr h;
	const char *why;
	char text[512];

	if (recv_exact(pt, pt->buf, AGENT_HDR_LEN, deadline) < 0)
		return -1;
	if (agent_hdr__decode(pt->buf, &h, &why) < 0)
		return fail(pt, EPROTO, "guest agent: bad frame: %s", why);
	if (recv_exact(pt, pt->buf, h.len, deadline) < 0)
		return -1;
	if (h.type == AGENT_OK)
		return (int)h.len;
	if (h.type != AGENT_ERROR)
		return fail(pt, EPROTO, "guest agent: unexpected reply to a copy (type %u)", h.type);
	snprintf(text, sizeof(text), "%.*s", (int)(h.len < sizeof(text) ? h.len : sizeof(text) - 1), pt->buf);
	if (strstr(text, "unknown message type"))
		return fail(pt, EPROTONOSUPPORT, "%s", OLD_AGENT);
	return fail(pt, EIO, "guest agent: %s", text);
}

/* Sends one frame; an early reply (the agent refused something) ends the copy. */
static int send_frame(struct putter *pt, const uint8_t *p, size_t n)
{
	while (n) {
		struct pollfd pf = { pt->sock, POLLIN | POLLOUT, 0 };
		ssize_t w;

		if (poll(&pf, 1, clock__left_ms(pt->deadline)) == 0)
			return fail(pt, ETIMEDOUT, "timeout sending to the guest agent");
		if (pf.revents & (POLLIN | POLLHUP | POLLERR))
			return reply(pt, pt->deadline) < 0 ? -1 : fail(pt, EPROTO, "guest agent: OK before DONE");
		w = send(pt->sock, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w < 0) {		/* the agent hung up: its ERROR says why */
			int e = errno;

			return reply(pt, (int64_t)clock__ms() + REPLY_WAIT_MS) < 0 ? -1 : fail(pt, e, "send: %s", strerror(e));
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_entry(struct putter *pt, const struct agent_put *e)
{
	const char *why;
	int n;

	n = agent_put__encode(pt->buf, sizeof(pt->buf), e, &why);
	if (n < 0)
		return fail(pt, EINVAL, "%s: %s", e->path, strncmp(why, "put: ", 5) ? why : why + 5);
	pt->entries++;
	return pt->dry ? 0 : send_frame(pt, pt->buf, (size_t)n);
}

static int send_data(struct putter *pt, int fd, const char *host)
{
	for (;;) {
		ssize_t r = read(fd, pt->buf + AGENT_HDR_LEN, CHUNK);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fail(pt, errno, "%s: read: %s", host, strerror(errno));
		agent_hdr__encode(pt->buf, AGENT_DATA, (uint32_t)r);
		if (send_frame(pt, pt->buf, AGENT_HDR_LEN + (size_t)r) < 0)
			return -1;
		pt->bytes += (uint64_t)r;
		if (r == 0)
			return 0;
	}
}

static int put_file(struct putter *pt, const char *host, struct agent_put *e)
{
	int fd, r;

	pt->files++;
	if (pt->dry)
		return send_entry(pt, e);
	fd = open(host, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(pt, errno, "%s: open: %s", host, strerror(errno));
	r = send_entry(pt, e) < 0 ? -1 : send_data(pt, fd, host);
	close(fd);
	return r;
}

static int put_symlink(struct putter *pt, const char *host, struct agent_put *e)
{
	char target[AGENT_PATH_MAX + 2];
	ssize_t n = readlink(host, target, sizeof(target));

	if (n < 0)
		return fail(pt, errno, "%s: readlink: %s", host, strerror(errno));
	if (n == 0 || n > AGENT_PATH_MAX)
		return fail(pt, ENAMETOOLONG, "%s: symlink target empty or longer than 4095 bytes", host);
	target[n] = '\0';
	e->target = target;
	return send_entry(pt, e);
}

static int put_tree(struct putter *pt, const char *host, const char *guest, bool top);

static int join(struct putter *pt, char *out, size_t cap, const char *dir, const char *name)
{
	if (snprintf(out, cap, "%s/%s", strcmp(dir, "/") ? dir : "", name) >= (int)cap)
		return fail(pt, ENAMETOOLONG, "%s/%s: path too long", dir, name);
	return 0;
}

static int put_dir(struct putter *pt, const char *host, struct agent_put *e)
{
	struct dirent **names;
	int n = scandir(host, &names, NULL, alphasort), r = 0;

	if (n < 0)
		return fail(pt, errno, "%s: scandir: %s", host, strerror(errno));
	r = ++pt->depth > MAX_DEPTH ? fail(pt, ELOOP, "%s: more than %d directory levels", host, MAX_DEPTH)
				    : send_entry(pt, e);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char h[PATH_MAX], g[AGENT_PATH_MAX + 2];

		if (!r && strcmp(name, ".") && strcmp(name, ".."))
			r = join(pt, h, sizeof(h), host, name) < 0 || join(pt, g, sizeof(g), e->path, name) < 0 ||
			    put_tree(pt, h, g, false) < 0 ? -1 : 0;
		free(names[i]);
	}
	free(names);
	pt->depth--;
	return r;
}

static int put_tree(struct putter *pt, const char *host, const char *guest, bool top)
{
	struct stat st;
	struct agent_put e = { .path = guest, .owner = pt->owner };

	if (lstat(host, &st) < 0)
		return fail(pt, errno, "%s: %s", host, strerror(errno));
	e.mode = (uint16_t)(pt->mode >= 0 ? pt->mode : (int)(st.st_mode & 07777));
	e.mtime = (int64_t)st.st_mtime;
	if (S_ISREG(st.st_mode)) {
		e.kind = AGENT_PUT_FILE;
		return put_file(pt, host, &e);
	}
	if (S_ISLNK(st.st_mode)) {
		e.kind = AGENT_PUT_SYMLINK;
		e.mode = 0;
		return put_symlink(pt, host, &e);
	}
	if (S_ISDIR(st.st_mode)) {
		e.kind = AGENT_PUT_DIR;
		e.flags = top ? AGENT_PUT_KEEP : 0;	/* COPY dir/ /dst: /dst itself stays as it is */
		return put_dir(pt, host, &e);
	}
	return fail(pt, EINVAL, "%s: %s; only regular files, directories and symlinks can be copied", host,
		    S_ISFIFO(st.st_mode) ? "is a FIFO" : S_ISSOCK(st.st_mode) ? "is a socket" : "is a device");
}

/* Where host lands: dst without trailing "/"s; a file into a dst ending in "/" keeps its name. */
static int destination(struct putter *pt, const char *host, const char *dst, char *out, size_t cap)
{
	char dir[AGENT_PATH_MAX + 2];
	size_t n = strlen(dst);
	bool into = n > 0 && dst[n - 1] == '/';
	const char *base = strrchr(host, '/');
	struct stat st;

	if (dst[0] != '/')
		return fail(pt, EINVAL, "guest path %s: must be absolute", dst);
	while (n > 1 && dst[n - 1] == '/')
		n--;
	if (n >= sizeof(dir) || n >= cap)
		return fail(pt, ENAMETOOLONG, "guest path %s: longer than 4095 bytes", dst);
	memcpy(dir, dst, n);
	dir[n] = '\0';
	if (!into || lstat(host, &st) < 0 || S_ISDIR(st.st_mode)) {
		memcpy(out, dir, n + 1);
		return 0;
	}
	return join(pt, out, cap, dir, base ? base + 1 : host);
}

static int opt_mode(lua_State *L)
{
	int mode;

	lua_getfield(L, 4, "mode");
	if (lua_isnil(L, -1))
		mode = -1;
	else if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 || lua_tointeger(L, -1) > 07777)
		mode = -2;
	else
		mode = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	return mode;
}

/* Two passes over the tree: check everything, then send it. */
static int copy(struct putter *pt, const char *host, const char *guest)
{
	uint64_t entries;
	int n;

	pt->dry = true;
	if (put_tree(pt, host, guest, true) < 0)
		return -1;
	entries = pt->entries;
	pt->dry = false;
	pt->files = pt->bytes = pt->entries = 0;
	if (put_tree(pt, host, guest, true) < 0)
		return -1;
	agent_hdr__encode(pt->buf, AGENT_DONE, 0);
	if (send_frame(pt, pt->buf, AGENT_HDR_LEN) < 0 || (n = reply(pt, pt->deadline)) < 0)
		return -1;
	if (n != 4 || agent__get32(pt->buf) != pt->entries || pt->entries != entries)
		return fail(pt, EIO, "%s: the guest agent wrote a different number of entries (did the tree change?)", host);
	return 0;
}

static int l_put(lua_State *L)
{
	int sock = l_net__sockfd(L, 1);
	const char *host = luaL_checkstring(L, 2), *dst = luaL_checkstring(L, 3);
	struct putter *pt;
	char guest[AGENT_PATH_MAX + 2];
	int r;

	if (lua_isnoneornil(L, 4)) {
		lua_settop(L, 3);
		lua_newtable(L);
	}
	luaL_checktype(L, 4, LUA_TTABLE);
	pt = calloc(1, sizeof(*pt));
	if (!pt)
		return l_core__fail(L, "copy", NULL, ENOMEM);
	pt->sock = sock;
	pt->mode = opt_mode(L);
	lua_getfield(L, 4, "owner");
	pt->owner = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";	/* kept alive by opts */
	lua_pop(L, 1);
	lua_getfield(L, 4, "timeout");
	pt->deadline = lua_isnumber(L, -1) ? (int64_t)clock__ms() + (int64_t)(lua_tonumber(L, -1) * 1000) : INT64_MAX;
	lua_pop(L, 1);
	if (pt->mode == -2)
		r = fail(pt, EINVAL, "mode must be an integer 0..0o7777");
	else
		r = destination(pt, host, dst, guest, sizeof(guest)) < 0 ? -1 : copy(pt, host, guest);
	if (r < 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "copy %s: %s", host, pt->msg);
		lua_pushinteger(L, pt->err);
		free(pt);
		return 3;
	}
	lua_pushboolean(L, 1);
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, (lua_Integer)pt->files);
	lua_setfield(L, -2, "files");
	lua_pushinteger(L, (lua_Integer)pt->bytes);
	lua_setfield(L, -2, "bytes");
	lua_pushinteger(L, (lua_Integer)pt->entries);
	lua_setfield(L, -2, "entries");
	free(pt);
	return 2;
}

void l_put__register(lua_State *L)
{
	lua_pushcfunction(L, l_put);
	lua_setfield(L, -2, "put");
}
