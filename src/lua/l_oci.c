/*
 * sm.core.oci: OCI primitives (registry client, layer cache, layer images).
 * Thin and exact: values in, tables out, nil, "what: message", errno on
 * failure (src/oci's message names its subject: the reference, layer, blob
 * or file).
 *
 *   oci.parse_ref(s)         -> "host/repo:tag", { host=, repo=, tag=, digest= }
 *   oci.pull(src, { insecure = bool, progress = fn(digest, done, total) }) -> image
 *   oci.convert_layer(tar_path, out_path [, "erofs"|"squashfs"]) -> { entries=, bytes= }
 *   oci.cache_dir()          -> path (created)
 */
#include <errno.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/core.h"
#include "oci/cache.h"
#include "oci/err.h"
#include "oci/image.h"
#include "oci/layer.h"
#include "oci/ref.h"

/* src/oci's message, or what: strerror when it left none */
static int fail(lua_State *L, const char *what, int r)
{
	const char *msg = oci_err__msg();

	if (!msg || !*msg)
		return l_core__fail(L, what, NULL, -r);
	lua_pushnil(L);
	lua_pushstring(L, msg);
	lua_pushinteger(L, -r);
	return 3;
}

static void set_str(lua_State *L, const char *k, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

static void set_strv(lua_State *L, const char *k, char **v)
{
	lua_newtable(L);
	for (int i = 0; v && v[i]; i++) {
		lua_pushstring(L, v[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, k);
}

static int l_parse_ref(lua_State *L)
{
	const char *s = luaL_checkstring(L, 1);
	struct oci_ref ref;
	char buf[1200];
	int r;

	oci_err__clear();
	r = oci_ref__parse(s, &ref);
	if (r < 0)
		return fail(L, "image reference", r);
	oci_ref__format(&ref, buf, sizeof(buf));
	lua_pushstring(L, buf);
	lua_createtable(L, 0, 4);
	set_str(L, "host", ref.host);
	set_str(L, "repo", ref.repo);
	set_str(L, "tag", ref.tag);
	set_str(L, "digest", ref.digest);
	return 2;
}

static void push_config(lua_State *L, const struct oci_runcfg *c)
{
	lua_createtable(L, 0, 9);
	set_strv(L, "entrypoint", c->entrypoint);
	set_strv(L, "cmd", c->cmd);
	set_strv(L, "env", c->env);
	set_strv(L, "ports", c->ports);
	set_strv(L, "diff_ids", c->diff_ids);
	set_str(L, "workdir", c->workdir);
	set_str(L, "user", c->user);
	set_str(L, "os", c->os);
	set_str(L, "arch", c->arch);
}

static void push_image(lua_State *L, const struct oci_image *img)
{
	lua_createtable(L, 0, 6);
	set_str(L, "ref", img->ref);
	set_str(L, "digest", img->digest);
	set_str(L, "config_digest", img->config_digest);
	lua_pushinteger(L, img->size);
	lua_setfield(L, -2, "size");
	push_config(L, &img->cfg);
	lua_setfield(L, -2, "config");
	lua_createtable(L, (int)img->n, 0);
	for (size_t i = 0; i < img->n; i++) {
		lua_createtable(L, 0, 5);
		set_str(L, "digest", img->layers[i].digest);
		set_str(L, "media_type", img->layers[i].media_type);
		set_str(L, "image", img->layers[i].image);
		set_str(L, "format", img->layers[i].format);
		lua_pushinteger(L, img->layers[i].size);
		lua_setfield(L, -2, "size");
		lua_rawseti(L, -2, (int)i + 1);
	}
	lua_setfield(L, -2, "layers");
}

/* Runs on the calling thread (registry.c guarantees it); errors in the
 * callback are the callback's business and do not stop the pull. */
static void progress(void *ud, const char *digest, int64_t done, int64_t total)
{
	lua_State *L = ud;

	lua_pushvalue(L, 3);
	lua_pushstring(L, digest);
	lua_pushinteger(L, done);
	lua_pushinteger(L, total);
	if (lua_pcall(L, 3, 0, 0) != LUA_OK)
		lua_pop(L, 1);
}

static int l_pull(lua_State *L)
{
	const char *src = luaL_checkstring(L, 1);
	struct oci_pull_opts o = { 0 };
	struct oci_image img;
	int r;

	lua_settop(L, 2);
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "insecure");
		o.insecure = lua_toboolean(L, -1);
		lua_pop(L, 1);
		lua_getfield(L, 2, "progress");
	} else {
		lua_pushnil(L);
	}
	if (lua_isfunction(L, 3)) {
		o.progress = progress;
		o.ud = L;
	}
	oci_err__clear();
	r = oci_image__pull(src, &o, &img);
	if (r < 0)
		return fail(L, src, r);
	push_image(L, &img);
	oci_image__free(&img);
	return 1;
}

static int l_convert_layer(lua_State *L)
{
	const char *tar = luaL_checkstring(L, 1), *out = luaL_checkstring(L, 2);
	struct oci_layer_stats st = { 0 };
	enum oci_layer_fmt fmt;
	int r;

	oci_err__clear();
	r = lua_isnoneornil(L, 3) ? oci_layer__default_fmt(&fmt) : oci_layer__parse_fmt(luaL_checkstring(L, 3), &fmt);
	if (r == 0)
		r = oci_layer__convert_file(tar, out, fmt, &st);
	if (r < 0)
		return fail(L, tar, r);
	lua_createtable(L, 0, 2);
	lua_pushinteger(L, (lua_Integer)st.entries);
	lua_setfield(L, -2, "entries");
	lua_pushinteger(L, (lua_Integer)st.bytes);
	lua_setfield(L, -2, "bytes");
	return 1;
}

static int l_cache_dir(lua_State *L)
{
	int r;

	oci_err__clear();
	r = oci_cache__init();
	if (r < 0)
		return fail(L, "image cache", r);
	lua_pushstring(L, oci_cache__root());
	return 1;
}

static const luaL_Reg fns[] = {
	{ "parse_ref", l_parse_ref },
	{ "pull", l_pull },
	{ "convert_layer", l_convert_layer },
	{ "cache_dir", l_cache_dir },
	{ NULL, NULL },
};

void l_oci__register(lua_State *L)
{
	luaL_setfuncs(L, fns, 0);
}
