/* sm.core OCI primitives (registry client, layer cache, layer images). */
#include <lauxlib.h>

#include "lua/core.h"

void l_oci__register(lua_State *L)
{
	(void)L;
}
