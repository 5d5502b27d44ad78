/*
 * sm.core.agent: the host's side of the guest agent protocol
 * (docs/agent-protocol.md): the one codec in src/net/agent-proto.c, exposed
 * so lua/sm/agent.lua builds no frame of its own.  agent.exec (l_exec.c)
 * and agent.put (l_put.c) complete the group.
 *
 *   agent.proto                      -> { VERSION=, PORT=, HDR_LEN=, MAX_PAYLOAD=, types = { EXEC=1, ... } }
 *   agent.frame(type, payload)       -> frame | nil, "agent frame: ...", EMSGSIZE
 *   agent.exec_frame(req)            -> EXEC frame | nil, "exec: ...", EINVAL
 *       req = { argv = {...}, env = {"K=V",...}, cwd =, user =, tty =, rows =, cols = }
 *   agent.put_frame(entry)           -> PUT frame | nil, "put: ...", EINVAL
 *       entry = { kind = "file"|"dir"|"symlink", path =, owner =, target =, mode =, mtime =, keep = }
 *   agent.header(8 bytes)            -> type, len | nil, "agent frame: why", EPROTO
 */
#include <errno.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/core.h"
#include "net/agent-proto.h"

static int l_frame(lua_State *L)
{
	int type = (int)luaL_checkinteger(L, 1);
	size_t len;
	const char *p = luaL_optlstring(L, 2, "", &len);
	uint8_t hdr[AGENT_HDR_LEN];
	luaL_Buffer b;

	if (len > AGENT_MAX_PAYLOAD)
		return l_core__fail(L, "agent frame", "payload over 64 KiB", EMSGSIZE);
	if (type < 0 || type > 255)
		return l_core__fail(L, "agent frame", "type out of range", EINVAL);
	agent_hdr__encode(hdr, type, (uint32_t)len);
	luaL_buffinit(L, &b);
	luaL_addlstring(&b, (const char *)hdr, sizeof(hdr));
	luaL_addlstring(&b, p, len);
	luaL_pushresult(&b);
	return 1;
}

/* A string field of req, NUL-free, kept alive by req itself (so only
 * real strings: a number converted on the stack would not be). */
static const char *req_str(lua_State *L, const char **why)
{
	size_t len;
	const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;

	lua_pop(L, 1);
	if (!s) {
		*why = "argv, env, cwd and user must be strings";
		return "";
	}
	if (strlen(s) != len)
		*why = "arguments cannot contain NUL bytes";
	return s;
}

/* req[key] as a list of at most max strings into out: its length (*why set on error) */
static int str_list(lua_State *L, const char *key, const char **out, int max, const char **why)
{
	int n = 0;

	lua_getfield(L, 1, key);
	if (lua_istable(L, -1))
		n = (int)luaL_len(L, -1);
	else if (!lua_isnil(L, -1))
		*why = "argv and env must be lists of strings";
	if (n > max) {
		*why = "at most 256 arguments and 256 environment entries";
		n = 0;
	}
	for (int i = 0; i < n && !*why; i++) {
		lua_geti(L, -1, i + 1);
		out[i] = req_str(L, why);
	}
	lua_pop(L, 1);
	return n;
}

static const char *opt_str(lua_State *L, const char *key, const char **why)
{
	lua_getfield(L, 1, key);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return "";
	}
	return req_str(L, why);
}

static int int_field(lua_State *L, int t, const char *key)
{
	int v;

	lua_getfield(L, t, key);
	v = (int)luaL_optinteger(L, -1, 0);
	lua_pop(L, 1);
	return v;
}

static int l_exec_frame(lua_State *L)
{
	static uint8_t buf[AGENT_HDR_LEN + AGENT_MAX_PAYLOAD];
	struct agent_exec e = { 0 };
	const char *why = NULL;
	int n;

	luaL_checktype(L, 1, LUA_TTABLE);
	e.argc = str_list(L, "argv", e.argv, AGENT_MAX_ARGS, &why);
	e.envc = str_list(L, "env", e.env, AGENT_MAX_ENV, &why);
	e.cwd = opt_str(L, "cwd", &why);
	e.user = opt_str(L, "user", &why);
	if (!why && e.argc < 1)
		why = "empty argv";
	if (why)
		return l_core__fail(L, "exec", why, EINVAL);
	lua_getfield(L, 1, "tty");
	e.flags = lua_toboolean(L, -1) ? AGENT_EXEC_TTY : 0;
	lua_pop(L, 1);
	e.rows = (uint16_t)int_field(L, 1, "rows");
	e.cols = (uint16_t)int_field(L, 1, "cols");
	n = agent_exec__encode(buf, sizeof(buf), &e);
	if (n < 0)
		return l_core__fail(L, "exec", "the request is over 64 KiB", EMSGSIZE);
	lua_pushlstring(L, (const char *)buf, (size_t)n);
	return 1;
}

/* entry.kind as AGENT_PUT_FILE.., or -1 */
static int put_kind(lua_State *L)
{
	static const char *const kinds[] = { "file", "dir", "symlink" };
	const char *k;
	int kind = -1;

	lua_getfield(L, 1, "kind");
	k = lua_tostring(L, -1);
	for (int i = 0; k && i < 3; i++)
		if (!strcmp(k, kinds[i]))
			kind = AGENT_PUT_FILE + i;
	lua_pop(L, 1);
	return kind;
}

static int l_put_frame(lua_State *L)
{
	static uint8_t buf[AGENT_HDR_LEN + AGENT_MAX_PAYLOAD];
	struct agent_put e = { 0 };
	const char *why = NULL;
	int n, kind;

	luaL_checktype(L, 1, LUA_TTABLE);
	if ((kind = put_kind(L)) < 0)
		return l_core__fail(L, "put", "kind must be \"file\", \"dir\" or \"symlink\"", EINVAL);
	e.kind = (uint8_t)kind;
	lua_getfield(L, 1, "path");
	e.path = lua_isnil(L, -1) ? (lua_pop(L, 1), NULL) : req_str(L, &why);
	e.owner = opt_str(L, "owner", &why);
	e.target = opt_str(L, "target", &why);
	e.mode = (uint16_t)int_field(L, 1, "mode");
	lua_getfield(L, 1, "mtime");
	e.mtime = (int64_t)luaL_optinteger(L, -1, 0);
	lua_pop(L, 1);
	lua_getfield(L, 1, "keep");
	e.flags = lua_toboolean(L, -1) ? AGENT_PUT_KEEP : 0;
	lua_pop(L, 1);
	if (why)
		return l_core__fail(L, "put", why, EINVAL);
	n = agent_put__encode(buf, sizeof(buf), &e, &why);
	if (n < 0)
		return l_core__fail(L, "put", strncmp(why, "put: ", 5) ? why : why + 5, EINVAL);
	lua_pushlstring(L, (const char *)buf, (size_t)n);
	return 1;
}

static int l_header(lua_State *L)
{
	size_t len;
	const char *p = luaL_checklstring(L, 1, &len);
	struct agent_hdr h;
	const char *why = "short header";

	if (len != AGENT_HDR_LEN || agent_hdr__decode((const uint8_t *)p, &h, &why) < 0)
		return l_core__fail(L, "agent frame", why, EPROTO);
	lua_pushinteger(L, h.type);
	lua_pushinteger(L, h.len);
	return 2;
}

static void push_proto(lua_State *L)
{
	static const struct { const char *name; int v; } types[] = {
		{ "EXEC", AGENT_EXEC }, { "PROXY", AGENT_PROXY }, { "LISTENING", AGENT_LISTENING },
		{ "STOP", AGENT_STOP }, { "PING", AGENT_PING }, { "STDIN", AGENT_STDIN },
		{ "SIGNAL", AGENT_SIGNAL }, { "RESIZE", AGENT_RESIZE }, { "OK", AGENT_OK },
		{ "ERROR", AGENT_ERROR }, { "STARTED", AGENT_STARTED }, { "STDOUT", AGENT_STDOUT },
		{ "STDERR", AGENT_STDERR }, { "EXIT", AGENT_EXIT }, { "PUT", AGENT_PUT },
		{ "DATA", AGENT_DATA }, { "DONE", AGENT_DONE },
	};

	lua_createtable(L, 0, 5);
	lua_pushinteger(L, AGENT_PROTO_VERSION);
	lua_setfield(L, -2, "VERSION");
	lua_pushinteger(L, AGENT_VSOCK_PORT);
	lua_setfield(L, -2, "PORT");
	lua_pushinteger(L, AGENT_HDR_LEN);
	lua_setfield(L, -2, "HDR_LEN");
	lua_pushinteger(L, AGENT_MAX_PAYLOAD);
	lua_setfield(L, -2, "MAX_PAYLOAD");
	lua_createtable(L, 0, (int)(sizeof(types) / sizeof(types[0])));
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		lua_pushinteger(L, types[i].v);
		lua_setfield(L, -2, types[i].name);
	}
	lua_setfield(L, -2, "types");
}

void l_agent__register(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "frame", l_frame }, { "exec_frame", l_exec_frame }, { "header", l_header },
		{ "put_frame", l_put_frame },
		{ NULL, NULL },
	};

	luaL_setfuncs(L, fns, 0);
	push_proto(L);
	lua_setfield(L, -2, "proto");
}
