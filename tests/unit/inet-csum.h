/* The Internet checksum (RFC 1071) as the tests read it, apart from the code
 * under test: test_egress_filter and fuzz_egress verify RST replies with it. */
#ifndef SM_TESTS_INET_CSUM_H
#define SM_TESTS_INET_CSUM_H
#include <stddef.h>
#include <stdint.h>

/* The folded one's-complement sum of p[n] (big-endian 16-bit words) added to s;
 * 0xffff over a region that holds its correct checksum. */
static inline unsigned inet_csum(const uint8_t *p, size_t n, unsigned long s)
{
	for (size_t i = 0; i < n; i++)
		s += i & 1 ? p[i] : (unsigned)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (unsigned)s;
}
#endif
