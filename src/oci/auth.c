/* WWW-Authenticate parsing and docker config credentials. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "oci/auth.h"
#include "oci/cache.h"
#include "oci/err.h"
#include "oci/json.h"

#define DOCKER_CONFIG_MAX (1 << 20)

/* One auth-param: key=value or key="quoted \" value"; returns chars used. */
static size_t param(const char *s, char *key, size_t kn, char *val, size_t vn)
{
	const char *p = s;
	size_t k = 0, v = 0;

	while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '-'))
		if (k + 1 < kn)
			key[k++] = *p++;
		else
			p++;
	key[k] = '\0';
	if (*p++ != '=')
		return 0;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			if (v + 1 < vn)
				val[v++] = *p;
		}
		if (*p == '"')
			p++;
	} else {
		for (; *p && *p != ',' && !isspace((unsigned char)*p); p++)
			if (v + 1 < vn)
				val[v++] = *p;
	}
	val[v] = '\0';
	return (size_t)(p - s);
}

int oci_auth__parse_challenge(const char *h, struct oci_challenge *c)
{
	char key[32], val[1024];
	size_t n = strcspn(h, " \t");

	memset(c, 0, sizeof(*c));
	if (n == 0 || n >= sizeof(c->scheme))
		return oci_err__set(-EINVAL, "unreadable WWW-Authenticate header");
	memcpy(c->scheme, h, n);
	for (h += n; *h;) {
		size_t used;

		while (*h == ' ' || *h == '\t' || *h == ',')
			h++;
		if (!*h)
			break;
		used = param(h, key, sizeof(key), val, sizeof(val));
		if (used == 0)
			return oci_err__set(-EINVAL, "unreadable WWW-Authenticate header");
		h += used;
		if (strcasecmp(key, "realm") == 0)
			snprintf(c->realm, sizeof(c->realm), "%s", val);
		else if (strcasecmp(key, "service") == 0)
			snprintf(c->service, sizeof(c->service), "%s", val);
		else if (strcasecmp(key, "scope") == 0)
			snprintf(c->scope, sizeof(c->scope), "%s", val);
	}
	if (strcasecmp(c->scheme, "Bearer") == 0 && !c->realm[0])
		return oci_err__set(-EINVAL, "Bearer challenge without a realm");
	return 0;
}

static int config_path(char *out, size_t n)
{
	const char *dc = getenv("DOCKER_CONFIG"), *home = getenv("HOME");

	if (dc && *dc)
		return snprintf(out, n, "%s/config.json", dc) < (int)n ? 0 : -ENAMETOOLONG;
	if (home && *home)
		return snprintf(out, n, "%s/.docker/config.json", home) < (int)n ? 0 : -ENAMETOOLONG;
	return -ENOENT;
}

/* docker writes docker.io's entry under its v1 index URL. */
static json_t *find_auth(json_t *auths, const char *host)
{
	static const char *const hub[] = { "https://index.docker.io/v1/", "index.docker.io",
					   "registry-1.docker.io", "docker.io" };
	char url[300];
	json_t *e = json_object_get(auths, host);

	if (!e) {
		snprintf(url, sizeof(url), "https://%s", host);
		e = json_object_get(auths, url);
	}
	if (!e && strcmp(host, "docker.io") == 0)
		for (size_t i = 0; !e && i < sizeof(hub) / sizeof(hub[0]); i++)
			e = json_object_get(auths, hub[i]);
	return json_is_object(e) ? e : NULL;
}

static int decode(const char *b64, char *user, size_t un, char *pass, size_t pn)
{
	size_t len = strlen(b64);
	unsigned char *raw = malloc(len + 4);
	char *colon;
	int n;

	if (!raw)
		return -ENOMEM;
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
	if (n < 0) {
		free(raw);
		return oci_err__set(-EINVAL, "docker config: \"auth\" is not base64");
	}
	while (n > 0 && raw[n - 1] == '\0')   /* EVP_DecodeBlock keeps padding as NULs */
		n--;
	raw[n] = '\0';
	colon = strchr((char *)raw, ':');
	if (!colon || (size_t)(colon - (char *)raw) >= un || strlen(colon + 1) >= pn) {
		free(raw);
		return oci_err__set(-EINVAL, "docker config: \"auth\" is not base64(user:password)");
	}
	*colon = '\0';
	snprintf(user, un, "%s", (char *)raw);
	snprintf(pass, pn, "%s", colon + 1);
	free(raw);
	return 0;
}

int oci_auth__docker_creds(const char *host, char *user, size_t un, char *pass, size_t pn)
{
	char path[PATH_MAX], b64[4096], *buf = NULL;
	size_t len;
	json_t *j, *e;
	int r;

	if (config_path(path, sizeof(path)) < 0 || !oci_cache__exists(path))
		return -ENOENT;
	r = oci_cache__read(path, DOCKER_CONFIG_MAX, &buf, &len);
	if (r < 0)
		return r;
	j = oci_json__load(buf, len, path);
	free(buf);
	if (!j)
		return -EBADMSG;
	e = find_auth(json_object_get(j, "auths"), host);
	r = e ? oci_json__str(e, "auth", b64, sizeof(b64), 0, path) : -ENOENT;
	if (r == 0)
		r = b64[0] ? decode(b64, user, un, pass, pn) : -ENOENT;
	json_decref(j);
	return r;
}
