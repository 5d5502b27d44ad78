#ifndef SM_LUA_CORE_H
#define SM_LUA_CORE_H
#include <lua.h>
#include <lauxlib.h>
/* sm.core: the raw C layer, one table per subsystem (the list is in core.c).
 * Each file adds its functions to its group's table, on top of the stack,
 * with its l_<subsys>__register. */
int luaopen_sm_core(lua_State *L);
/* The failure result of every sm.core function (luaL_fileresult's
 * convention): pushes nil, "what: why", err and returns 3.  why NULL means
 * strerror(err). */
int l_core__fail(lua_State *L, const char *what, const char *why, int err);
/* Register a userdata class: metatable `name` with `methods` as __index and gc as __gc. */
void l_core__class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc);
void l_sys__register(lua_State *L);
void l_fs__register(lua_State *L);
void l_digest__register(lua_State *L);
void l_proc__register(lua_State *L);
void l_tty__register(lua_State *L);
void l_oci__register(lua_State *L);
void l_net__register(lua_State *L);
void l_agent__register(lua_State *L);
void l_exec__register(lua_State *L);
void l_put__register(lua_State *L);
/* The fd of the sm.sock at idx (raises if it is not one, or closed). */
int l_net__sockfd(lua_State *L, int idx);
void l_loop__register(lua_State *L);
void l_router__register(lua_State *L);
void l_tls__register(lua_State *L);
/* The daemon's one event loop (src/lua/l_loop.c) for other bindings: */
struct uv_loop_s *l_loop__uv(void);
/* the thread running core.loop.run (NULL outside it) */
lua_State *l_loop__L(void);
/* lua_pcall(L, nargs, 0) for loop callbacks: an error stops the loop and
 * becomes core.loop.run's result */
void l_loop__pcall(lua_State *L, int nargs);
#endif
