#ifndef SM_NET_EGRESS_POLICY_H
#define SM_NET_EGRESS_POLICY_H
/*
 * Which destinations a guest may reach through slirp (docs/network.md
 * §Policies, DESIGN.md §7).  Pure: no I/O.
 *
 * Addresses are 16 bytes, network order; IPv4 is v4-mapped (::ffff:a.b.c.d).
 * An address "embeds" an IPv4 address when it is v4-mapped, IPv4-compatible
 * (::a.b.c.d, other than :: and ::1) or NAT64 (64:ff9b::a.b.c.d, RFC 6052).
 *
 *   deny_private (the default)  denies the ranges below, by the address or
 *       by the IPv4 address it embeds; allows everything else:
 *       0/8, 10/8 (so slirp's 10.0.2.0/24: 10.0.2.2 is the host's loopback),
 *       100.64/10, 127/8, 169.254/16 (169.254.169.254 metadata), 172.16/12,
 *       192.168/16, 224/4, 240/4 (255.255.255.255); ::, ::1, fc00::/7
 *       (fd00:ec2::254 metadata), fe80::/10, fec0::/10 (slirp's IPv6
 *       network fec0::/64: fec0::2 is the host's loopback), ff00::/8.
 *   allowlist:CIDR[,CIDR...]    allows only the listed ranges (private ones
 *       too, if listed); denies everything else.
 *   denylist:CIDR[,CIDR...]     denies the listed ranges and all that
 *       deny_private denies: a denylist only adds.
 * A listed range matches the address itself or the IPv4 address it embeds.
 *
 * CIDR: a.b.c.d[/0..32] or IPv6[/0..128] (inet_pton text; bare = one host);
 * prefix in decimal without leading zeros.  Host bits past the prefix are
 * accepted and cleared, as `ip route` does (10.1.2.3/8 is 10.0.0.0/8).
 * Entries are separated by single commas; no spaces; 1..EGRESS_CIDR_MAX.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EGRESS_CIDR_MAX 64
#define EGRESS_ERR_MAX	256	/* enough for any message egress_policy__parse writes */

enum egress_kind { EGRESS_DENY_PRIVATE, EGRESS_ALLOWLIST, EGRESS_DENYLIST };
struct egress_cidr { uint8_t addr[16]; uint8_t bits; };	/* bits over the 128-bit form */
struct egress_policy { enum egress_kind kind; unsigned n; struct egress_cidr cidr[EGRESS_CIDR_MAX]; };

/* spec NULL means deny_private.  0, or -1 with a one-line message in err:
 * "egress policy: allowlist:10.0.0.0/33: prefix length 33 is more than 32 — use 0..32 for IPv4" */
int egress_policy__parse(const char *spec, struct egress_policy *out, char *err, size_t errlen);
bool egress_policy__allows(const struct egress_policy *p, const uint8_t addr[16]);
/* what deny_private denies (so also what a denylist denies without its list) */
bool egress_addr__is_private(const uint8_t addr[16]);
void egress_addr__from_v4(uint8_t out[16], uint32_t v4_host_order);
/* "10.0.0.1" or "fd00::1" (v4-mapped printed as v4) */
void egress_addr__format(const uint8_t addr[16], char *buf, size_t len);
#endif
