#ifndef SM_UTIL_SHA256_H
#define SM_UTIL_SHA256_H
/* SHA-256 (FIPS 180-4), small and dependency-free so the VMM process
 * needs no crypto library. */
#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t fill;
};

void sha256__init(struct sha256 *s);
void sha256__update(struct sha256 *s, const void *data, size_t len);
void sha256__final(struct sha256 *s, uint8_t out[32]);
/* "sha256:" + 64 lowercase hex digits, NUL-terminated (72 bytes). */
void sha256__digest(const void *data, size_t len, char out[72]);
void sha256__format(const uint8_t sum[32], char out[72]);
#endif
