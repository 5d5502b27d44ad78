/* sm.core system primitives the Lua side needs and plain Lua lacks. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/core.h"
#include "util/paths.h"

/* core.paths() -> { exe=, lua=, guest= } */
static int l_paths(lua_State *L)
{
	lua_createtable(L, 0, 3);
	lua_pushstring(L, paths__exe());
	lua_setfield(L, -2, "exe");
	lua_pushstring(L, paths__lua_dir());
	lua_setfield(L, -2, "lua");
	lua_pushstring(L, paths__guest_dir());
	lua_setfield(L, -2, "guest");
	return 1;
}

/* core.monotime() -> seconds (float) on CLOCK_MONOTONIC */
static int l_monotime(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
	return 1;
}

/* core.isatty(fd) -> bool */
static int l_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
	return 1;
}

/* core.access(path, "rwx") -> true | nil, strerror */
static int l_access(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	const char *m = luaL_optstring(L, 2, "");
	int mode = F_OK;

	mode |= strchr(m, 'r') ? R_OK : 0;
	mode |= strchr(m, 'w') ? W_OK : 0;
	mode |= strchr(m, 'x') ? X_OK : 0;
	if (access(path, mode) == 0) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lua_pushnil(L);
	lua_pushstring(L, strerror(errno));
	lua_pushinteger(L, errno);
	return 3;
}

static const luaL_Reg fns[] = {
	{ "paths", l_paths },
	{ "monotime", l_monotime },
	{ "isatty", l_isatty },
	{ "access", l_access },
	{ NULL, NULL },
};

void l_sys__register(lua_State *L)
{
	luaL_setfuncs(L, fns, 0);
}
