/*
 * sm.core.sys: this process and its host — where sm's files are, the
 * clock, /dev/kvm, and the constants Lua compares results with.
 *
 *   sys.paths()            -> { exe=, lua=, guest=, vmm= (nil without sm-vmm) }
 *   sys.monotime()         -> seconds (float) on CLOCK_MONOTONIC
 *   sys.getpid()           -> this process's pid
 *   sys.sleep(s)           -- blocks the whole process (no loop runs meanwhile)
 *   sys.emulating_host()   -> true on KVM that emulates guest kernel mode (kvm_pvm)
 *   sys.kvm_check(path)    -> true | nil, "path: what is wrong — how to fix it", errno
 *   sys.errno              -- { ENOENT = 2, ... }: the third results' names
 *   sys.limits             -- the VM limits the VMM enforces
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/core.h"
#include "util/paths.h"
#include "vmm/kvm.h"
#include "vmm/vm.h"
#include "vmm/vmm.h"

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

static int l_monotime(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
	return 1;
}

static int l_getpid(lua_State *L)
{
	lua_pushinteger(L, getpid());
	return 1;
}

/* A negative or NaN time sleeps not at all: nanosleep refuses it at once. */
static int l_sleep(lua_State *L)
{
	double s = luaL_checknumber(L, 1);
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 0;
}

static int l_emulating_host(lua_State *L)
{
	lua_pushboolean(L, kvm__emulating_host());
	return 1;
}

/* kvm.c's words already name the device: "path: what is wrong — fix". */
static int l_kvm_check(lua_State *L)
{
	char msg[256];
	int r = kvm__check_access(luaL_checkstring(L, 1), msg, sizeof(msg));

	if (r == 0) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lua_pushnil(L);
	lua_pushstring(L, msg);
	lua_pushinteger(L, -r);
	return 3;
}

/* sys.limits: for the CLI's own checks before a VMM refuses */
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

/* sys.errno: the values a failure's third result is compared with
 * (sm.errors.kind), so Lua never hard-codes the platform's numbers. */
static void push_errno_table(lua_State *L)
{
	static const struct { const char *name; int value; } names[] = {
		{ "ENOENT", ENOENT }, { "EACCES", EACCES }, { "EEXIST", EEXIST }, { "EINVAL", EINVAL },
		{ "EIO", EIO }, { "EAGAIN", EAGAIN }, { "EBADMSG", EBADMSG }, { "EFBIG", EFBIG },
		{ "ENOSPC", ENOSPC }, { "ENETUNREACH", ENETUNREACH }, { "ECONNREFUSED", ECONNREFUSED },
		{ "ETIMEDOUT", ETIMEDOUT }, { "ENOTSUP", ENOTSUP }, { "EPERM", EPERM }, { "EMSGSIZE", EMSGSIZE },
		{ "EPROTO", EPROTO }, { "ENOTDIR", ENOTDIR }, { "ECANCELED", ECANCELED }, { "ENOMEM", ENOMEM },
		{ "ESRCH", ESRCH }, { "EBADF", EBADF }, { "ENOTTY", ENOTTY },
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
	static const luaL_Reg fns[] = {
		{ "paths", l_paths }, { "monotime", l_monotime }, { "getpid", l_getpid }, { "sleep", l_sleep },
		{ "emulating_host", l_emulating_host }, { "kvm_check", l_kvm_check }, { NULL, NULL },
	};

	luaL_setfuncs(L, fns, 0);
	push_errno_table(L);
	push_limits(L);
}
