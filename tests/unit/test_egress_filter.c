/* The egress filter (docs/network.md §What the filter sees) on hand-built frames: ARP,
 * IPv4/IPv6 TCP, UDP, ICMP, fragments, extension headers, hostile shapes, the RST reply
 * (checked by this file's own checksum reading) and the log's rate limit. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "net/egress-filter.h"
#include "tap.h"

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t slirp_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static uint8_t f[2048], reply[256];
static struct egress_decision d;
static struct egress_policy deny_private, allow_google, allow_dns;

static void wr16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static unsigned rd16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) << 16 | rd16(p + 2); }

/* RFC 1071, written again here so the filter's checksums are checked by other code */
static unsigned csum(const uint8_t *p, size_t n, unsigned long s)
{
	for (size_t i = 0; i < n; i++)
		s += i & 1 ? p[i] : (unsigned)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (unsigned)s;
}

static size_t eth(unsigned type)
{
	memcpy(f, slirp_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	wr16(f + 12, type);
	return 14;
}

/* IPv4 header at f+14 to dst, l4 bytes after it; returns the L4 offset */
static size_t ip4(const char *dst, unsigned proto, size_t l4)
{
	uint8_t *ip = f + eth(0x0800);

	memset(ip, 0, 20);
	ip[0] = 0x45;
	wr16(ip + 2, (unsigned)(20 + l4));
	ip[8] = 64;
	ip[9] = (uint8_t)proto;
	inet_pton(AF_INET, "10.0.2.15", ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	wr16(ip + 10, ~csum(ip, 20, 0) & 0xffff);
	return 34;
}

static size_t ip6(const char *dst, unsigned nh, size_t plen, unsigned hop)
{
	uint8_t *ip = f + eth(0x86dd);

	memset(ip, 0, 40);
	ip[0] = 0x60;
	wr16(ip + 4, (unsigned)plen);
	ip[6] = (uint8_t)nh;
	ip[7] = (uint8_t)hop;
	inet_pton(AF_INET6, "fec0::15", ip + 8);
	inet_pton(AF_INET6, dst, ip + 24);
	return 54;
}

static void tcp(size_t off, unsigned dport, uint32_t seq, unsigned flags)
{
	uint8_t *t = f + off;

	memset(t, 0, 20);
	wr16(t, 40000);
	wr16(t + 2, dport);
	wr16(t + 4, seq >> 16);
	wr16(t + 6, seq & 0xffff);
	t[12] = 5 << 4;
	t[13] = (uint8_t)flags;
	wr16(t + 14, 64240);
}

static void udp(size_t off, unsigned dport, size_t len)
{
	memset(f + off, 0, 8);
	wr16(f + off, 40000);
	wr16(f + off + 2, dport);
	wr16(f + off + 4, (unsigned)len);
}

static void judge(const struct egress_policy *p, size_t len)
{
	egress_filter__judge(p, f, len, reply, sizeof(reply), &d);
}

static void test_arp(void)
{
	uint8_t *a = f + eth(0x0806);

	memset(a, 0, 28);
	wr16(a, 1);
	wr16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, 1);
	inet_pton(AF_INET, "10.0.2.2", a + 24);
	judge(&allow_google, 42);
	ok(d.verdict == EGRESS_PASS && d.dst[15] == 2 && !d.reply_len, "ARP request passes even under an allowlist (%s)", d.why);
	judge(&deny_private, 41);
	ok(d.verdict == EGRESS_DROP, "ARP one byte short drops (%s)", d.why);
	a[4] = 8;
	judge(&deny_private, 42);
	ok(d.verdict == EGRESS_DROP, "ARP with 8-byte hardware addresses drops (%s)", d.why);
	a[4] = 6;
	wr16(a + 6, 3);
	judge(&deny_private, 42);
	ok(d.verdict == EGRESS_DROP, "RARP opcode drops");
}

/* The RST in reply: Ethernet, IP and TCP fields, both checksums by this file's reading. */
static void check_rst(bool v6, uint32_t seq, uint32_t want_ack, const char *name)
{
	size_t iplen = v6 ? 40 : 20, alen = v6 ? 16 : 4;
	const uint8_t *ip = reply + 14, *t = reply + 14 + iplen, *oip = f + 14;
	unsigned long ph;

	ok(d.verdict == EGRESS_DROP && d.reply_len == 14 + iplen + 20, "%s: dropped, RST of %zu bytes", name, d.reply_len);
	ok(!memcmp(reply, guest_mac, 6) && !memcmp(reply + 6, slirp_mac, 6) && !memcmp(reply + 12, f + 12, 2),
	   "%s: MACs swapped, same ethertype", name);
	if (v6) {
		ok(ip[0] >> 4 == 6 && rd16(ip + 4) == 20 && ip[6] == IPPROTO_TCP, "%s: IPv6 header", name);
		ok(!memcmp(ip + 8, oip + 24, 16) && !memcmp(ip + 24, oip + 8, 16), "%s: addresses swapped", name);
	} else {
		ok(ip[0] == 0x45 && rd16(ip + 2) == 40 && ip[9] == IPPROTO_TCP && ip[8], "%s: IPv4 header", name);
		is(csum(ip, 20, 0), 0xffff, "IPv4 header checksum verifies");
		ok(!memcmp(ip + 12, oip + 16, 4) && !memcmp(ip + 16, oip + 12, 4), "%s: addresses swapped", name);
	}
	ph = csum(ip + iplen - 2 * alen, 2 * alen, 0) + IPPROTO_TCP + 20;
	is(csum(t, 20, ph), 0xffff, "TCP checksum verifies over the pseudo-header");
	ok(rd16(t) == rd16(f + 14 + (v6 ? 40 : 20) + 2) && rd16(t + 2) == 40000, "%s: ports swapped", name);
	ok(rd32(t + 4) == 0 && rd32(t + 8) == want_ack && t[13] == 0x14 && t[12] >> 4 == 5,
	   "%s: RST+ACK, seq 0, ack %u (the SYN's %u + 1 + data)", name, rd32(t + 8), seq);
}

static void test_tcp4(void)
{
	size_t o = ip4("10.0.2.2", IPPROTO_TCP, 20);

	tcp(o, 22, 0x12345678, 0x02);
	judge(&deny_private, o + 20);
	ok(d.proto == IPPROTO_TCP && d.dport == 22 && !strcmp(d.why, "denied by policy"), "SYN to 10.0.2.2:22: %s", d.why);
	check_rst(false, 0x12345678, 0x12345679, "SYN to 10.0.2.2");
	o = ip4("169.254.169.254", IPPROTO_TCP, 25);
	tcp(o, 80, 0xfffffffe, 0x02);
	judge(&deny_private, o + 25);
	check_rst(false, 0xfffffffe, 0xfffffffe + 6, "SYN with 5 bytes of data to the metadata address");
	o = ip4("8.8.8.8", IPPROTO_TCP, 20);
	tcp(o, 443, 1, 0x02);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_PASS && !d.reply_len && d.dport == 443, "SYN to 8.8.8.8:443 passes");
	judge(&allow_google, o + 20 + 6);
	ok(d.verdict == EGRESS_PASS, "Ethernet padding after the IPv4 packet is ignored");
	o = ip4("10.1.1.1", IPPROTO_TCP, 20);
	tcp(o, 443, 1, 0x10);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP && !d.reply_len, "a denied ACK drops without a reply");
	tcp(o, 443, 1, 0x12);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP && !d.reply_len, "a denied SYN+ACK drops without a reply");
	tcp(o, 443, 1, 0x02);
	egress_filter__judge(&deny_private, f, o + 20, reply, 40, &d);
	ok(d.verdict == EGRESS_DROP && !d.reply_len, "a reply buffer too small for the RST: no reply");
}

static void test_dns(void)
{
	size_t o = ip4("10.0.2.3", IPPROTO_UDP, 30);

	udp(o, 53, 30);
	judge(&deny_private, o + 30);
	ok(d.verdict == EGRESS_PASS && !strcmp(d.why, "DNS via slirp's resolver"), "UDP 10.0.2.3:53 under deny_private");
	judge(&allow_google, o + 30);
	ok(d.verdict == EGRESS_DROP, "UDP 10.0.2.3:53 under allowlist:8.8.8.8 drops");
	judge(&allow_dns, o + 30);
	ok(d.verdict == EGRESS_PASS, "UDP 10.0.2.3:53 under allowlist:10.0.2.3 passes");
	udp(o, 80, 30);
	judge(&allow_dns, o + 30);
	ok(d.verdict == EGRESS_DROP, "UDP 10.0.2.3:80 drops even when listed (%s)", d.why);
	o = ip4("10.0.2.3", IPPROTO_TCP, 20);
	tcp(o, 53, 7, 0x02);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_PASS, "TCP 10.0.2.3:53 passes");
	tcp(o, 22, 7, 0x02);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP && d.reply_len, "TCP SYN 10.0.2.3:22 drops with an RST");
	o = ip6("fec0::3", IPPROTO_UDP, 20, 64);
	udp(o, 53, 20);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_PASS, "UDP [fec0::3]:53 passes");
	o = ip4("255.255.255.255", IPPROTO_UDP, 300);
	udp(o, 67, 300);
	judge(&allow_google, o + 300);
	ok(d.verdict == EGRESS_PASS, "DHCP broadcast passes under an allowlist (%s)", d.why);
	udp(o, 68, 300);
	judge(&deny_private, o + 300);
	ok(d.verdict == EGRESS_DROP, "UDP broadcast to port 68 drops");
}

static void test_malformed4(void)
{
	size_t o = ip4("8.8.8.8", IPPROTO_TCP, 20);

	tcp(o, 80, 1, 0x02);
	judge(&deny_private, 10);
	ok(d.verdict == EGRESS_DROP && d.why, "10-byte frame drops (%s)", d.why);
	judge(&deny_private, 33);
	ok(d.verdict == EGRESS_DROP, "IPv4 header of 19 bytes drops (%s)", d.why);
	judge(&deny_private, o + 19);
	ok(d.verdict == EGRESS_DROP, "total length past the frame drops (%s)", d.why);
	f[14] = 0x55;
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP, "version 5 drops (%s)", d.why);
	f[14] = 0x44;
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP, "IHL 4 drops (%s)", d.why);
	f[14] = 0x4f;
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP, "IHL 15 past the total length drops (%s)", d.why);
	f[14] = 0x46;
	wr16(f + 16, 24 + 20);
	tcp(o + 4, 80, 1, 0x02);
	judge(&deny_private, o + 24);
	ok(d.verdict == EGRESS_PASS && d.dport == 80, "IHL 6 (options) parsed to the TCP header after them");
	ip4("8.8.8.8", IPPROTO_TCP, 10);
	judge(&deny_private, o + 10);
	ok(d.verdict == EGRESS_DROP, "TCP header of 10 bytes drops (%s)", d.why);
	o = ip4("8.8.8.8", IPPROTO_TCP, 20);
	tcp(o, 80, 1, 0x02);
	f[o + 12] = 0xf0;
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP, "TCP data offset 15 past the segment drops (%s)", d.why);
	ip4("8.8.8.8", 47, 20);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP, "GRE drops (%s)", d.why);
	o = ip4("8.8.8.8", IPPROTO_ICMP, 8);
	f[o] = 8;
	judge(&deny_private, o + 8);
	ok(d.verdict == EGRESS_PASS && d.proto == IPPROTO_ICMP, "ICMP echo to 8.8.8.8 passes");
	o = ip4("8.8.8.8", IPPROTO_ICMPV6, 8);
	judge(&deny_private, o + 8);
	ok(d.verdict == EGRESS_DROP, "ICMPv6 inside IPv4 drops");
	eth(0x8100);
	judge(&deny_private, 64);
	ok(d.verdict == EGRESS_DROP && strstr(d.why, "ethertype"), "VLAN-tagged frame drops (%s)", d.why);
	eth(0x88cc);
	judge(&deny_private, 64);
	ok(d.verdict == EGRESS_DROP, "LLDP drops");
}

static void frag4(unsigned frag)
{
	wr16(f + 14 + 6, frag);
	f[24] = f[25] = 0;
	wr16(f + 24, ~csum(f + 14, 20, 0) & 0xffff);
}

static void test_fragments4(void)
{
	size_t o = ip4("8.8.8.8", IPPROTO_UDP, 16);

	udp(o, 443, 1000);
	frag4(0x2000);
	judge(&deny_private, o + 16);
	ok(d.verdict == EGRESS_PASS && d.dport == 443, "first fragment (MF) to 8.8.8.8:443 passes");
	o = ip4("8.8.8.8", IPPROTO_UDP, 4);
	frag4(0x2000);
	judge(&deny_private, o + 4);
	ok(d.verdict == EGRESS_DROP, "first fragment shorter than the UDP header drops (%s)", d.why);
	o = ip4("8.8.8.8", IPPROTO_UDP, 3);
	frag4(0x0010);
	judge(&deny_private, o + 3);
	ok(d.verdict == EGRESS_PASS && !d.dport, "later fragment to 8.8.8.8 passes, port unknown");
	o = ip4("192.168.1.1", IPPROTO_TCP, 0);
	frag4(0x2010);
	judge(&deny_private, o);
	ok(d.verdict == EGRESS_DROP && !d.reply_len, "later fragment to 192.168.1.1 drops, no RST");
	o = ip4("10.0.2.3", IPPROTO_UDP, 16);
	frag4(0x0002);
	judge(&deny_private, o + 16);
	ok(d.verdict == EGRESS_PASS, "later fragment to the resolver passes (its first decided)");
	judge(&allow_google, o + 16);
	ok(d.verdict == EGRESS_DROP, "... but not under an allowlist without it");
}

static void test_tcp6(void)
{
	size_t o = ip6("2001:db8::1", IPPROTO_TCP, 20, 64);

	tcp(o, 443, 99, 0x02);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_PASS && d.dport == 443, "IPv6 SYN to 2001:db8::1 passes");
	o = ip6("fd00::1", IPPROTO_TCP, 20, 64);
	tcp(o, 8080, 99, 0x02);
	judge(&deny_private, o + 20);
	check_rst(true, 99, 100, "IPv6 SYN to fd00::1");
	o = ip6("fec0::2", IPPROTO_TCP, 20, 64);
	tcp(o, 22, 5, 0x02);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP && d.reply_len == 74, "SYN to fec0::2 (slirp's host loopback) drops with an RST");
	o = ip6("::ffff:10.0.0.1", IPPROTO_TCP, 20, 64);
	tcp(o, 22, 5, 0x02);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP, "IPv6 to ::ffff:10.0.0.1 drops like 10.0.0.1");
	o = ip6("64:ff9b::7f00:1", IPPROTO_TCP, 20, 64);
	tcp(o, 22, 5, 0x02);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP, "IPv6 to NAT64 of 127.0.0.1 drops");
	ip6("2001:db8::1", IPPROTO_TCP, 0, 64);
	judge(&deny_private, 54);
	ok(d.verdict == EGRESS_DROP, "IPv6 payload length 0 drops (%s)", d.why);
	ip6("2001:db8::1", IPPROTO_TCP, 20, 64);
	judge(&deny_private, 54 + 19);
	ok(d.verdict == EGRESS_DROP, "IPv6 payload past the frame drops (%s)", d.why);
	f[14] = 0x40;
	judge(&deny_private, 54 + 20);
	ok(d.verdict == EGRESS_DROP, "IPv6 ethertype with version 4 drops");
	judge(&deny_private, 50);
	ok(d.verdict == EGRESS_DROP, "IPv6 header truncated drops");
}

/* extension header at f+off: next header nh, length (units of 8 bytes beyond the first 8) */
static size_t ext(size_t off, unsigned nh, unsigned len8)
{
	memset(f + off, 0, 8 * (len8 + 1));
	f[off] = (uint8_t)nh;
	f[off + 1] = (uint8_t)len8;
	return off + 8 * (len8 + 1);
}

static void test_ext6(void)
{
	size_t o;

	ip6("2001:db8::1", IPPROTO_HOPOPTS, 8 + 16 + 20, 64);
	o = ext(54, IPPROTO_DSTOPTS, 0);
	o = ext(o, IPPROTO_TCP, 1);
	tcp(o, 993, 1, 0x02);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_PASS && d.dport == 993 && d.proto == IPPROTO_TCP, "hop-by-hop, dest opts, TCP: port 993");
	ip6("fd00::5", IPPROTO_HOPOPTS, 8 + 16 + 20, 64);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP && d.reply_len == 74 && d.dport == 993, "same chain to fd00::5: RST");
	ip6("2001:db8::1", IPPROTO_DSTOPTS, 8 + 8 + 20, 64);
	o = ext(54, IPPROTO_HOPOPTS, 0);
	o = ext(o, IPPROTO_TCP, 0);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP, "hop-by-hop not first drops (%s)", d.why);
	ip6("2001:db8::1", IPPROTO_ROUTING, 24 + 20, 64);
	o = ext(54, IPPROTO_TCP, 2);
	f[54 + 3] = 1;
	tcp(o, 80, 1, 0x02);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP && strstr(d.why, "segments left"), "routing header, segments left 1: drops");
	f[54 + 3] = 0;
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_PASS, "routing header, segments left 0: judged on the destination");
	ip6("2001:db8::1", IPPROTO_DSTOPTS, 9 * 8 + 20, 64);
	o = 54;
	for (int i = 0; i < 9; i++)
		o = ext(o, i < 8 ? IPPROTO_DSTOPTS : IPPROTO_TCP, 0);
	tcp(o, 80, 1, 0x02);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP && strstr(d.why, "more than 8"), "9 extension headers drop (%s)", d.why);
	ip6("2001:db8::1", IPPROTO_DSTOPTS, 8 * 8 + 20, 64);
	o = 54;
	for (int i = 0; i < 8; i++)
		o = ext(o, i < 7 ? IPPROTO_DSTOPTS : IPPROTO_TCP, 0);
	tcp(o, 80, 1, 0x02);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_PASS, "8 extension headers pass");
	ip6("2001:db8::1", IPPROTO_DSTOPTS, 16, 64);
	ext(54, IPPROTO_TCP, 4);
	judge(&deny_private, 54 + 16);
	ok(d.verdict == EGRESS_DROP, "extension header longer than the payload drops (%s)", d.why);
	ip6("2001:db8::1", IPPROTO_DSTOPTS, 4, 64);
	judge(&deny_private, 54 + 4);
	ok(d.verdict == EGRESS_DROP, "extension header cut short drops");
	ip6("2001:db8::1", 59, 8, 64);
	judge(&deny_private, 54 + 8);
	ok(d.verdict == EGRESS_DROP, "no next header (59) drops (%s)", d.why);
}

static void test_frag6(void)
{
	size_t o;

	ip6("2001:db8::1", IPPROTO_FRAGMENT, 8 + 20, 64);
	o = ext(54, IPPROTO_TCP, 0);
	wr16(f + 56, 0x0001);		/* offset 0, M */
	tcp(o, 443, 1, 0x02);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_PASS && d.dport == 443, "IPv6 first fragment: port read");
	wr16(f + 56, 0x0008);		/* offset 1 */
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_PASS && !d.dport, "IPv6 later fragment to 2001:db8::1 passes, port unknown");
	inet_pton(AF_INET6, "fd00::9", f + 14 + 24);
	judge(&deny_private, o + 20);
	ok(d.verdict == EGRESS_DROP && !d.reply_len, "IPv6 later fragment to fd00::9 drops, no RST");
	ip6("2001:db8::1", IPPROTO_FRAGMENT, 8 + 4, 64);
	o = ext(54, IPPROTO_TCP, 0);
	judge(&deny_private, o + 4);
	ok(d.verdict == EGRESS_DROP, "IPv6 first fragment without the whole TCP header drops");
}

static void test_icmp6(void)
{
	size_t o = ip6("ff02::1:ff00:2", IPPROTO_ICMPV6, 24, 255);

	memset(f + o, 0, 24);
	f[o] = 135;
	judge(&allow_google, o + 24);
	ok(d.verdict == EGRESS_PASS && strstr(d.why, "neighbour"), "NS to ff02::1:ff00:2 passes under an allowlist");
	f[o] = 133;
	inet_pton(AF_INET6, "ff02::2", f + 14 + 24);
	judge(&allow_google, o + 24);
	ok(d.verdict == EGRESS_PASS, "RS to ff02::2 passes");
	f[o] = 136;
	inet_pton(AF_INET6, "fe80::2", f + 14 + 24);
	judge(&allow_google, o + 24);
	ok(d.verdict == EGRESS_PASS, "NA to fe80::2 passes");
	f[14 + 7] = 64;
	judge(&allow_google, o + 24);
	ok(d.verdict == EGRESS_DROP, "NA with hop limit 64 drops");
	f[14 + 7] = 255;
	f[o] = 134;
	judge(&deny_private, o + 24);
	ok(d.verdict == EGRESS_DROP, "RA from the guest drops");
	f[o] = 143;
	inet_pton(AF_INET6, "ff02::16", f + 14 + 24);
	judge(&deny_private, o + 24);
	ok(d.verdict == EGRESS_DROP, "MLDv2 report drops");
	f[o] = 135;
	inet_pton(AF_INET6, "2001:db8::1", f + 14 + 24);
	judge(&allow_google, o + 24);
	ok(d.verdict == EGRESS_DROP, "NS to a global address is judged by the policy: drops");
	f[o] = 128;
	judge(&deny_private, o + 24);
	ok(d.verdict == EGRESS_PASS && d.proto == IPPROTO_ICMPV6, "echo to 2001:db8::1 passes");
	o = ip6("2001:db8::1", IPPROTO_ICMP, 8, 64);
	judge(&deny_private, o + 8);
	ok(d.verdict == EGRESS_DROP, "ICMPv4 inside IPv6 drops");
	o = ip6("ff02::1:2", IPPROTO_UDP, 8, 1);
	udp(o, 547, 8);
	judge(&allow_google, o + 8);
	ok(d.verdict == EGRESS_PASS, "DHCPv6 to ff02::1:2 passes");
}

static void test_ratelimit(void)
{
	static struct egress_ratelimit r;
	struct egress_decision a = { .dport = 22 }, b = { .dport = 23 };
	unsigned logged = 0;

	egress_addr__from_v4(a.dst, 0x0a000202);
	b = a;
	b.dport = 23;
	ok(egress_ratelimit__should_log(&r, &a, 1000), "first drop to 10.0.2.2:22 logged");
	ok(!egress_ratelimit__should_log(&r, &a, 5000), "again after 4 s: not logged");
	ok(egress_ratelimit__should_log(&r, &b, 5000), "another port: logged");
	ok(!egress_ratelimit__should_log(&r, &a, 10999), "after 9.999 s: not logged");
	ok(egress_ratelimit__should_log(&r, &a, 11000), "after 10 s: logged");
	for (unsigned i = 0; i < 100; i++) {
		struct egress_decision c = { .dport = 80 };

		egress_addr__from_v4(c.dst, 0x08000000 + i);
		logged += egress_ratelimit__should_log(&r, &c, 30000 + i);
	}
	is(logged, EGRESS_LOG_BURST, "100 destinations in one interval: 20 lines");
	ok(r.suppressed == 2 + 80, "the rest counted as suppressed (%llu)", (unsigned long long)r.suppressed);
	ok(sizeof(r) < 2048, "fixed size: %zu bytes", sizeof(r));
}

int main(void)
{
	char err[EGRESS_ERR_MAX];

	egress_policy__parse("deny_private", &deny_private, err, sizeof(err));
	egress_policy__parse("allowlist:8.8.8.8", &allow_google, err, sizeof(err));
	egress_policy__parse("allowlist:10.0.2.3,8.8.8.8", &allow_dns, err, sizeof(err));
	test_arp();
	test_tcp4();
	test_dns();
	test_malformed4();
	test_fragments4();
	test_tcp6();
	test_ext6();
	test_frag6();
	test_icmp6();
	test_ratelimit();
	return done_testing();
}
