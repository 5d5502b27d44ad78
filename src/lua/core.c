#include <string.h>

#include <lauxlib.h>

#include "lua/core.h"

int l_core__fail(lua_State *L, const char *what, const char *why, int err)
{
	lua_pushnil(L);
	lua_pushfstring(L, "%s: %s", what, why ? why : strerror(err));
	lua_pushinteger(L, err);
	return 3;
}

void l_core__class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc)
{
	luaL_newmetatable(L, name);
	lua_newtable(L);
	luaL_setfuncs(L, methods, 0);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
}

int luaopen_sm_core(lua_State *L)
{
	lua_newtable(L);
	l_sys__register(L);
	l_proc__register(L);
	l_oci__register(L);
	l_net__register(L);
	l_fs__register(L);
	l_agent__register(L);
	l_put__register(L);
	l_loop__register(L);
	l_router__register(L);
	l_tls__register(L);
	return 1;
}
