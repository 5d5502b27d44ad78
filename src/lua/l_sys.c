/* sm.core system primitives the Lua side needs and plain Lua lacks. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/core.h"
#include "oci/digest.h"
#include "util/paths.h"
#include "vmm/kvm.h"
#include "vmm/vm.h"
#include "vmm/vmm.h"

/* core.paths() -> { exe=, lua=, guest=, vmm= (nil without sm-vmm) } */
static int l_paths(lua_State *L)
{
	lua_createtable(L, 0, 4);
	lua_pushstring(L, paths__vmm());
	lua_setfield(L, -2, "vmm");
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

/* core.sha256_file(path) -> "sha256:hex" | nil, err */
static int l_sha256_file(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct oci_hash *h = oci_hash__new();
	char buf[65536];
	oci_digest_t d;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !h) {
		oci_hash__free(h);
		if (fd >= 0)
			close(fd);
		return l_core__fail(L, path, NULL, errno);
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		oci_hash__update(h, buf, (size_t)n);
	close(fd);
	if (n < 0 || oci_hash__final(h, d) < 0) {
		oci_hash__free(h);
		return l_core__fail(L, path, NULL, errno);
	}
	oci_hash__free(h);
	lua_pushstring(L, d);
	return 1;
}

/* core.sha256(string) -> "sha256:hex" */
static int l_sha256(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	oci_digest_t d;

	if (oci_digest__buf(s, len, d) < 0)
		return luaL_error(L, "sha256: out of memory");
	lua_pushstring(L, d);
	return 1;
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

/* core.stat(path) -> { size=, mtime_ns=, mode=, uid=, disk_bytes=, type= } | nil, err
 * type: "file" | "dir" | "link" (lstat only) | "other" */
static int l_stat(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct stat st;

	if (stat(path, &st) < 0)
		return l_core__fail(L, path, NULL, errno);
	return push_stat(L, &st);
}

/* core.lstat(path): core.stat of a symlink itself */
static int l_lstat(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct stat st;

	if (lstat(path, &st) < 0)
		return l_core__fail(L, path, NULL, errno);
	return push_stat(L, &st);
}

/* core.realpath(path) -> the absolute path, links resolved | nil, err */
static int l_realpath(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char buf[PATH_MAX];

	if (!realpath(path, buf))
		return l_core__fail(L, path, NULL, errno);
	lua_pushstring(L, buf);
	return 1;
}

/* core.readlink(path) -> target | nil, err */
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

/* core.mkdir(path [, mode=0700]) -> true | nil, err (an existing dir is fine) */
static int l_mkdir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);

	if (mkdir(path, (mode_t)luaL_optinteger(L, 2, 0700)) < 0 && errno != EEXIST)
		return l_core__fail(L, path, NULL, errno);
	lua_pushboolean(L, 1);
	return 1;
}

#define LOCK_MT "sm.lock"

/* core.lock(path [, { wait = false }]) -> lock (exclusive flock; released by
 * lock:unlock() or GC) | nil, "path: busy", EWOULDBLOCK when wait = false and
 * another process holds it */
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

/* core.getpid() -> this process's pid */
static int l_getpid(lua_State *L)
{
	lua_pushinteger(L, getpid());
	return 1;
}

/* core.emulating_host() -> true on KVM that emulates guest kernel mode (kvm_pvm) */
static int l_emulating_host(lua_State *L)
{
	lua_pushboolean(L, kvm__emulating_host());
	return 1;
}

/* core.kvm_problem(path) -> nil when this user can use it; else
 * "path: what is wrong — how to fix it", errno (kvm.c's words) */
static int l_kvm_problem(lua_State *L)
{
	char msg[256];
	int r = kvm__check_access(luaL_checkstring(L, 1), msg, sizeof(msg));

	if (r == 0)
		return 0;
	lua_pushstring(L, msg);
	lua_pushinteger(L, -r);
	return 2;
}

/* core.limits: the VM limits the VMM enforces, for the CLI's own checks */
static void push_limits(lua_State *L)
{
	static const struct { const char *name; int value; } limits[] = {
		{ "min_memory_mib", VM_MIN_MEM_MIB }, { "max_memory_mib", VM_MAX_MEM_MIB },
		{ "max_vcpus", VM_MAX_VCPUS }, { "max_disks", VMM_MAX_DISKS },
		{ "cmdline_max", CMDLINE_MAX - 1 },	/* bytes, without the NUL */
	};

	lua_createtable(L, 0, (int)(sizeof(limits) / sizeof(limits[0])));
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		lua_pushinteger(L, limits[i].value);
		lua_setfield(L, -2, limits[i].name);
	}
	lua_setfield(L, -2, "limits");
}

static const luaL_Reg fns[] = {
	{ "kvm_problem", l_kvm_problem },
	{ "emulating_host", l_emulating_host },
	{ "sha256_file", l_sha256_file },
	{ "sha256", l_sha256 },
	{ "stat", l_stat },
	{ "lstat", l_lstat },
	{ "readlink", l_readlink },
	{ "realpath", l_realpath },
	{ "mkdir", l_mkdir },
	{ "lock", l_lock },
	{ "getpid", l_getpid },
	{ "paths", l_paths },
	{ "monotime", l_monotime },
	{ "isatty", l_isatty },
	{ "access", l_access },
	{ NULL, NULL },
};

/* core.errno: the errno values a failure's third result is compared with
 * (sm.errors.kind), so Lua never hard-codes the platform's numbers. */
static void push_errno_table(lua_State *L)
{
	static const struct { const char *name; int value; } names[] = {
		{ "ENOENT", ENOENT }, { "EACCES", EACCES }, { "EEXIST", EEXIST }, { "EINVAL", EINVAL },
		{ "EIO", EIO }, { "EAGAIN", EAGAIN }, { "EBADMSG", EBADMSG }, { "EFBIG", EFBIG },
		{ "ENOSPC", ENOSPC }, { "ENETUNREACH", ENETUNREACH }, { "ECONNREFUSED", ECONNREFUSED },
		{ "ETIMEDOUT", ETIMEDOUT }, { "ENOTSUP", ENOTSUP }, { "EPERM", EPERM }, { "EMSGSIZE", EMSGSIZE },
		{ "EPROTO", EPROTO }, { "ENOTDIR", ENOTDIR }, { "ECANCELED", ECANCELED }, { "ENOMEM", ENOMEM },
	};

	lua_createtable(L, 0, (int)(sizeof(names) / sizeof(names[0])));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		lua_pushinteger(L, names[i].value);
		lua_setfield(L, -2, names[i].name);
	}
	lua_setfield(L, -2, "errno");
}

void l_sys__register(lua_State *L)
{
	static const luaL_Reg lock_methods[] = { { "unlock", l_unlock }, { NULL, NULL } };

	l_core__class(L, LOCK_MT, lock_methods, l_unlock);
	luaL_setfuncs(L, fns, 0);
	push_errno_table(L);
	push_limits(L);
}
