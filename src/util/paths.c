/*
 * The executable is build/sm in a checkout (Lua in ../lua, guest assets in
 * build/guest) or PREFIX/bin/sm when installed (PREFIX/share/sm/{lua,guest}).
 * SM_LUA_DIR and SM_GUEST_DIR override both.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/paths.h"

static char exe[PATH_MAX], lua_dir[PATH_MAX], guest_dir[PATH_MAX];

const char *paths__exe(void)
{
	if (!exe[0]) {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = '\0';
	}
	return exe;
}

static int is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Fill out with the first of exe_dir/in_tree or exe_dir/installed that exists. */
static const char *locate(char *out, const char *env, const char *in_tree, const char *installed)
{
	char dir[PATH_MAX - 64], probe[PATH_MAX];
	const char *e = getenv(env);
	char *slash;

	if (out[0])
		return out;
	if (e && *e) {
		snprintf(out, PATH_MAX, "%s", e);
		return out;
	}
	if (snprintf(dir, sizeof(dir), "%s", paths__exe()) >= (int)sizeof(dir))
		dir[0] = '\0';
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	snprintf(probe, sizeof(probe), "%.*s/%s", PATH_MAX - 128, dir, in_tree);
	if (!is_dir(probe))
		snprintf(probe, sizeof(probe), "%.*s/%s", PATH_MAX - 128, dir, installed);
	memcpy(out, probe, PATH_MAX);
	return out;
}

const char *paths__lua_dir(void)
{
	return locate(lua_dir, "SM_LUA_DIR", "../lua", "../share/sm/lua");
}

const char *paths__guest_dir(void)
{
	return locate(guest_dir, "SM_GUEST_DIR", "guest", "../share/sm/guest");
}

const char *paths__vmm(void)
{
	static char vmm[PATH_MAX];
	const char *slash = strrchr(paths__exe(), '/');

	if (!vmm[0] && slash)
		snprintf(vmm, sizeof(vmm), "%.*s/sm-vmm", (int)(slash - paths__exe()), paths__exe());
	return access(vmm, X_OK) == 0 ? vmm : NULL;
}
