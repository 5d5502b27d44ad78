/* The egress policy: parsing and judging one destination (docs/network.md §Policies). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "egress-policy.h"

static const uint8_t v4mapped_prefix[12] = { [10] = 0xff, [11] = 0xff };
static const uint8_t nat64_prefix[12] = { 0x00, 0x64, 0xff, 0x9b };	/* RFC 6052 §2.1 */
static const uint8_t zero12[12];

/* What deny_private denies, as v4-mapped or IPv6 prefixes. */
#define V4(a, b, c, d, n) { { [10] = 0xff, [11] = 0xff, a, b, c, d }, 96 + (n) }
static const struct egress_cidr private_ranges[] = {
	V4(0, 0, 0, 0, 8),		/* "this network", RFC 791 */
	V4(10, 0, 0, 0, 8),		/* RFC 1918; holds slirp's 10.0.2.0/24 */
	V4(10, 0, 2, 0, 24),		/* slirp: 10.0.2.2 is the host's loopback */
	V4(100, 64, 0, 0, 10),		/* CGNAT, RFC 6598 */
	V4(127, 0, 0, 0, 8),		/* loopback */
	V4(169, 254, 0, 0, 16),		/* link-local, RFC 3927 */
	V4(169, 254, 169, 254, 32),	/* cloud metadata */
	V4(172, 16, 0, 0, 12),		/* RFC 1918 */
	V4(192, 168, 0, 0, 16),		/* RFC 1918 */
	V4(224, 0, 0, 0, 4),		/* multicast */
	V4(240, 0, 0, 0, 4),		/* reserved, and 255.255.255.255 */
	{ { 0 }, 128 },						/* :: */
	{ { [15] = 1 }, 128 },					/* ::1 */
	{ { 0xfc }, 7 },					/* unique local, RFC 4193 */
	{ { 0xfd, 0x00, 0x0e, 0xc2, [15] = 0x54, [14] = 0x02 }, 128 },	/* fd00:ec2::254 metadata */
	{ { 0xfe, 0x80 }, 10 },					/* link-local */
	{ { 0xfe, 0xc0 }, 10 },		/* site-local (RFC 3879); slirp's fec0::/64, fec0::2 = host loopback */
	{ { 0xff }, 8 },					/* multicast */
};
#define NPRIVATE (sizeof(private_ranges) / sizeof(private_ranges[0]))

void egress_addr__from_v4(uint8_t out[16], uint32_t v4)
{
	memcpy(out, v4mapped_prefix, 12);
	out[12] = (uint8_t)(v4 >> 24);
	out[13] = (uint8_t)(v4 >> 16);
	out[14] = (uint8_t)(v4 >> 8);
	out[15] = (uint8_t)v4;
}

/* The v4-mapped form of the IPv4 address a embeds, if it embeds one. */
static bool embedded_v4(const uint8_t a[16], uint8_t out[16])
{
	bool compat = !memcmp(a, zero12, 12) && (a[12] | a[13] | a[14] || a[15] > 1);

	if (memcmp(a, v4mapped_prefix, 12) && memcmp(a, nat64_prefix, 12) && !compat)
		return false;
	memcpy(out, v4mapped_prefix, 12);
	memcpy(out + 12, a + 12, 4);
	return true;
}

static bool cidr_has(const struct egress_cidr *c, const uint8_t a[16])
{
	unsigned whole = c->bits / 8, rest = c->bits % 8;

	if (memcmp(c->addr, a, whole))
		return false;
	return !rest || !((c->addr[whole] ^ a[whole]) & (uint8_t)(0xff << (8 - rest)));
}

static bool any_has(const struct egress_cidr *c, unsigned n, const uint8_t a[16])
{
	for (unsigned i = 0; i < n; i++)
		if (cidr_has(&c[i], a))
			return true;
	return false;
}

/* The address itself, or the IPv4 address it embeds, is in one of c[n]. */
static bool listed(const struct egress_cidr *c, unsigned n, const uint8_t a[16])
{
	uint8_t v4[16];

	return any_has(c, n, a) || (embedded_v4(a, v4) && any_has(c, n, v4));
}

bool egress_addr__is_private(const uint8_t a[16])
{
	return listed(private_ranges, NPRIVATE, a);
}

bool egress_policy__allows(const struct egress_policy *p, const uint8_t a[16])
{
	if (p->kind == EGRESS_ALLOWLIST)
		return listed(p->cidr, p->n, a);
	/* a denylist only adds to what deny_private denies */
	if (p->kind == EGRESS_DENYLIST && listed(p->cidr, p->n, a))
		return false;
	return !egress_addr__is_private(a);
}

void egress_addr__format(const uint8_t a[16], char *buf, size_t len)
{
	if (!len)
		return;
	if (!memcmp(a, v4mapped_prefix, 12))
		snprintf(buf, len, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
	else if (!inet_ntop(AF_INET6, a, buf, (socklen_t)len))
		buf[0] = '\0';
}

/* ---- parsing ---- */

#define ENTRY_MAX 64	/* longer than any address text inet_pton takes, with its prefix */

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "egress policy: ");

	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Decimal 0..max, no sign, no leading zero: else -1. */
static int prefix_len(const char *s, unsigned max)
{
	unsigned v = 0;

	if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 3)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	return v <= max ? (int)v : -2;
}

static void clear_host_bits(struct egress_cidr *c)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = c->bits > i * 8 ? c->bits - i * 8 : 0;

		if (keep < 8)
			c->addr[i] &= (uint8_t)(0xff << (8 - keep));
	}
}

/* One entry, "kind:entry" named in the message. */
static int parse_cidr(const char *kind, const char *entry, struct egress_cidr *c, char *err, size_t errlen)
{
	char text[ENTRY_MAX];
	char *slash;
	bool v4;
	int bits;

	if (strlen(entry) >= sizeof(text))
		return fail(err, errlen, "%s:%.40s...: entry too long for an address", kind, entry);
	strcpy(text, entry);
	slash = strchr(text, '/');
	if (slash)
		*slash = '\0';
	v4 = inet_pton(AF_INET, text, c->addr + 12) == 1;
	if (v4)
		memcpy(c->addr, v4mapped_prefix, 12);
	else if (inet_pton(AF_INET6, text, c->addr) != 1)
		return fail(err, errlen, "%s:%s: '%s' is not an IPv4 or IPv6 address", kind, entry, text);
	bits = slash ? prefix_len(slash + 1, v4 ? 32 : 128) : (v4 ? 32 : 128);
	if (bits == -2)
		return fail(err, errlen, "%s:%s: prefix length %s is more than %d — use 0..%d for %s", kind, entry,
			    slash + 1, v4 ? 32 : 128, v4 ? 32 : 128, v4 ? "IPv4" : "IPv6");
	if (bits < 0)
		return fail(err, errlen, "%s:%s: prefix length '%s' is not a number 0..%d", kind, entry,
			    slash + 1, v4 ? 32 : 128);
	c->bits = (uint8_t)(v4 ? 96 + bits : bits);
	clear_host_bits(c);
	return 0;
}

/* list: what follows "kind:", comma-separated, into out->cidr. */
static int parse_list(const char *spec, const char *kind, const char *list, struct egress_policy *out,
		      char *err, size_t errlen)
{
	char entry[ENTRY_MAX + 1];

	if (!*list)
		return fail(err, errlen, "%s: empty list — write %s:CIDR[,CIDR...], e.g. %s:10.0.0.0/8",
			    spec, kind, kind);
	for (const char *p = list;; p++) {
		size_t n = strcspn(p, ",");

		if (!n)
			return fail(err, errlen, "%s: entry %u is empty (two commas, or one at an end)",
				    spec, out->n + 1);
		if (out->n == EGRESS_CIDR_MAX)
			return fail(err, errlen, "%s:...: more than %d entries", kind, EGRESS_CIDR_MAX);
		n = n < ENTRY_MAX ? n : ENTRY_MAX;
		memcpy(entry, p, n);
		entry[n] = '\0';
		if (parse_cidr(kind, entry, &out->cidr[out->n++], err, errlen) < 0)
			return -1;
		p += strcspn(p, ",");
		if (!*p)
			return 0;
	}
}

int egress_policy__parse(const char *spec, struct egress_policy *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!spec || !strcmp(spec, "deny_private"))
		return 0;
	if (strpbrk(spec, " \t\n\r\v\f"))
		return fail(err, errlen, "'%s': spaces are not allowed — e.g. allowlist:1.2.3.4,10.0.0.0/8", spec);
	if (!strncmp(spec, "allowlist:", 10)) {
		out->kind = EGRESS_ALLOWLIST;
		return parse_list(spec, "allowlist", spec + 10, out, err, errlen);
	}
	if (!strncmp(spec, "denylist:", 9)) {
		out->kind = EGRESS_DENYLIST;
		return parse_list(spec, "denylist", spec + 9, out, err, errlen);
	}
	return fail(err, errlen, "'%s': unknown policy — use deny_private, allowlist:CIDR[,CIDR...] "
		    "or denylist:CIDR[,CIDR...]", spec);
}
