/*
 * sm.core file-system calls the friendly layer would otherwise shell out
 * for (ls, rm -rf, mkdir -p).  Failures return nil, "what: message", errno.
 *
 *   core.readdir(dir)          -> { names... } (sorted, no "." / "..")
 *   core.rmtree(path)          -> true  (a missing path is fine; symlinks are removed, never followed)
 *   core.mkdir_p(path [, mode=0700]) -> true
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/core.h"

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int l_readdir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct dirent **list;
	int n = scandir(path, &list, NULL, NULL);

	if (n < 0)
		return l_core__fail(L, path, NULL, errno);
	qsort(list, (size_t)n, sizeof(*list), cmp_names);
	lua_createtable(L, n, 0);
	for (int i = 0, k = 0; i < n; i++) {
		const char *d = list[i]->d_name;

		if (strcmp(d, ".") && strcmp(d, "..")) {
			lua_pushstring(L, d);
			lua_rawseti(L, -2, ++k);
		}
		free(list[i]);
	}
	free(list);
	return 1;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

static int l_rmtree(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct stat st;

	if (!*path || !strcmp(path, "/"))
		return l_core__fail(L, "rmtree", "refusing to remove '/' or ''", EINVAL);
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT) {
			lua_pushboolean(L, 1);
			return 1;
		}
		return l_core__fail(L, path, NULL, errno);
	}
	/* FTW_PHYS: a symlink is removed itself, never followed; FTW_DEPTH: children first */
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return l_core__fail(L, path, NULL, errno);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_mkdir_p(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	mode_t mode = (mode_t)luaL_optinteger(L, 2, 0700);
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return l_core__fail(L, "mkdir_p", "bad path", EINVAL);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return l_core__fail(L, buf, NULL, errno);
		*p = c;
		if (!c)
			break;
	}
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return l_core__fail(L, path, NULL, errno ? errno : ENOTDIR);
	lua_pushboolean(L, 1);
	return 1;
}

void l_fs__register(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "readdir", l_readdir }, { "rmtree", l_rmtree }, { "mkdir_p", l_mkdir_p }, { NULL, NULL },
	};

	luaL_setfuncs(L, fns, 0);
}
