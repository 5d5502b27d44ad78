/*
 * libFuzzer: the egress policy and filter (src/net/egress-policy.c,
 * src/net/egress-filter.c, docs/network.md).  The first byte picks:
 *   - odd: the rest is a policy string for egress_policy__parse: it parses,
 *     or fails with one "egress policy: ..." line; a parsed list has 1..64
 *     entries, no host bits past each prefix, and printing it back parses
 *     to the same policy;
 *   - even: the rest is a guest Ethernet frame (an exactly sized copy, so
 *     ASan sees any read past it), judged under deny_private, an allowlist
 *     and a denylist: a reason always; a pass is ARP or TCP/UDP/ICMP/ICMPv6;
 *     "allowed"/"denied by policy" agree with egress_policy__allows; a reply
 *     is only for a dropped TCP segment, fits the buffer, and is an RST+ACK
 *     whose IPv4 and TCP checksums verify (tests/unit/inet-csum.h, not the filter's sum).
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "fuzz.h"
#include "inet-csum.h"
#include "net/egress-filter.h"

static void check_rst(const uint8_t *f, size_t len, const uint8_t *r, size_t rlen)
{
	bool v6 = rlen == 74;
	size_t iplen = v6 ? 40 : 20, alen = v6 ? 16 : 4;
	const uint8_t *ip = r + 14, *t = r + 14 + iplen;

	FUZZ_CHECK(rlen == 54 || rlen == 74);
	FUZZ_CHECK(len >= rlen && !memcmp(r, f + 6, 6) && !memcmp(r + 6, f, 6) && !memcmp(r + 12, f + 12, 2));
	FUZZ_CHECK(v6 ? (ip[0] == 0x60 && ip[6] == IPPROTO_TCP && ip[5] == 20)
		      : (ip[0] == 0x45 && ip[9] == IPPROTO_TCP && ip[3] == 40 && inet_csum(ip, 20, 0) == 0xffff));
	FUZZ_CHECK(inet_csum(t, 20, inet_csum(ip + iplen - 2 * alen, 2 * alen, 0) + IPPROTO_TCP + 20) == 0xffff);
	FUZZ_CHECK(t[13] == 0x14 && t[12] == 0x50 && !t[4] && !t[5] && !t[6] && !t[7]);
}

static void judge_one(const struct egress_policy *p, const uint8_t *f, size_t len)
{
	static uint8_t reply[EGRESS_REPLY_MIN + 16];
	struct egress_decision d;

	memset(reply + EGRESS_REPLY_MIN, 0xa5, 16);
	egress_filter__judge(p, f, len, reply, EGRESS_REPLY_MIN, &d);
	FUZZ_CHECK(d.why && (d.verdict == EGRESS_PASS || d.verdict == EGRESS_DROP));
	FUZZ_CHECK(reply[EGRESS_REPLY_MIN] == 0xa5 && reply[EGRESS_REPLY_MIN + 15] == 0xa5);
	if (d.verdict == EGRESS_PASS)
		FUZZ_CHECK(!strcmp(d.why, "ARP") || d.proto == IPPROTO_TCP || d.proto == IPPROTO_UDP ||
			   d.proto == IPPROTO_ICMP || d.proto == IPPROTO_ICMPV6);
	if (!strcmp(d.why, "allowed by policy"))
		FUZZ_CHECK(d.verdict == EGRESS_PASS && egress_policy__allows(p, d.dst));
	if (!strcmp(d.why, "denied by policy"))
		FUZZ_CHECK(d.verdict == EGRESS_DROP && !egress_policy__allows(p, d.dst));
	if (d.reply_len) {
		FUZZ_CHECK(d.verdict == EGRESS_DROP && d.proto == IPPROTO_TCP && d.reply_len <= EGRESS_REPLY_MIN);
		check_rst(f, len, reply, d.reply_len);
	}
}

/* A parsed list printed back ("allowlist:" + each entry) parses to the same entries. */
static void check_policy(const struct egress_policy *p)
{
	static char text[EGRESS_CIDR_MAX * 56 + 16];
	struct egress_policy again;
	char err[EGRESS_ERR_MAX], a[INET6_ADDRSTRLEN];
	size_t at = (size_t)snprintf(text, sizeof(text), "allowlist:");

	if (p->kind == EGRESS_DENY_PRIVATE) {
		FUZZ_CHECK(!p->n);
		return;
	}
	FUZZ_CHECK(p->n >= 1 && p->n <= EGRESS_CIDR_MAX);
	for (unsigned i = 0; i < p->n; i++) {
		const struct egress_cidr *c = &p->cidr[i];
		bool v4;

		FUZZ_CHECK(c->bits <= 128);
		for (unsigned b = c->bits; b < 128; b++)
			FUZZ_CHECK(!(c->addr[b / 8] & (0x80 >> (b % 8))));
		egress_addr__format(c->addr, a, sizeof(a));
		v4 = !strchr(a, ':');
		FUZZ_CHECK(!v4 || c->bits >= 96);
		at += (size_t)snprintf(text + at, sizeof(text) - at, "%s%s/%u", i ? "," : "", a,
				       v4 ? c->bits - 96u : c->bits);
	}
	FUZZ_CHECK(egress_policy__parse(text, &again, err, sizeof(err)) == 0);
	FUZZ_CHECK(again.n == p->n && !memcmp(again.cidr, p->cidr, p->n * sizeof(p->cidr[0])));
}

static void fuzz_parse(const uint8_t *data, size_t size)
{
	static struct egress_policy p;
	char *spec = malloc(size + 1), err[EGRESS_ERR_MAX];

	memcpy(spec, data, size);
	spec[size] = '\0';
	err[0] = '\0';
	if (egress_policy__parse(spec, &p, err, sizeof(err)) == 0)
		check_policy(&p);
	else
		FUZZ_CHECK(!strncmp(err, "egress policy: ", 15) && !strchr(err, '\n'));
	free(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct egress_policy pol[3];
	static bool ready;
	char err[EGRESS_ERR_MAX];
	uint8_t *frame;

	if (!ready) {
		FUZZ_CHECK(!egress_policy__parse("deny_private", &pol[0], err, sizeof(err)));
		FUZZ_CHECK(!egress_policy__parse("allowlist:8.8.8.0/24,10.0.2.3,2001:db8::/32", &pol[1], err, sizeof(err)));
		FUZZ_CHECK(!egress_policy__parse("denylist:1.1.1.1,2606:4700::/32", &pol[2], err, sizeof(err)));
		ready = true;
	}
	if (!size)
		return 0;
	if (data[0] & 1) {
		fuzz_parse(data + 1, size - 1);
		return 0;
	}
	frame = malloc(size - 1 ? size - 1 : 1);
	memcpy(frame, data + 1, size - 1);
	for (int i = 0; i < 3; i++)
		judge_one(&pol[i], frame, size - 1);
	free(frame);
	return 0;
}
