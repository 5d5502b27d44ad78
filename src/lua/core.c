#include <lauxlib.h>

#include "lua/core.h"

int luaopen_sm_core(lua_State *L)
{
	lua_newtable(L);
	l_sys__register(L);
	l_proc__register(L);
	l_oci__register(L);
	l_net__register(L);
	return 1;
}
