#ifndef SM_NET_EGRESS_FILTER_H
#define SM_NET_EGRESS_FILTER_H
/*
 * Judges one Ethernet frame the guest sends, before slirp sees it
 * (docs/network.md §What the filter sees).  Pure: no I/O, no allocation.
 *
 * Passes, whatever the policy (slirp answers them itself):
 *   - ARP for IPv4 over Ethernet (request or reply);
 *   - DHCP: UDP to port 67 of 255.255.255.255 or 10.0.2.2;
 *   - ICMPv6 router solicitation (133), neighbour solicitation (135) and
 *     advertisement (136) with hop limit 255 to fe80::/10 or ff02::/16;
 *   - DHCPv6: UDP to port 547 of ff02::1:2.
 * DNS: UDP/TCP port 53 (and later fragments) to slirp's resolver 10.0.2.3
 * or fec0::3 passes under deny_private and denylist (slirp forwards it to
 * the host's resolver); under an allowlist only if the allowlist allows
 * that address.  Any other port there is judged as the address (denied by
 * deny_private: slirp would send it to the host's resolver or loopback).
 * TCP, UDP, ICMP and ICMPv6 pass when egress_policy__allows the destination.
 * Everything else drops: other ethertypes, other IP protocols, malformed
 * frames, IPv6 routing headers with segments left.  A denied TCP SYN
 * (SYN, no ACK) gets an RST+ACK back in reply, so connect() fails at once.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "egress-policy.h"

#define EGRESS_REPLY_MIN	128	/* reply_cap the caller gives (an RST needs 74) */

enum egress_verdict { EGRESS_PASS, EGRESS_DROP };
struct egress_decision {
	enum egress_verdict verdict;
	uint8_t dst[16]; uint16_t dport; uint8_t proto;	/* IPPROTO_TCP/UDP/ICMP/ICMPV6, 0 if none */
	const char *why;		/* static string: "denied by policy", "malformed IPv4 header", ... */
	size_t reply_len;		/* >0: a frame to hand back to the guest (a TCP RST for a denied SYN) */
};

/* frame: the Ethernet frame without the virtio-net header.  reply: caller's buffer of reply_cap bytes (>= 128) */
void egress_filter__judge(const struct egress_policy *p, const uint8_t *frame, size_t len,
			  uint8_t *reply, size_t reply_cap, struct egress_decision *d);

/* One log line per (dst, dport) per EGRESS_LOG_INTERVAL_MS, and at most
 * EGRESS_LOG_BURST lines per interval in all (a scanning guest cannot
 * flood the log); `suppressed` counts the rest, for the caller to report.
 * Zero-initialise; fixed size. */
#define EGRESS_LOG_INTERVAL_MS	10000
#define EGRESS_LOG_SLOTS	32
#define EGRESS_LOG_BURST	20
struct egress_ratelimit {
	struct { uint8_t dst[16]; uint16_t dport; bool used; uint64_t last_ms; } slot[EGRESS_LOG_SLOTS];
	uint64_t window_ms;		/* start of the current interval */
	unsigned in_window;		/* lines logged in it */
	uint64_t suppressed;		/* decisions not logged, ever */
};
bool egress_ratelimit__should_log(struct egress_ratelimit *r, const struct egress_decision *d, uint64_t now_ms);
#endif
