/*
 * sm.core.fs: everything named by a path — what plain Lua's io lacks and
 * the friendly layer would otherwise shell out for (ls, rm -rf, mkdir -p).
 *
 *   fs.stat(path)          -> { size=, mtime_ns=, mode=, uid=, disk_bytes=, type= }
 *                             type: "file" | "dir" | "link" (lstat only) | "other"
 *   fs.lstat(path)         -- fs.stat of a symlink itself
 *   fs.readlink(path)      -> target
 *   fs.realpath(path)      -> the absolute path, links resolved
 *   fs.access(path [, "rwx"]) -> true
 *   fs.mkdir(path [, mode=0700])   -> true (an existing dir is fine)
 *   fs.mkdir_p(path [, mode=0700]) -> true
 *   fs.private_dir(path)   -> true: mkdir -p; the leaf must be ours and 0700
 *   fs.readdir(dir)        -> { names... } (sorted, no "." / "..")
 *   fs.rmtree(path)        -> true (a missing path is fine; symlinks are removed, never followed)
 *   fs.lock(path [, { wait = false }]) -> lock: an exclusive flock, released by
 *                             lock:unlock() or GC; "path: ...", EWOULDBLOCK when
 *                             wait = false and another process holds it
 * Every failing call returns nil, "what: message", errno.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/core.h"

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
	return l_core__fail(L, path, NULL, errno);
}

static const char *type_name(mode_t m)
{
	return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "link" : "other";
}

static int push_stat(lua_State *L, const struct stat *st)
{
	lua_createtable(L, 0, 6);
	lua_pushinteger(L, st->st_size);
	lua_setfield(L, -2, "size");
	lua_pushinteger(L, (lua_Integer)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec);
	lua_setfield(L, -2, "mtime_ns");
	lua_pushinteger(L, st->st_mode);
	lua_setfield(L, -2, "mode");
	lua_pushinteger(L, st->st_uid);
	lua_setfield(L, -2, "uid");
	lua_pushinteger(L, (lua_Integer)st->st_blocks * 512);	/* what it takes on disk (sparse files) */
	lua_setfield(L, -2, "disk_bytes");
	lua_pushstring(L, type_name(st->st_mode));
	lua_setfield(L, -2, "type");
	return 1;
}

static int l_stat(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct stat st;

	if (stat(path, &st) < 0)
		return l_core__fail(L, path, NULL, errno);
	return push_stat(L, &st);
}

static int l_lstat(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct stat st;

	if (lstat(path, &st) < 0)
		return l_core__fail(L, path, NULL, errno);
	return push_stat(L, &st);
}

static int l_realpath(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char buf[PATH_MAX];

	if (!realpath(path, buf))
		return l_core__fail(L, path, NULL, errno);
	lua_pushstring(L, buf);
	return 1;
}

static int l_readlink(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf));

	if (n < 0)
		return l_core__fail(L, path, NULL, errno);
	if ((size_t)n == sizeof(buf))
		return l_core__fail(L, path, "link target too long", ENAMETOOLONG);
	lua_pushlstring(L, buf, (size_t)n);
	return 1;
}

static int l_mkdir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);

	if (mkdir(path, (mode_t)luaL_optinteger(L, 2, 0700)) < 0 && errno != EEXIST)
		return l_core__fail(L, path, NULL, errno);
	lua_pushboolean(L, 1);
	return 1;
}

#define LOCK_MT "sm.lock"

static int l_lock(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int *fd = lua_newuserdatauv(L, sizeof(int), 0);

	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return l_core__fail(L, path, NULL, errno);
	luaL_setmetatable(L, LOCK_MT);
	int how = LOCK_EX;

	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "wait");
		if (lua_isboolean(L, -1) && !lua_toboolean(L, -1))
			how |= LOCK_NB;
		lua_pop(L, 1);
	}
	while (flock(*fd, how) < 0)
		if (errno != EINTR) {
			int err = errno;

			close(*fd);
			*fd = -1;
			errno = err;
			return l_core__fail(L, path, NULL, errno);
		}
	return 1;
}

static int l_unlock(lua_State *L)
{
	int *fd = luaL_checkudata(L, 1, LOCK_MT);

	if (*fd >= 0)
		close(*fd);		/* closing the fd drops the flock */
	*fd = -1;
	return 0;
}

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

/* mkdir -p of buf (a copy of the path, PATH_MAX long): 0, or -1 with errno
 * and buf cut at the directory that could not be made. */
static int mkdirs(char *buf, mode_t mode)
{
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = c;
		if (!c)
			return 0;
	}
}

static int l_mkdir_p(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	mode_t mode = (mode_t)luaL_optinteger(L, 2, 0700);
	char buf[PATH_MAX];
	struct stat st;

	if (!*path || strlen(path) >= sizeof(buf))
		return l_core__fail(L, "mkdir_p", "empty path or longer than PATH_MAX", EINVAL);
	strcpy(buf, path);
	if (mkdirs(buf, mode) < 0)
		return l_core__fail(L, buf, NULL, errno);
	if (stat(path, &st) < 0)
		return l_core__fail(L, path, NULL, errno);
	if (!S_ISDIR(st.st_mode))
		return l_core__fail(L, path, NULL, ENOTDIR);
	lua_pushboolean(L, 1);
	return 1;
}

/* The daemon's and the VMs' sockets live here: nobody else may enter it. */
static int l_private_dir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char buf[PATH_MAX];
	struct stat st;

	if (path[0] != '/' || strlen(path) >= sizeof(buf))
		return l_core__fail(L, path, "need an absolute path shorter than PATH_MAX", EINVAL);
	strcpy(buf, path);
	if (mkdirs(buf, 0700) < 0)
		return l_core__fail(L, buf, NULL, errno);
	if (stat(path, &st) < 0)
		return l_core__fail(L, path, NULL, errno);
	if (!S_ISDIR(st.st_mode))
		return l_core__fail(L, path, NULL, ENOTDIR);
	if (st.st_uid != geteuid() || (st.st_mode & 077))
		return l_core__fail(L, path, "must be a directory owned by you with mode 0700 (chmod 700 it)", EPERM);
	lua_pushboolean(L, 1);
	return 1;
}

void l_fs__register(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "stat", l_stat }, { "lstat", l_lstat }, { "readlink", l_readlink }, { "realpath", l_realpath },
		{ "access", l_access }, { "mkdir", l_mkdir }, { "mkdir_p", l_mkdir_p }, { "private_dir", l_private_dir },
		{ "readdir", l_readdir }, { "rmtree", l_rmtree }, { "lock", l_lock }, { NULL, NULL },
	};
	static const luaL_Reg lock_methods[] = { { "unlock", l_unlock }, { NULL, NULL } };

	l_core__class(L, LOCK_MT, lock_methods, l_unlock);
	luaL_setfuncs(L, fns, 0);
}
