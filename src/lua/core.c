/*
 * sm.core: the raw C layer, one table per subsystem, each filled by the
 * file that implements it (like Lua's string/table or Neovim's vim.api):
 *
 *   core.sys     l_sys.c     this process and host: paths, monotime, getpid, sleep,
 *                            kvm_check, emulating_host; errno, limits (tables)
 *   core.fs      l_fs.c      anything named by a path: stat, lstat, readlink, realpath,
 *                            access, mkdir, mkdir_p, private_dir, readdir, rmtree, lock
 *   core.digest  l_digest.c  sha256, sha256_file
 *   core.proc    l_proc.c    spawn, kill
 *   core.tty     l_tty.c     raw, restore, winsize, isatty
 *   core.net     l_net.c     unix_connect, unix_listen, tcp_connect, vsock_connect
 *   core.agent   l_agent.c   proto (table), frame, exec_frame, put_frame, header
 *                l_exec.c    exec (the exec pump)
 *                l_put.c     put (the file copy)
 *   core.oci     l_oci.c     parse_ref, pull, convert_layer, cache_dir
 *   core.loop    l_loop.c    run, stop, timer, watch_fd, read_lines, on_signal
 *   core.router  l_router.c  new
 *   core.tls     l_tls.c     check, fingerprint, generate, request
 *
 * Names inside a group drop the group's prefix (core.oci.pull, not
 * core.oci.oci_pull).  Every function that fails operationally returns
 * nil, "what: why", errno (l_core__fail); a wrong argument type raises as
 * Lua's own library does.  docs/lua-core.md lists each function;
 * spec/core_contract_spec.lua holds every one of them to the rule.
 */
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

static const struct {
	const char *group;
	void (*fill)(lua_State *L);
} parts[] = {
	{ "sys", l_sys__register }, { "fs", l_fs__register }, { "digest", l_digest__register },
	{ "proc", l_proc__register }, { "tty", l_tty__register }, { "net", l_net__register },
	{ "agent", l_agent__register }, { "agent", l_exec__register }, { "agent", l_put__register },
	{ "oci", l_oci__register }, { "loop", l_loop__register }, { "router", l_router__register },
	{ "tls", l_tls__register },
};

int luaopen_sm_core(lua_State *L)
{
	lua_newtable(L);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		/* a group several files fill (agent) is made by the first */
		if (lua_getfield(L, -1, parts[i].group) != LUA_TTABLE) {
			lua_pop(L, 1);
			lua_newtable(L);
			lua_pushvalue(L, -1);
			lua_setfield(L, -3, parts[i].group);
		}
		parts[i].fill(L);
		lua_pop(L, 1);
	}
	return 1;
}
