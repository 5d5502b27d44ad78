/*
 * sm.core.router: the HTTP edge (src/router/router.h) on the daemon's loop.
 * Lua only manages workers; the per-request path never enters Lua.
 *
 *   rt = router.new{ port = 8080, host = "127.0.0.1", snapshot = "name",
 *                     max_workers = 1, worker_conns = 48, head_max = 16384,
 *                     max_conns = 1024, queue_max = 1024, head_timeout = 10,
 *                     queue_timeout = 30, upstream_timeout = 30, idle_timeout = 60,
 *                     tls_cert = PEM, tls_key = PEM, handshake_timeout = 10 }
 *        -- timeouts in seconds; nil, "listen 127.0.0.1:8080: address already in use", errno
 *        -- with tls_cert/tls_key: TLS on the port (docs/tls.md); a bad pair is
 *        -- nil, "TLS: key K does not match the certificate C — ...", EINVAL
 *   rt:add_worker(id, uds_path, guest_port)   -- starting: gets no clients yet
 *   rt:ready(id)                              -- takes clients (the queue drains to it)
 *   rt:remove_worker(id)                      -- its clients get 502 or are closed
 *   rt:drain(id)                              -- no new clients; its connections finish
 *   rt:set_health(id, "none"|"starting"|"healthy"|"unhealthy")   -- what /_health shows
 *   rt:worker_stats(id) -> { ready=, draining=, health=, active=, served=, idle_s= }
 *   rt:stats() -> { live=, idle=, starting=, draining=, unhealthy=, waiting=, conns=, accepted=, proxied=,
 *                   answered=, e400=, e408=, e431=, e502=, e503=, e504=, tls_ok=, tls_failed= }
 *   rt:on_need(fn)                            -- fn(waiting): the router wants a worker
 *   rt:close()
 * Every failing call returns nil, "what: message", errno.
 */
#include <errno.h>
#include <string.h>

#include <lauxlib.h>
#include <uv.h>

#include "lua/core.h"
#include "router/router.h"
#include "router/tls.h"

#define ROUTER_MT "sm.router"

struct lrouter {
	struct router *r;
	int need_ref;
};

static struct lrouter *check(lua_State *L)
{
	struct lrouter *lr = luaL_checkudata(L, 1, ROUTER_MT);

	if (!lr->r)
		luaL_error(L, "router is closed");
	return lr;
}

static unsigned opt_uint(lua_State *L, const char *key, unsigned def, unsigned lo, unsigned hi)
{
	lua_Integer v;

	lua_getfield(L, 1, key);
	v = luaL_optinteger(L, -1, def);
	lua_pop(L, 1);
	if (v < lo || v > hi)
		luaL_error(L, "router: %s = %d: must be %d..%d", key, (int)v, (int)lo, (int)hi);
	return (unsigned)v;
}

static unsigned opt_ms(lua_State *L, const char *key, unsigned def_ms)
{
	lua_Number v;

	lua_getfield(L, 1, key);
	v = luaL_optnumber(L, -1, def_ms / 1000.0);
	lua_pop(L, 1);
	if (!(v > 0 && v <= 86400))
		luaL_error(L, "router: %s = %f: must be 0 < s <= 86400", key, (double)v);
	return (unsigned)(v * 1000);
}

static void read_limits(lua_State *L, struct router_limits *l)
{
	router_limits__default(l);
	l->max_workers = opt_uint(L, "max_workers", l->max_workers, 0, 256);
	l->worker_conns = opt_uint(L, "worker_conns", l->worker_conns, 1, 4096);
	l->head_max = opt_uint(L, "head_max", l->head_max, 256, 1 << 20);
	l->max_conns = opt_uint(L, "max_conns", l->max_conns, 1, 1 << 20);
	l->queue_max = opt_uint(L, "queue_max", l->queue_max, 0, 1 << 20);
	l->head_timeout_ms = opt_ms(L, "head_timeout", l->head_timeout_ms);
	l->queue_timeout_ms = opt_ms(L, "queue_timeout", l->queue_timeout_ms);
	l->upstream_timeout_ms = opt_ms(L, "upstream_timeout", l->upstream_timeout_ms);
	l->idle_timeout_ms = opt_ms(L, "idle_timeout", l->idle_timeout_ms);
	l->handshake_timeout_ms = opt_ms(L, "handshake_timeout", l->handshake_timeout_ms);
}

/* tls_cert + tls_key: the session set-up, checked before the port is taken. */
static int read_tls(lua_State *L, struct tls_server **t)
{
	const char *cert, *key;
	char err[512];

	lua_getfield(L, 1, "tls_cert");
	lua_getfield(L, 1, "tls_key");
	cert = luaL_optstring(L, -2, NULL);
	key = luaL_optstring(L, -1, NULL);
	lua_pop(L, 2);
	*t = NULL;
	if (!cert && !key)
		return 0;
	if (!cert || !key)
		return l_core__fail(L, "TLS", "give both a certificate and its key", EINVAL);
	if (!(*t = tls_server__new(cert, key, err, sizeof(err))))
		return l_core__fail(L, "TLS", err, EINVAL);
	return 0;
}

static int l_router_new(lua_State *L)
{
	struct router_limits lim;
	struct tls_server *tls;
	struct lrouter *lr;
	const char *host, *snap;
	int port, err = 0;
	char what[96];

	luaL_checktype(L, 1, LUA_TTABLE);
	port = (int)opt_uint(L, "port", 8080, 1, 65535);
	lua_getfield(L, 1, "host");
	host = luaL_optstring(L, -1, "127.0.0.1");
	lua_getfield(L, 1, "snapshot");
	snap = luaL_optstring(L, -1, "");
	read_limits(L, &lim);
	if (read_tls(L, &tls))
		return 3;
	lr = lua_newuserdatauv(L, sizeof(*lr), 0);
	lr->need_ref = LUA_NOREF;
	lr->r = router__new(l_loop__uv(), host, port, snap, &lim, &err);
	if (!lr->r) {
		tls_server__free(tls);
		snprintf(what, sizeof(what), "listen %s:%d", host, port);
		return l_core__fail(L, what, NULL, -(err));
	}
	if (tls)
		router__use_tls(lr->r, tls);
	luaL_setmetatable(L, ROUTER_MT);
	return 1;
}

static void on_need(void *ctx, unsigned waiting)
{
	struct lrouter *lr = ctx;
	lua_State *L = l_loop__L();

	if (!L || lr->need_ref == LUA_NOREF)
		return;
	lua_rawgeti(L, LUA_REGISTRYINDEX, lr->need_ref);
	lua_pushinteger(L, waiting);
	l_loop__pcall(L, 1);
}

static int l_on_need(lua_State *L)
{
	struct lrouter *lr = check(L);

	luaL_checktype(L, 2, LUA_TFUNCTION);
	luaL_unref(L, LUA_REGISTRYINDEX, lr->need_ref);
	lua_pushvalue(L, 2);
	lr->need_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	router__on_need(lr->r, on_need, lr);
	return 0;
}

static int result(lua_State *L, const char *what, int r)
{
	if (r < 0)
		return l_core__fail(L, what, NULL, -(r));
	lua_pushboolean(L, 1);
	return 1;
}

static unsigned check_id(lua_State *L)
{
	lua_Integer id = luaL_checkinteger(L, 2);

	luaL_argcheck(L, id >= 0 && id <= 0x7fffffff, 2, "worker id out of range");
	return (unsigned)id;
}

static int l_add_worker(lua_State *L)
{
	struct lrouter *lr = check(L);
	unsigned id = check_id(L);
	const char *uds = luaL_checkstring(L, 3);
	lua_Integer port = luaL_checkinteger(L, 4);

	if (port < 1 || port > 65535)
		return l_core__fail(L, "add_worker", "guest port out of range", EINVAL);
	return result(L, "add_worker", router__add_worker(lr->r, id, uds, (unsigned)port));
}

static int l_ready(lua_State *L)
{
	struct lrouter *lr = check(L);

	return result(L, "ready", router__ready(lr->r, check_id(L)));
}

static int l_remove_worker(lua_State *L)
{
	struct lrouter *lr = check(L);

	return result(L, "remove_worker", router__remove_worker(lr->r, check_id(L)));
}

static int l_drain(lua_State *L)
{
	struct lrouter *lr = check(L);

	return result(L, "drain", router__drain(lr->r, check_id(L)));
}

static const char *const health_names[] = { "none", "starting", "healthy", "unhealthy", NULL };

static int l_set_health(lua_State *L)
{
	struct lrouter *lr = check(L);
	unsigned id = check_id(L);
	int h = luaL_checkoption(L, 3, NULL, health_names);

	return result(L, "set_health", router__set_health(lr->r, id, (enum router_health)h));
}

static int l_set_standby(lua_State *L)
{
	struct lrouter *lr = check(L);
	lua_Integer n = luaL_checkinteger(L, 2);

	luaL_argcheck(L, n >= 0 && n <= 64, 2, "standby count out of range");
	router__set_standby(lr->r, (unsigned)n);
	return 0;
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

static int l_worker_stats(lua_State *L)
{
	struct lrouter *lr = check(L);
	struct router_worker_stats st;
	int r = router__worker_stats(lr->r, check_id(L), &st);

	if (r < 0)
		return l_core__fail(L, "worker_stats", NULL, -(r));
	lua_createtable(L, 0, 6);
	lua_pushboolean(L, st.ready);
	lua_setfield(L, -2, "ready");
	lua_pushboolean(L, st.draining);
	lua_setfield(L, -2, "draining");
	lua_pushstring(L, health_names[st.health]);
	lua_setfield(L, -2, "health");
	set_int(L, "active", st.active);
	set_int(L, "served", (lua_Integer)st.served);
	lua_pushnumber(L, st.idle_ms / 1000.0);
	lua_setfield(L, -2, "idle_s");
	return 1;
}

static int l_stats(lua_State *L)
{
	static const char *const ekeys[] = { "e400", "e408", "e431", "e502", "e503", "e504" };
	struct lrouter *lr = check(L);
	struct router_stats st;

	router__stats(lr->r, &st);
	lua_createtable(L, 0, 16);
	set_int(L, "live", st.live);
	set_int(L, "idle", st.idle);
	set_int(L, "starting", st.starting);
	set_int(L, "standby", st.standby);
	set_int(L, "draining", st.draining);
	set_int(L, "unhealthy", st.unhealthy);
	set_int(L, "waiting", st.waiting);
	set_int(L, "conns", st.conns);
	set_int(L, "accepted", (lua_Integer)st.accepted);
	set_int(L, "proxied", (lua_Integer)st.proxied);
	set_int(L, "answered", (lua_Integer)st.answered);
	for (int i = 0; i < 6; i++)
		set_int(L, ekeys[i], (lua_Integer)st.errors[i]);
	set_int(L, "tls_ok", (lua_Integer)st.tls_ok);
	set_int(L, "tls_failed", (lua_Integer)st.tls_failed);
	return 1;
}

static int l_close(lua_State *L)
{
	struct lrouter *lr = luaL_checkudata(L, 1, ROUTER_MT);

	if (lr->r)
		router__close(lr->r);
	lr->r = NULL;
	luaL_unref(L, LUA_REGISTRYINDEX, lr->need_ref);
	lr->need_ref = LUA_NOREF;
	return 0;
}

static const luaL_Reg methods[] = {
	{ "add_worker", l_add_worker }, { "ready", l_ready }, { "remove_worker", l_remove_worker },
	{ "worker_stats", l_worker_stats }, { "stats", l_stats }, { "on_need", l_on_need },
	{ "set_standby", l_set_standby }, { "drain", l_drain }, { "set_health", l_set_health },
	{ "close", l_close }, { NULL, NULL },
};

void l_router__register(lua_State *L)
{
	l_core__class(L, ROUTER_MT, methods, l_close);
	lua_pushcfunction(L, l_router_new);
	lua_setfield(L, -2, "new");
}
