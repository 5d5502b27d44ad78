/*
 * What the libFuzzer harnesses share (docs/fuzzing.md): an invariant check
 * that aborts (so libFuzzer records the input as a crash, like a sanitizer
 * report), and a cursor that hands out the fuzzer's bytes as fields.
 * Include once per harness (each harness is one program).
 */
#ifndef SM_FUZZ_FUZZ_H
#define SM_FUZZ_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken invariant is a finding, not a skipped input. */
#define FUZZ_CHECK(cond)							\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "invariant broken: %s (%s:%d)\n", #cond,	\
				__FILE__, __LINE__);				\
			abort();						\
		}								\
	} while (0)

/* The input, consumed from the front; past its end every field reads 0,
 * so a short input is still a whole (if dull) run. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline size_t fuzz_take(struct fuzz_in *in, void *out, size_t len)
{
	size_t k = len < in->n ? len : in->n;

	memset(out, 0, len);
	memcpy(out, in->p, k);
	in->p += k;
	in->n -= k;
	return k;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v;

	fuzz_take(in, &v, 1);
	return v;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t v;

	fuzz_take(in, &v, 2);
	return v;
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t v;

	fuzz_take(in, &v, 4);
	return v;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t v;

	fuzz_take(in, &v, 8);
	return v;
}
#endif
