/*
 * sm.core.loop: the daemon's one libuv loop, seen from Lua as callbacks
 * (lua/sm/loop.lua turns them into coroutines that look blocking).
 *
 *   ok, err = loop.run()             -- until loop.stop() or nothing is left;
 *                                    -- a callback's error stops it: nil, err
 *                                    -- (the error value as raised, not a message)
 *   loop.stop()
 *   t = loop.timer(ms, fn [, repeat_ms])   -- fn() after ms (then every repeat_ms)
 *   w = loop.watch_fd(fd, fn [, borrow])  -- fn() whenever fd is readable (e.g. a pidfd);
 *                                    -- owns and closes fd, unless borrow (a socket
 *                                    -- its sm.core object closes: close w first)
 *   r = loop.read_lines(fd, fn)      -- fn(line) per line (no "\n"; over 4 KiB: in
 *                                    -- pieces), fn(nil) at EOF; owns and closes fd
 *   s = loop.on_signal(signo, fn)    -- fn(signo)
 *   h:close()                        -- any of them; safe twice
 *   s = loop.stats()                 -- { lua_cpu_ns =, lua_calls = }: the loop thread's
 *                                    -- CPU time inside Lua callbacks (policies, hooks,
 *                                    -- the supervisor), so a benchmark can tell the
 *                                    -- router's own C work from the Lua beside it
 * The constructors fail with nil, "what: message", errno (a bad fd or signo).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <uv.h>

#include "lua/core.h"

#define HANDLE_MT	"sm.loop.handle"
#define LINE_MAX_BYTES	4096

enum kind { K_TIMER, K_POLL, K_LINES, K_SIGNAL };

struct lh {
	union {
		uv_handle_t h;
		uv_timer_t t;
		uv_poll_t p;
		uv_signal_t s;
	} u;
	enum kind kind;
	int fn_ref, self_ref;		/* the callback; the userdata while it can fire */
	int fd;				/* K_POLL, K_LINES: owned */
	size_t len;
	char buf[];			/* K_LINES: a partial line */
};

struct lh_ud {
	struct lh *h;
};

static lua_State *running_L;		/* the thread inside core.loop.run */
static int error_ref = LUA_NOREF;

uv_loop_t *l_loop__uv(void)
{
	return uv_default_loop();
}

/* CPU time inside Lua callbacks (loop.stats); a callback's C calls that run
 * another callback (router:close() → on_need) count once, at the outermost. */
static uint64_t lua_cpu_ns, lua_calls;
static int lua_depth;

static uint64_t thread_cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Calls the function under its nargs arguments on top of L's stack.  A Lua
 * error does not unwind through libuv: it is kept and the loop stops.  Only
 * Lua's callbacks come here, never the router's per-request path, so the
 * two clock reads cost nothing a request pays. */
void l_loop__pcall(lua_State *L, int nargs)
{
	uint64_t t0 = lua_depth++ ? 0 : thread_cpu_ns();
	int r = lua_pcall(L, nargs, 0, 0);

	if (--lua_depth == 0) {
		lua_cpu_ns += thread_cpu_ns() - t0;
		lua_calls++;
	}
	if (r == LUA_OK)
		return;
	if (error_ref == LUA_NOREF)
		error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	else
		lua_pop(L, 1);
	uv_stop(l_loop__uv());
}

lua_State *l_loop__L(void)
{
	return running_L;
}

static void on_closed(uv_handle_t *h)
{
	free(h);
}

static void lh_close(lua_State *L, struct lh_ud *ud)
{
	struct lh *h = ud->h;

	if (!h)
		return;
	ud->h = NULL;
	luaL_unref(L, LUA_REGISTRYINDEX, h->fn_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, h->self_ref);
	if (h->kind == K_LINES || h->kind == K_POLL)
		uv_poll_stop(&h->u.p);		/* out of epoll before the fd is closed */
	if (h->fd >= 0)
		close(h->fd);
	h->u.h.data = NULL;
	uv_close(&h->u.h, on_closed);
}

/* Pushes the callback of h; false when h was closed meanwhile. */
static bool push_fn(lua_State *L, struct lh *h)
{
	if (!L || !h->u.h.data)
		return false;
	lua_rawgeti(L, LUA_REGISTRYINDEX, h->fn_ref);
	return true;
}

static struct lh_ud *ud_of(lua_State *L, struct lh *h)
{
	struct lh_ud *ud;

	lua_rawgeti(L, LUA_REGISTRYINDEX, h->self_ref);
	ud = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return ud;
}

static struct lh *new_handle(lua_State *L, enum kind kind, int fn_idx, size_t extra)
{
	struct lh_ud *ud;
	struct lh *h;

	luaL_checktype(L, fn_idx, LUA_TFUNCTION);
	h = calloc(1, sizeof(*h) + extra);
	if (!h)
		luaL_error(L, "loop: out of memory");
	ud = lua_newuserdatauv(L, sizeof(*ud), 0);
	ud->h = h;
	luaL_setmetatable(L, HANDLE_MT);
	h->kind = kind;
	h->fd = -1;
	lua_pushvalue(L, fn_idx);
	h->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pushvalue(L, -1);
	h->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return h;
}

static int push_fail(lua_State *L, const char *what, int uverr)
{
	lua_pushnil(L);
	lua_pushfstring(L, "%s: %s", what, uv_strerror(uverr));
	lua_pushinteger(L, -uverr);
	return 3;
}

/* ---- run / stop ---- */

static int l_loop_run(lua_State *L)
{
	lua_State *outer = running_L;

	if (outer)
		return luaL_error(L, "loop.run: the loop is already running");
	running_L = L;
	uv_run(l_loop__uv(), UV_RUN_DEFAULT);
	running_L = NULL;
	if (error_ref != LUA_NOREF) {
		lua_pushnil(L);
		lua_rawgeti(L, LUA_REGISTRYINDEX, error_ref);
		luaL_unref(L, LUA_REGISTRYINDEX, error_ref);
		error_ref = LUA_NOREF;
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

static int l_loop_stop(lua_State *L)
{
	(void)L;
	uv_stop(l_loop__uv());
	return 0;
}

/* ---- timers ---- */

static void on_timer(uv_timer_t *t)
{
	struct lh *h = (struct lh *)t;
	lua_State *L = running_L;

	if (!push_fn(L, h))
		return;
	if (!uv_timer_get_repeat(t)) {		/* done: let the GC have it unless kept */
		luaL_unref(L, LUA_REGISTRYINDEX, h->self_ref);
		h->self_ref = LUA_NOREF;
	}
	l_loop__pcall(L, 0);
}

static int l_timer(lua_State *L)
{
	lua_Integer ms = luaL_checkinteger(L, 1), rep = luaL_optinteger(L, 3, 0);
	struct lh *h;
	int e;

	luaL_argcheck(L, ms >= 0 && rep >= 0, 1, "must be >= 0");
	h = new_handle(L, K_TIMER, 2, 0);
	uv_timer_init(l_loop__uv(), &h->u.t);
	h->u.h.data = h;
	e = uv_timer_start(&h->u.t, on_timer, (uint64_t)ms, (uint64_t)rep);
	if (e < 0) {
		lh_close(L, lua_touserdata(L, -1));
		return push_fail(L, "timer", e);
	}
	return 1;
}

/* ---- fds ---- */

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct lh *h = (struct lh *)p;
	lua_State *L = running_L;

	(void)status;
	(void)events;
	if (push_fn(L, h))
		l_loop__pcall(L, 0);
}

static int start_poll(lua_State *L, struct lh *h, int fd, uv_poll_cb cb)
{
	int e = uv_poll_init(l_loop__uv(), &h->u.p, fd);

	if (e < 0) {		/* not initialised: nothing for libuv to close */
		struct lh_ud *ud = lua_touserdata(L, -1);

		luaL_unref(L, LUA_REGISTRYINDEX, h->fn_ref);
		luaL_unref(L, LUA_REGISTRYINDEX, h->self_ref);
		ud->h = NULL;
		free(h);
		return push_fail(L, "watch fd", e);
	}
	h->u.h.data = h;
	e = uv_poll_start(&h->u.p, UV_READABLE | UV_DISCONNECT, cb);
	if (e < 0) {
		lh_close(L, lua_touserdata(L, -1));
		return push_fail(L, "watch fd", e);
	}
	return 1;
}

static int l_watch_fd(lua_State *L)
{
	int fd = (int)luaL_checkinteger(L, 1);
	bool borrow = lua_toboolean(L, 3);
	struct lh *h = new_handle(L, K_POLL, 2, 0);

	h->fd = borrow ? -1 : fd;
	return start_poll(L, h, fd, on_poll);
}

/* Delivers each complete line in h->buf (and a full buffer as one piece). */
static void deliver_lines(lua_State *L, struct lh *h)
{
	size_t at = 0;

	for (;;) {
		char *nl = memchr(h->buf + at, '\n', h->len - at);
		size_t n = nl ? (size_t)(nl - (h->buf + at)) : h->len - at;

		if (!nl && (h->len < LINE_MAX_BYTES || n == 0))
			break;
		if (!push_fn(L, h))
			return;
		lua_pushlstring(L, h->buf + at, n);
		at += n + (nl != NULL);
		l_loop__pcall(L, 1);
		if (!h->u.h.data)
			return;			/* closed by the callback */
	}
	memmove(h->buf, h->buf + at, h->len - at);
	h->len -= at;
}

static void on_lines(uv_poll_t *p, int status, int events)
{
	struct lh *h = (struct lh *)p;
	lua_State *L = running_L;
	ssize_t n;

	(void)status;
	(void)events;
	if (!L || !h->u.h.data)
		return;
	n = read(h->fd, h->buf + h->len, LINE_MAX_BYTES - h->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		h->len += (size_t)n;
		return deliver_lines(L, h);
	}
	if (h->len && push_fn(L, h)) {		/* a last line without "\n" */
		lua_pushlstring(L, h->buf, h->len);
		h->len = 0;
		l_loop__pcall(L, 1);
	}
	if (!push_fn(L, h))
		return;
	lua_pushnil(L);
	l_loop__pcall(L, 1);
	if (h->u.h.data)
		lh_close(L, ud_of(L, h));
}

static int l_read_lines(lua_State *L)
{
	int fd = (int)luaL_checkinteger(L, 1);
	struct lh *h = new_handle(L, K_LINES, 2, LINE_MAX_BYTES);

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	h->fd = fd;
	return start_poll(L, h, fd, on_lines);
}

/* ---- signals ---- */

static void on_signal(uv_signal_t *s, int signo)
{
	struct lh *h = (struct lh *)s;
	lua_State *L = running_L;

	if (!push_fn(L, h))
		return;
	lua_pushinteger(L, signo);
	l_loop__pcall(L, 1);
}

static int l_on_signal(lua_State *L)
{
	int signo = (int)luaL_checkinteger(L, 1);
	struct lh *h = new_handle(L, K_SIGNAL, 2, 0);
	int e;

	uv_signal_init(l_loop__uv(), &h->u.s);
	h->u.h.data = h;
	e = uv_signal_start(&h->u.s, on_signal, signo);
	if (e < 0) {
		lh_close(L, lua_touserdata(L, -1));
		return push_fail(L, "signal", e);
	}
	return 1;
}

/* ---- the handle class ---- */

static int l_handle_close(lua_State *L)
{
	lh_close(L, luaL_checkudata(L, 1, HANDLE_MT));
	return 0;
}

static int l_handle_active(lua_State *L)
{
	struct lh_ud *ud = luaL_checkudata(L, 1, HANDLE_MT);

	lua_pushboolean(L, ud->h && uv_is_active(&ud->h->u.h));
	return 1;
}

static const luaL_Reg handle_methods[] = {
	{ "close", l_handle_close }, { "stop", l_handle_close }, { "active", l_handle_active },
	{ NULL, NULL },
};

static int l_stats(lua_State *L)
{
	lua_createtable(L, 0, 2);
	lua_pushinteger(L, (lua_Integer)lua_cpu_ns);
	lua_setfield(L, -2, "lua_cpu_ns");
	lua_pushinteger(L, (lua_Integer)lua_calls);
	lua_setfield(L, -2, "lua_calls");
	return 1;
}

static const luaL_Reg fns[] = {
	{ "run", l_loop_run }, { "stats", l_stats }, { "stop", l_loop_stop }, { "timer", l_timer },
	{ "watch_fd", l_watch_fd }, { "read_lines", l_read_lines }, { "on_signal", l_on_signal },
	{ NULL, NULL },
};

void l_loop__register(lua_State *L)
{
	l_core__class(L, HANDLE_MT, handle_methods, l_handle_close);
	luaL_setfuncs(L, fns, 0);
}
