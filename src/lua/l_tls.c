/*
 * sm.core.tls: TLS helpers (docs/tls.md); the edge's sessions are the router's.
 *
 *   ok = tls.check(cert_file, key_file)   -- the PEM pair loads as the edge would: a bad pair says why
 *   fp = tls.fingerprint(cert_file)       -- "AB:CD:…" (SHA-256 of the DER)
 *   ok = tls.generate(cert_file, key_file) -- self-signed, localhost/127.0.0.1/::1;
 *                                         -- new files only, mode 0600
 *   resp = tls.request(port, fingerprint|nil, request, timeout_s)
 *        -- 127.0.0.1:port over TLS, the peer checked by fingerprint; the bytes until EOF
 * Every failing call returns nil, "what: message", errno.
 */
#include <errno.h>
#include <stdlib.h>

#include <lauxlib.h>

#include "lua/core.h"
#include "router/tls.h"
#include "router/tls-cert.h"
#include "router/tls-probe.h"

#define RESPONSE_MAX	(1 << 20)

static int l_check(lua_State *L)
{
	char err[512];
	struct tls_server *t = tls_server__new(luaL_checkstring(L, 1), luaL_checkstring(L, 2), err, sizeof(err));

	if (!t)
		return l_core__fail(L, "TLS", err, EINVAL);
	tls_server__free(t);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_fingerprint(lua_State *L)
{
	char fp[TLS_FP_LEN + 1], err[256];

	if (tls_cert__fingerprint(luaL_checkstring(L, 1), fp, err, sizeof(err)) < 0)
		return l_core__fail(L, "TLS", err, EINVAL);
	lua_pushstring(L, fp);
	return 1;
}

static int l_generate(lua_State *L)
{
	char err[256];

	if (tls_cert__generate(luaL_checkstring(L, 1), luaL_checkstring(L, 2), err, sizeof(err)) < 0)
		return l_core__fail(L, "TLS", err, EIO);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_request(lua_State *L)
{
	lua_Integer port = luaL_checkinteger(L, 1);
	const char *fp = luaL_optstring(L, 2, NULL);
	size_t len;
	const char *req = luaL_checklstring(L, 3, &len);
	lua_Number t = luaL_optnumber(L, 4, 2);
	char err[256], *out;
	long n;

	luaL_argcheck(L, port >= 1 && port <= 65535, 1, "port out of range");
	luaL_argcheck(L, t > 0 && t <= 3600, 4, "timeout out of range");
	if (!(out = malloc(RESPONSE_MAX)))
		return l_core__fail(L, "TLS", NULL, ENOMEM);
	n = tls_probe__request((int)port, fp, req, len, (unsigned)(t * 1000), out, RESPONSE_MAX, err, sizeof(err));
	if (n < 0) {
		free(out);
		return l_core__fail(L, "TLS", err, ECONNREFUSED);
	}
	lua_pushlstring(L, out, (size_t)n);
	free(out);
	return 1;
}

void l_tls__register(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "check", l_check }, { "fingerprint", l_fingerprint }, { "generate", l_generate },
		{ "request", l_request },
		{ NULL, NULL },
	};

	luaL_setfuncs(L, fns, 0);
}
