/*
 * sm: the executable.  `sm vmm ...` is the pure-C VM process (one VM per
 * process, no Lua); every other command is Lua: main creates a lua_State,
 * registers the C core as `sm.core` and calls require("sm.cli").main(arg).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lua/core.h"
#include "util/paths.h"
#include "vmm/vmm-main.h"

/* $XDG_CONFIG_HOME/sm/lua first, so a user's module replaces ours. */
static void set_package_path(lua_State *L, const char *luadir)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char user[4096] = "";

	if (xdg && *xdg)
		snprintf(user, sizeof(user), "%s/sm/lua/?.lua;%s/sm/lua/?/init.lua;", xdg, xdg);
	else if (home && *home)
		snprintf(user, sizeof(user), "%s/.config/sm/lua/?.lua;%s/.config/sm/lua/?/init.lua;", home, home);

	lua_getglobal(L, "package");
	lua_pushfstring(L, "%s%s/?.lua;%s/?/init.lua", user, luadir, luadir);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
}

static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
	return 1;
}

static int run_lua(int argc, char **argv)
{
	lua_State *L = luaL_newstate();
	int status, code = 1;

	if (!L) {
		fprintf(stderr, "sm: out of memory\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);	/* a closed pipe is an error return, not death */
	signal(SIGXFSZ, SIG_IGN);	/* so is a file-size limit (EFBIG), e.g. writing a volume */
	luaL_openlibs(L);
	luaL_requiref(L, "sm.core", luaopen_sm_core, 0);
	lua_pop(L, 1);
	set_package_path(L, paths__lua_dir());

	lua_pushcfunction(L, traceback);
	lua_getglobal(L, "require");
	lua_pushliteral(L, "sm.cli");
	status = lua_pcall(L, 1, 1, 1);
	if (status == LUA_OK) {
		lua_getfield(L, -1, "main");
		lua_createtable(L, argc, 1);
		lua_pushstring(L, argv[0]);
		lua_rawseti(L, -2, 0);
		for (int i = 1; i < argc; i++) {
			lua_pushstring(L, argv[i]);
			lua_rawseti(L, -2, i);
		}
		status = lua_pcall(L, 1, 1, 1);
	}
	if (status != LUA_OK) {
		fprintf(stderr, "sm: internal error: %s\n", lua_tostring(L, -1));
	} else {
		code = (int)luaL_optinteger(L, -1, 0);
	}
	lua_close(L);
	return code;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "vmm") == 0)
		return vmm__main(argc - 1, argv + 1);
	return run_lua(argc, argv);
}
