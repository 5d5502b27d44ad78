/* Image reference parsing and normalisation (distribution/reference rules). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "oci/err.h"
#include "oci/ref.h"

#define REF_MAX 1024
#define TAG_MAX 128
#define NAME_MAX_LEN 255

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* component := [a-z0-9]+ (("." | "_" | "__" | "-"+) [a-z0-9]+)* */
static bool component_valid(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (!is_lower_alnum(s[i]))
			return false;
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			return true;
		if (s[i] == '.' || s[i] == '_') {
			i += (s[i] == '_' && i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == n)
			return false;   /* separator at the end */
	}
	return n > 0;
}

static bool path_valid(const char *p)
{
	const char *s = p;

	for (;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);

		if (!component_valid(s, n))
			return false;
		if (!slash)
			return true;
		s = slash + 1;
	}
}

static bool tag_valid(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > TAG_MAX || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
			return false;
	return true;
}

static bool port_valid(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)p[i]))
			return false;
	return true;
}

/* host := dns-name [":" port] | "[" ipv6 "]" [":" port] */
static bool host_valid(const char *h)
{
	const char *end, *colon;

	if (h[0] == '[') {
		end = strchr(h, ']');
		if (!end || end == h + 1)
			return false;
		for (const char *p = h + 1; p < end; p++)
			if (!(isxdigit((unsigned char)*p) || *p == ':' || *p == '.'))
				return false;
		return end[1] == '\0' || (end[1] == ':' && port_valid(end + 2));
	}
	colon = strchr(h, ':');
	end = colon ? colon : h + strlen(h);
	if (end == h || h[0] == '-' || h[0] == '.')
		return false;
	for (const char *p = h; p < end; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.'))
			return false;
	return !colon || port_valid(colon + 1);
}

static bool looks_like_host(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) || memchr(s, '[', n) ||
	       (n == 9 && memcmp(s, "localhost", 9) == 0);
}

static int fail(const char *s, const char *why)
{
	return oci_err__set(-EINVAL, "invalid image reference '%s': %s", s, why);
}

/* Splits "host/" off name if its first component is a host. */
static int split_host(const char *s, char *name, struct oci_ref *out)
{
	char *slash = strchr(name, '/');

	if (slash && looks_like_host(name, (size_t)(slash - name))) {
		*slash = '\0';
		if (!host_valid(name) || strlen(name) >= sizeof(out->host))
			return fail(s, "bad registry host");
		memcpy(out->host, name, strlen(name) + 1);
		memmove(name, slash + 1, strlen(slash + 1) + 1);
	} else {
		snprintf(out->host, sizeof(out->host), "docker.io");
	}
	if (strcmp(out->host, "index.docker.io") == 0 ||
	    strcmp(out->host, "registry-1.docker.io") == 0)
		snprintf(out->host, sizeof(out->host), "docker.io");
	return 0;
}

int oci_ref__parse(const char *s, struct oci_ref *out)
{
	char buf[REF_MAX + 1], *at, *colon, *slash;
	int r;

	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return fail("", "empty");
	if (strlen(s) > REF_MAX)
		return oci_err__set(-EINVAL, "invalid image reference: longer than %d characters", REF_MAX);
	snprintf(buf, sizeof(buf), "%s", s);

	at = strrchr(buf, '@');
	if (at) {
		*at = '\0';
		if (!oci_digest__valid(at + 1))
			return fail(s, "digest must be sha256: followed by 64 lowercase hex digits");
		snprintf(out->digest, sizeof(out->digest), "%s", at + 1);
	}
	slash = strrchr(buf, '/');
	colon = strrchr(slash ? slash : buf, ':');
	if (colon) {
		*colon = '\0';
		if (!tag_valid(colon + 1))
			return fail(s, "tag must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'");
		snprintf(out->tag, sizeof(out->tag), "%s", colon + 1);
	}
	r = split_host(s, buf, out);
	if (r < 0)
		return r;
	if (!path_valid(buf))
		return fail(s, "repository name must be lowercase [a-z0-9] components separated by '/', '.', '_' or '-'");
	if (strcmp(out->host, "docker.io") == 0 && !strchr(buf, '/'))
		r = snprintf(out->repo, sizeof(out->repo), "library/%s", buf);
	else
		r = snprintf(out->repo, sizeof(out->repo), "%s", buf);
	if (r > NAME_MAX_LEN)
		return fail(s, "repository name longer than 255 characters");
	if (!out->tag[0] && !out->digest[0])
		snprintf(out->tag, sizeof(out->tag), "latest");
	return 0;
}

int oci_ref__format(const struct oci_ref *r, char *buf, size_t n)
{
	int len = snprintf(buf, n, "%s/%s%s%s%s%s", r->host, r->repo,
			   r->tag[0] ? ":" : "", r->tag,
			   r->digest[0] ? "@" : "", r->digest);

	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

const char *oci_ref__api_host(const struct oci_ref *r)
{
	return strcmp(r->host, "docker.io") == 0 ? "registry-1.docker.io" : r->host;
}

bool oci_ref__host_is_loopback(const char *host)
{
	static const char *const names[] = { "localhost", "127.0.0.1", "[::1]" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		if (strncmp(host, names[i], n) == 0 && (host[n] == '\0' || host[n] == ':'))
			return true;
	}
	return false;
}
