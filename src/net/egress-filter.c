/* Judging a guest's outgoing frame against the egress policy (docs/network.md §What the filter sees). */
#include <netinet/in.h>
#include <string.h>

#include "egress-filter.h"

#define ETH_HLEN		14
#define ETH_P_IP		0x0800
#define ETH_P_ARP		0x0806
#define ETH_P_IPV6		0x86dd
#define ARP_LEN			28	/* RFC 826 for Ethernet/IPv4 */
#define IP4_HLEN		20
#define IP4_OFFMASK		0x1fff
#define IP6_HLEN		40
#define IP6_EXT_MAX		8	/* extension headers walked before giving up */
#define TCP_HLEN		20
#define TCP_FIN			0x01
#define TCP_SYN			0x02
#define TCP_RST			0x04
#define TCP_ACK			0x10
#define UDP_HLEN		8
#define ICMP_HLEN		8
#define ND_ROUTER_SOLICIT	133	/* RFC 4861 §4 */
#define ND_NEIGHBOR_SOLICIT	135
#define ND_NEIGHBOR_ADVERT	136
#define ND_HOP_LIMIT		255
#define PORT_DNS		53
#define PORT_BOOTPS		67
#define PORT_DHCPV6_SERVER	547
#define RST_TTL			64

/* slirp's default addresses (libslirp's vnameserver, vhost, vnameserver6) */
static const uint8_t slirp_dns4[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 2, 3 };
static const uint8_t slirp_gw4[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 2, 2 };
static const uint8_t bcast4[16] = { [10] = 0xff, [11] = 0xff, 255, 255, 255, 255 };
static const uint8_t slirp_dns6[16] = { 0xfe, 0xc0, [15] = 3 };
static const uint8_t dhcp6_servers[16] = { 0xff, 0x02, [13] = 1, [14] = 0, [15] = 2 };	/* ff02::1:2 */

/* One IP packet as parsed: pointers into the frame. */
struct pkt {
	bool v6, first;			/* first: the L4 header is here (not a later fragment) */
	uint8_t proto, hop;
	const uint8_t *ip, *src, *l4;	/* src: 4 or 16 bytes */
	size_t l4len;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void verdict(struct egress_decision *d, enum egress_verdict v, const char *why)
{
	d->verdict = v;
	d->why = why;
}

/* Ethernet/IPv4 ARP only: slirp answers for its gateway and resolver. */
static void judge_arp(const uint8_t *f, size_t len, struct egress_decision *d)
{
	const uint8_t *a = f + ETH_HLEN;
	uint16_t op;

	if (len < ETH_HLEN + ARP_LEN)
		return verdict(d, EGRESS_DROP, "ARP truncated");
	op = get16(a + 6);
	if (get16(a) != 1 || get16(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4 || (op != 1 && op != 2))
		return verdict(d, EGRESS_DROP, "ARP not Ethernet/IPv4 request or reply");
	egress_addr__from_v4(d->dst, (uint32_t)get16(a + 24) << 16 | get16(a + 26));
	verdict(d, EGRESS_PASS, "ARP");
}

static const char *parse_v4(const uint8_t *f, size_t len, struct pkt *k, struct egress_decision *d)
{
	const uint8_t *ip = f + ETH_HLEN;
	size_t avail = len - ETH_HLEN, ihl, tot;

	if (avail < IP4_HLEN)
		return "IPv4 header truncated";
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = get16(ip + 2);
	if (ip[0] >> 4 != 4)
		return "malformed IPv4 header: version is not 4";
	if (ihl < IP4_HLEN)
		return "malformed IPv4 header: IHL below 5";
	if (tot > avail)
		return "malformed IPv4 header: total length past the frame";
	if (ihl > tot)
		return "malformed IPv4 header: IHL past the total length";
	k->ip = ip;
	k->src = ip + 12;
	k->proto = ip[9];
	k->first = !(get16(ip + 6) & IP4_OFFMASK);
	k->l4 = ip + ihl;
	k->l4len = tot - ihl;
	egress_addr__from_v4(d->dst, (uint32_t)get16(ip + 16) << 16 | get16(ip + 18));
	return NULL;
}

/* Hop-by-hop (first only), routing (no segments left), destination options,
 * fragment: walked to the upper-layer header, at most IP6_EXT_MAX of them. */
static const char *walk_v6_ext(const uint8_t *ip, size_t end, struct pkt *k)
{
	size_t off = IP6_HLEN;
	uint8_t nh = ip[6];

	for (int i = 0; i <= IP6_EXT_MAX; i++) {
		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS &&
		    nh != IPPROTO_FRAGMENT) {
			k->proto = nh;
			k->l4 = ip + off;
			k->l4len = end - off;
			return NULL;
		}
		if (i == IP6_EXT_MAX)
			break;
		if (nh == IPPROTO_HOPOPTS && i)
			return "malformed IPv6: hop-by-hop header not first";
		if (end - off < 8)
			return "malformed IPv6: extension header past the payload";
		if (nh == IPPROTO_FRAGMENT) {
			k->first = k->first && !(get16(ip + off + 2) >> 3);
			nh = ip[off];
			off += 8;
			continue;
		}
		if (nh == IPPROTO_ROUTING && ip[off + 3])
			return "IPv6 routing header with segments left (the destination is not final)";
		if (end - off < (size_t)(ip[off + 1] + 1) * 8)
			return "malformed IPv6: extension header past the payload";
		nh = ip[off];
		off += (size_t)(ip[off + 1] + 1) * 8;
	}
	return "more than 8 IPv6 extension headers";
}

static const char *parse_v6(const uint8_t *f, size_t len, struct pkt *k, struct egress_decision *d)
{
	const uint8_t *ip = f + ETH_HLEN;
	size_t avail = len - ETH_HLEN, plen;

	if (avail < IP6_HLEN)
		return "IPv6 header truncated";
	plen = get16(ip + 4);
	if (ip[0] >> 4 != 6)
		return "malformed IPv6 header: version is not 6";
	if (!plen)
		return "IPv6 jumbogram or empty payload";
	if (IP6_HLEN + plen > avail)
		return "malformed IPv6 header: payload length past the frame";
	k->v6 = true;
	k->first = true;
	k->ip = ip;
	k->src = ip + 8;
	k->hop = ip[7];
	memcpy(d->dst, ip + 24, 16);
	return walk_v6_ext(ip, IP6_HLEN + plen, k);
}

/* The upper-layer header of a first fragment: complete, else the port is unknown. */
static const char *parse_l4(const struct pkt *k, struct egress_decision *d)
{
	size_t need = k->proto == IPPROTO_TCP ? TCP_HLEN : k->proto == IPPROTO_UDP ? UDP_HLEN : ICMP_HLEN;

	if ((k->proto == IPPROTO_ICMP && k->v6) || (k->proto == IPPROTO_ICMPV6 && !k->v6) ||
	    (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP && k->proto != IPPROTO_ICMP &&
	     k->proto != IPPROTO_ICMPV6))
		return "IP protocol slirp does not forward";
	d->proto = k->proto;
	if (!k->first)
		return NULL;
	if (k->l4len < need)
		return k->proto == IPPROTO_TCP ? "TCP header truncated" : k->proto == IPPROTO_UDP ?
		       "UDP header truncated" : "ICMP header truncated";
	if (k->proto == IPPROTO_TCP && (k->l4[12] >> 4 < 5 || (size_t)(k->l4[12] >> 4) * 4 > k->l4len))
		return "TCP data offset out of range";
	if (k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP)
		d->dport = get16(k->l4 + 2);
	return NULL;
}

/* What slirp answers itself, whatever the policy (see egress-filter.h). */
static const char *slirp_service(const struct pkt *k, const struct egress_decision *d)
{
	uint8_t t;

	if (!k->first)
		return NULL;
	t = k->l4[0];
	if (!k->v6 && d->proto == IPPROTO_UDP && d->dport == PORT_BOOTPS &&
	    (!memcmp(d->dst, bcast4, 16) || !memcmp(d->dst, slirp_gw4, 16)))
		return "DHCP (answered by slirp)";
	if (k->v6 && d->proto == IPPROTO_UDP && d->dport == PORT_DHCPV6_SERVER && !memcmp(d->dst, dhcp6_servers, 16))
		return "DHCPv6 (answered by slirp)";
	if (k->v6 && d->proto == IPPROTO_ICMPV6 && k->hop == ND_HOP_LIMIT &&
	    (t == ND_ROUTER_SOLICIT || t == ND_NEIGHBOR_SOLICIT || t == ND_NEIGHBOR_ADVERT) &&
	    ((d->dst[0] == 0xfe && (d->dst[1] & 0xc0) == 0x80) || (d->dst[0] == 0xff && d->dst[1] == 0x02)))
		return "neighbour discovery (answered by slirp)";
	return NULL;
}

/* slirp's resolver address: port 53 only (a later fragment: its first decided). */
static bool resolver(const struct egress_decision *d)
{
	return !memcmp(d->dst, slirp_dns4, 16) || !memcmp(d->dst, slirp_dns6, 16);
}

static bool dns_allowed(const struct egress_policy *p, const struct pkt *k, const struct egress_decision *d)
{
	if (d->proto != IPPROTO_TCP && d->proto != IPPROTO_UDP)
		return false;
	if (k->first && d->dport != PORT_DNS)
		return false;
	return p->kind != EGRESS_ALLOWLIST || egress_policy__allows(p, d->dst);
}

/* ---- the RST for a denied SYN (RFC 9293 §3.10.7.1: a SYN to a closed port) ---- */

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* TCP header at t (20 bytes) answering k's segment, and its checksum over ip's addresses. */
static void rst_tcp(uint8_t *t, const struct pkt *k, const uint8_t *src, const uint8_t *dst, size_t alen)
{
	const uint8_t *o = k->l4;
	size_t data = k->l4len - (size_t)(o[12] >> 4) * 4;
	uint32_t seq = (uint32_t)get16(o + 4) << 16 | get16(o + 6);
	uint32_t ack = seq + 1 + (uint32_t)data + !!(o[13] & TCP_FIN);
	uint32_t s;

	memset(t, 0, TCP_HLEN);
	memcpy(t, o + 2, 2);		/* ports swapped */
	memcpy(t + 2, o, 2);
	put16(t + 8, (uint16_t)(ack >> 16));
	put16(t + 10, (uint16_t)ack);
	t[12] = 5 << 4;
	t[13] = TCP_RST | TCP_ACK;
	s = sum16(src, alen, 0);
	s = sum16(dst, alen, s);
	s += IPPROTO_TCP + TCP_HLEN;
	put16(t + 16, fold(sum16(t, TCP_HLEN, s)));
}

static size_t build_rst(const uint8_t *f, const struct pkt *k, uint8_t *out, size_t cap)
{
	size_t iplen = k->v6 ? IP6_HLEN : IP4_HLEN, alen = k->v6 ? 16 : 4;
	const uint8_t *odst = k->src + alen;	/* the destination follows the source in both */
	uint8_t *ip = out + ETH_HLEN;

	if (cap < ETH_HLEN + iplen + TCP_HLEN)
		return 0;
	memcpy(out, f + 6, 6);
	memcpy(out + 6, f, 6);
	memcpy(out + 12, f + 12, 2);
	memset(ip, 0, iplen);
	if (k->v6) {
		ip[0] = 0x60;
		put16(ip + 4, TCP_HLEN);
		ip[6] = IPPROTO_TCP;
		ip[7] = RST_TTL;
	} else {
		ip[0] = 0x45;
		put16(ip + 2, IP4_HLEN + TCP_HLEN);
		put16(ip + 6, 0x4000);	/* DF */
		ip[8] = RST_TTL;
		ip[9] = IPPROTO_TCP;
	}
	memcpy(ip + iplen - 2 * alen, odst, alen);
	memcpy(ip + iplen - alen, k->src, alen);
	if (!k->v6)
		put16(ip + 10, fold(sum16(ip, IP4_HLEN, 0)));
	rst_tcp(ip + iplen, k, ip + iplen - 2 * alen, ip + iplen - alen, alen);
	return ETH_HLEN + iplen + TCP_HLEN;
}

/* ---- the verdict ---- */

static void judge_ip(const struct egress_policy *p, const uint8_t *f, const struct pkt *k,
		     uint8_t *reply, size_t cap, struct egress_decision *d)
{
	const char *why = parse_l4(k, d);

	if (why)
		return verdict(d, EGRESS_DROP, why);
	why = slirp_service(k, d);
	if (why)
		return verdict(d, EGRESS_PASS, why);
	if (resolver(d)) {
		if (dns_allowed(p, k, d))
			return verdict(d, EGRESS_PASS, "DNS via slirp's resolver");
		verdict(d, EGRESS_DROP, "slirp's resolver address: only DNS (port 53) passes");
	} else if (egress_policy__allows(p, d->dst)) {
		return verdict(d, EGRESS_PASS, "allowed by policy");
	} else {
		verdict(d, EGRESS_DROP, "denied by policy");
	}
	if (d->proto == IPPROTO_TCP && k->first && (k->l4[13] & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN)
		d->reply_len = build_rst(f, k, reply, cap);
}

void egress_filter__judge(const struct egress_policy *p, const uint8_t *frame, size_t len,
			  uint8_t *reply, size_t reply_cap, struct egress_decision *d)
{
	struct pkt k = { 0 };
	const char *why;
	uint16_t type;

	memset(d, 0, sizeof(*d));
	d->verdict = EGRESS_DROP;
	if (len < ETH_HLEN)
		return verdict(d, EGRESS_DROP, "frame shorter than an Ethernet header");
	type = get16(frame + 12);
	if (type == ETH_P_ARP)
		return judge_arp(frame, len, d);
	if (type != ETH_P_IP && type != ETH_P_IPV6)
		return verdict(d, EGRESS_DROP, "ethertype not forwarded");
	why = type == ETH_P_IP ? parse_v4(frame, len, &k, d) : parse_v6(frame, len, &k, d);
	if (why)
		return verdict(d, EGRESS_DROP, why);
	judge_ip(p, frame, &k, reply, reply_cap, d);
}

/* ---- the log's rate limit ---- */

static int rl_find(const struct egress_ratelimit *r, const struct egress_decision *d)
{
	for (unsigned i = 0; i < EGRESS_LOG_SLOTS; i++)
		if (r->slot[i].used && r->slot[i].dport == d->dport && !memcmp(r->slot[i].dst, d->dst, 16))
			return (int)i;
	return -1;
}

/* A free slot, else the one logged longest ago: memory stays fixed. */
static unsigned rl_victim(const struct egress_ratelimit *r)
{
	unsigned v = 0;

	for (unsigned i = 0; i < EGRESS_LOG_SLOTS; i++) {
		if (!r->slot[i].used)
			return i;
		if (r->slot[i].last_ms < r->slot[v].last_ms)
			v = i;
	}
	return v;
}

bool egress_ratelimit__should_log(struct egress_ratelimit *r, const struct egress_decision *d, uint64_t now_ms)
{
	int i;

	if (now_ms - r->window_ms >= EGRESS_LOG_INTERVAL_MS || now_ms < r->window_ms) {
		r->window_ms = now_ms;
		r->in_window = 0;
	}
	i = rl_find(r, d);
	if ((i >= 0 && now_ms - r->slot[i].last_ms < EGRESS_LOG_INTERVAL_MS && now_ms >= r->slot[i].last_ms) ||
	    r->in_window >= EGRESS_LOG_BURST) {
		r->suppressed++;
		return false;
	}
	if (i < 0) {
		i = (int)rl_victim(r);
		memcpy(r->slot[i].dst, d->dst, 16);
		r->slot[i].dport = d->dport;
		r->slot[i].used = true;
	}
	r->slot[i].last_ms = now_ms;
	r->in_window++;
	return true;
}
