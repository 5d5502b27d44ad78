/*
 * sm.core.tty: terminal modes for `sm exec -t` and `sm run -it`.
 *
 *   tty.isatty(fd)             -> bool
 *   tty.raw(fd)                -> saved (the state before, for tty.restore)
 *   tty.restore(fd, saved)     -> true
 *   tty.winsize(fd)            -> rows, cols
 * Every failing call returns nil, "what: message", errno.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/core.h"

static int l_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
	return 1;
}

static int l_raw(lua_State *L)
{
	int fd = (int)luaL_checkinteger(L, 1);
	struct termios t, raw;

	if (tcgetattr(fd, &t) < 0)
		return l_core__fail(L, "tcgetattr", NULL, errno);
	raw = t;
	cfmakeraw(&raw);
	if (tcsetattr(fd, TCSANOW, &raw) < 0)
		return l_core__fail(L, "tcsetattr", NULL, errno);
	lua_pushlstring(L, (const char *)&t, sizeof(t));
	return 1;
}

static int l_restore(lua_State *L)
{
	int fd = (int)luaL_checkinteger(L, 1);
	size_t n;
	const char *saved = luaL_checklstring(L, 2, &n);
	struct termios t;

	if (n != sizeof(t))
		return l_core__fail(L, "tty.restore", "not a state tty.raw saved", EINVAL);
	memcpy(&t, saved, sizeof(t));
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		return l_core__fail(L, "tcsetattr", NULL, errno);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_winsize(lua_State *L)
{
	struct winsize ws;

	if (ioctl((int)luaL_checkinteger(L, 1), TIOCGWINSZ, &ws) < 0)
		return l_core__fail(L, "TIOCGWINSZ", NULL, errno);
	lua_pushinteger(L, ws.ws_row);
	lua_pushinteger(L, ws.ws_col);
	return 2;
}

void l_tty__register(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "isatty", l_isatty }, { "raw", l_raw }, { "restore", l_restore }, { "winsize", l_winsize },
		{ NULL, NULL },
	};

	luaL_setfuncs(L, fns, 0);
}
