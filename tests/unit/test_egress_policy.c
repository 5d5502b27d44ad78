/* The egress policy (docs/network.md §Policies): every range deny_private names, at both
 * ends and just outside, in each form an address can take; allowlist, denylist, parse errors. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "net/egress-policy.h"
#include "tap.h"

/* "a.b.c.d" → v4-mapped, else IPv6 text */
static void addr(const char *s, uint8_t out[16])
{
	uint32_t v4;

	if (inet_pton(AF_INET, s, &v4) == 1)
		egress_addr__from_v4(out, ntohl(v4));
	else if (inet_pton(AF_INET6, s, out) != 1)
		fprintf(stderr, "bad test address %s\n", s);
}

static bool allows(const struct egress_policy *p, const char *s)
{
	uint8_t a[16];

	addr(s, a);
	return egress_policy__allows(p, a);
}

/* IPv4 edges: first, last, just below, just above each range */
static const struct { const char *a; bool private; } v4_table[] = {
	{ "0.0.0.0", 1 }, { "0.255.255.255", 1 }, { "1.0.0.0", 0 },
	{ "9.255.255.255", 0 }, { "10.0.0.0", 1 }, { "10.255.255.255", 1 }, { "11.0.0.0", 0 },
	{ "10.0.2.0", 1 }, { "10.0.2.2", 1 }, { "10.0.2.3", 1 }, { "10.0.2.255", 1 },
	{ "100.63.255.255", 0 }, { "100.64.0.0", 1 }, { "100.127.255.255", 1 }, { "100.128.0.0", 0 },
	{ "126.255.255.255", 0 }, { "127.0.0.0", 1 }, { "127.0.0.1", 1 }, { "127.255.255.255", 1 },
	{ "128.0.0.0", 0 },
	{ "169.253.255.255", 0 }, { "169.254.0.0", 1 }, { "169.254.169.254", 1 },
	{ "169.254.255.255", 1 }, { "169.255.0.0", 0 },
	{ "172.15.255.255", 0 }, { "172.16.0.0", 1 }, { "172.31.255.255", 1 }, { "172.32.0.0", 0 },
	{ "192.167.255.255", 0 }, { "192.168.0.0", 1 }, { "192.168.255.255", 1 }, { "192.169.0.0", 0 },
	{ "223.255.255.255", 0 }, { "224.0.0.0", 1 }, { "239.255.255.255", 1 },
	{ "240.0.0.0", 1 }, { "255.255.255.254", 1 }, { "255.255.255.255", 1 },
	{ "8.8.8.8", 0 }, { "1.1.1.1", 0 }, { "93.184.216.34", 0 },
};

static const struct { const char *a; bool private; } v6_table[] = {
	{ "::", 1 }, { "::1", 1 }, { "::2", 1 },	/* IPv4-compatible ::0.0.0.2, in 0/8 */
	{ "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0 }, { "fc00::", 1 },
	{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1 }, { "fd00:ec2::254", 1 },
	{ "fe00::", 0 }, { "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0 }, { "fe80::", 1 },
	{ "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1 }, { "fec0::", 1 }, { "fec0::2", 1 },
	{ "fec0::3", 1 }, { "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1 }, { "ff00::", 1 },
	{ "ff02::1", 1 }, { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1 },
	{ "2001:4860:4860::8888", 0 }, { "2606:4700::1111", 0 }, { "64:ff9b::808:808", 0 },
	{ "64:ff9b::a00:1", 1 }, { "64:ff9b::7f00:1", 1 }, { "64:ff9b::a9fe:a9fe", 1 },
	{ "64:ff9a:ffff:ffff:ffff:ffff:a00:1", 0 },	/* just below NAT64's /96: not an embedding */
	{ "64:ff9b:0:0:0:1:a00:1", 0 },			/* just above */
	{ "::ffff:0:0", 1 }, { "::ffff:808:808", 0 }, { "::fffe:a00:1", 0 },
};

static void test_deny_private(void)
{
	struct egress_policy p;
	char err[EGRESS_ERR_MAX], s[64];
	unsigned bad = 0, n = 0;

	ok(egress_policy__parse(NULL, &p, err, sizeof(err)) == 0 && p.kind == EGRESS_DENY_PRIVATE, "NULL: deny_private");
	ok(egress_policy__parse("deny_private", &p, err, sizeof(err)) == 0 && p.kind == EGRESS_DENY_PRIVATE,
	   "deny_private parses");
	for (size_t i = 0; i < sizeof(v4_table) / sizeof(v4_table[0]); i++) {
		const char *a = v4_table[i].a;
		bool want = !v4_table[i].private;

		/* as IPv4 (v4-mapped inside), as ::ffff:, ::a.b.c.d and 64:ff9b:: text */
		ok(allows(&p, a) == want, "%s %s", a, want ? "allowed" : "denied");
		snprintf(s, sizeof(s), "::ffff:%s", a);
		ok(allows(&p, s) == want, "%s %s", s, want ? "allowed" : "denied");
		snprintf(s, sizeof(s), "64:ff9b::%s", a);
		ok(allows(&p, s) == want, "%s %s", s, want ? "allowed" : "denied");
		snprintf(s, sizeof(s), "::%s", a);
		/* ::0.0.0.0 and ::0.0.0.1 are :: and ::1: denied as IPv6 anyway */
		bad += allows(&p, s) != want;
		n++;
	}
	is(bad, 0, "every IPv4 edge as IPv4-compatible ::a.b.c.d judged as its IPv4 form");
	ok(n > 40, "%u IPv4 edge addresses", n);
	for (size_t i = 0; i < sizeof(v6_table) / sizeof(v6_table[0]); i++) {
		bool want = !v6_table[i].private;

		ok(allows(&p, v6_table[i].a) == want, "%s %s", v6_table[i].a, want ? "allowed" : "denied");
	}
}

static void test_allowlist(void)
{
	struct egress_policy p;
	char err[EGRESS_ERR_MAX];

	ok(egress_policy__parse("allowlist:127.0.0.1/32", &p, err, sizeof(err)) == 0, "allowlist:127.0.0.1/32");
	ok(allows(&p, "127.0.0.1"), "allows 127.0.0.1");
	ok(!allows(&p, "127.0.0.2"), "denies 127.0.0.2");
	ok(!allows(&p, "8.8.8.8"), "denies 8.8.8.8");
	ok(allows(&p, "::ffff:127.0.0.1"), "allows ::ffff:127.0.0.1 (the same address)");
	ok(!allows(&p, "::1"), "denies ::1");
	ok(egress_policy__parse("allowlist:10.1.2.3/8,2001:db8::/32,1.2.3.4", &p, err, sizeof(err)) == 0 &&
	   p.n == 3, "three entries");
	ok(p.cidr[0].bits == 104 && p.cidr[0].addr[12] == 10 && !p.cidr[0].addr[13] && !p.cidr[0].addr[15],
	   "10.1.2.3/8: host bits cleared, /104 over 128 bits");
	ok(allows(&p, "10.200.0.1") && !allows(&p, "11.0.0.0"), "10/8 listed, 11.0.0.0 not");
	ok(allows(&p, "2001:db8:ffff::1") && !allows(&p, "2001:db9::"), "2001:db8::/32");
	ok(allows(&p, "1.2.3.4") && !allows(&p, "1.2.3.5"), "bare 1.2.3.4 is /32");
	ok(allows(&p, "64:ff9b::102:304"), "NAT64 of a listed IPv4 address is listed");
	ok(egress_policy__parse("allowlist:0.0.0.0/0", &p, err, sizeof(err)) == 0 && allows(&p, "10.0.0.1") &&
	   allows(&p, "127.0.0.1") && !allows(&p, "2001:db8::1"), "0.0.0.0/0: every IPv4 address, no IPv6");
	ok(egress_policy__parse("allowlist:::/0", &p, err, sizeof(err)) == 0 && allows(&p, "::1") &&
	   allows(&p, "10.0.0.1"), "::/0: everything");
}

static void test_denylist(void)
{
	struct egress_policy p;
	char err[EGRESS_ERR_MAX];

	ok(egress_policy__parse("denylist:8.8.8.0/24,2001:db8::1", &p, err, sizeof(err)) == 0, "denylist parses");
	ok(!allows(&p, "8.8.8.8") && allows(&p, "8.8.9.1"), "8.8.8.0/24 denied, 8.8.9.1 allowed");
	ok(!allows(&p, "64:ff9b::808:808") && !allows(&p, "::ffff:8.8.8.8"), "its NAT64 and v4-mapped forms too");
	ok(!allows(&p, "2001:db8::1") && allows(&p, "2001:db8::2"), "bare IPv6 is /128");
	ok(!allows(&p, "10.0.2.2") && !allows(&p, "169.254.169.254") && !allows(&p, "fe80::1"),
	   "deny_private's ranges stay denied");
}

static void parse_err(const char *spec, const char *want)
{
	struct egress_policy p;
	char err[EGRESS_ERR_MAX] = "";
	int r = egress_policy__parse(spec, &p, err, sizeof(err));

	ok(r == -1 && strstr(err, want) && !strchr(err, '\n') && !strncmp(err, "egress policy: ", 15),
	   "'%.40s' refused: %s", spec, err);
}

static void test_parse_errors(void)
{
	char many[2048] = "allowlist:";
	struct egress_policy p;
	char err[EGRESS_ERR_MAX];

	parse_err("allowlist:", "empty list");
	parse_err("denylist:", "empty list");
	parse_err("allowlist:10.0.0.0/33",
		  "egress policy: allowlist:10.0.0.0/33: prefix length 33 is more than 32 — use 0..32 for IPv4");
	parse_err("allowlist:10.0.0.0/-1", "not a number");
	parse_err("allowlist:10.0.0.0/08x", "not a number");
	parse_err("allowlist:10.0.0.0/08", "not a number");
	parse_err("allowlist:10.0.0.0/", "not a number");
	parse_err("allowlist:10.0.0.0/1234", "not a number");
	parse_err("allowlist:fd00::/129", "more than 128 — use 0..128 for IPv6");
	parse_err("allow:1.2.3.4", "unknown policy");
	parse_err("deny_private:1.2.3.4", "unknown policy");
	parse_err("", "unknown policy");
	parse_err("allowlist:1.2.3.4,,5.6.7.8", "entry 2 is empty");
	parse_err("allowlist:,1.2.3.4", "entry 1 is empty");
	parse_err("allowlist:1.2.3.4,", "entry 2 is empty");
	parse_err("allowlist:1.2.3.4, 5.6.7.8", "spaces");
	parse_err(" deny_private", "spaces");
	parse_err("allowlist:1.2.3", "not an IPv4 or IPv6 address");
	parse_err("allowlist:01.2.3.4", "not an IPv4 or IPv6 address");
	parse_err("allowlist:example.com", "not an IPv4 or IPv6 address");
	parse_err("allowlist:1.2.3.4/8/8", "not a number");
	parse_err("allowlist:1111111111111111111111111111111111111111111111111111111111111111111111", "too long");
	for (int i = 0; i < EGRESS_CIDR_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s10.0.%d.0/24", i ? "," : "", i);
	ok(egress_policy__parse(many, &p, err, sizeof(err)) == 0 && p.n == EGRESS_CIDR_MAX, "64 entries parse");
	strcat(many, ",1.1.1.1");
	parse_err(many, "more than 64 entries");
	ok(egress_policy__parse("allowlist:10.0.0.0/33", &p, err, 8) == -1 && strlen(err) == 7,
	   "a short error buffer is truncated, terminated");
}

static void test_format(void)
{
	uint8_t a[16];
	char s[64];

	egress_addr__from_v4(a, 0x0a000201);
	egress_addr__format(a, s, sizeof(s));
	is_str(s, "10.0.2.1", "v4-mapped printed as IPv4");
	addr("fd00::1", a);
	egress_addr__format(a, s, sizeof(s));
	is_str(s, "fd00::1", "IPv6 printed by inet_ntop");
	addr("64:ff9b::a00:1", a);
	egress_addr__format(a, s, sizeof(s));
	is_str(s, "64:ff9b::a00:1", "NAT64 printed as IPv6");
}

int main(void)
{
	test_deny_private();
	test_allowlist();
	test_denylist();
	test_parse_errors();
	test_format();
	return done_testing();
}
