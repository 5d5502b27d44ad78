/*
 * sm.core.digest: the OCI content digests (src/oci/digest.c), so Lua checks
 * a blob or names a file by the same hash the image code uses.
 *
 *   digest.sha256(string)    -> "sha256:hex"
 *   digest.sha256_file(path) -> "sha256:hex" | nil, "path: message", errno
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/core.h"
#include "oci/digest.h"

static int l_sha256_file(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct oci_hash *h = oci_hash__new();
	char buf[65536];
	oci_digest_t d;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = errno;

	if (fd < 0 || !h) {
		oci_hash__free(h);
		if (fd >= 0)
			close(fd);
		return l_core__fail(L, path, NULL, fd < 0 ? err : ENOMEM);
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		oci_hash__update(h, buf, (size_t)n);
	err = n < 0 ? errno : EIO;
	close(fd);
	if (n < 0 || oci_hash__final(h, d) < 0) {
		oci_hash__free(h);
		return l_core__fail(L, path, NULL, err);
	}
	oci_hash__free(h);
	lua_pushstring(L, d);
	return 1;
}

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

void l_digest__register(lua_State *L)
{
	static const luaL_Reg fns[] = { { "sha256", l_sha256 }, { "sha256_file", l_sha256_file }, { NULL, NULL } };

	luaL_setfuncs(L, fns, 0);
}
