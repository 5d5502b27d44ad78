/* The init channel's frames (docs/init-channel.md); see initchan-proto.h. */
#include <errno.h>
#include <string.h>

#include "initchan-proto.h"

void initchan__put_header(uint8_t *out, int type, uint32_t len)
{
	out[0] = (uint8_t)type;
	out[1] = 0;
	out[2] = (uint8_t)len;
	out[3] = (uint8_t)(len >> 8);
}

static bool sent_by(int type, enum initchan_dir from)
{
	switch (type) {
	case IC_HELLO: case IC_STDOUT: case IC_STDERR: case IC_EXIT: case IC_LOG: case IC_PREPARED:
		return from == IC_FROM_GUEST;
	case IC_CONFIG: case IC_TIME: case IC_ENTROPY:
		return from == IC_FROM_HOST;
	default:
		return false;
	}
}

int initchan__check_header(const uint8_t *hdr, enum initchan_dir from)
{
	uint32_t len = hdr[2] | (uint32_t)hdr[3] << 8;

	if (hdr[1] != 0 || len > INITCHAN_MAX_PAYLOAD || !sent_by(hdr[0], from))
		return -1;
	return (int)len;
}

size_t initchan__encode_hello(uint8_t *out)
{
	initchan__put_header(out, IC_HELLO, 1);
	out[INITCHAN_HDR_LEN] = INITCHAN_VERSION;
	return INITCHAN_HDR_LEN + 1;
}

/* Integers travel little endian, which is what both sides are (x86-64). */
size_t initchan__encode_exit(uint8_t *out, bool signaled, int32_t value)
{
	initchan__put_header(out, IC_EXIT, INITCHAN_EXIT_LEN);
	memset(out + INITCHAN_HDR_LEN, 0, 4);
	out[INITCHAN_HDR_LEN] = signaled ? 1 : 0;
	memcpy(out + INITCHAN_HDR_LEN + 4, &value, 4);
	return INITCHAN_HDR_LEN + INITCHAN_EXIT_LEN;
}

void initchan__encode_time(uint8_t *out, int64_t sec, uint32_t nsec)
{
	initchan__put_header(out, IC_TIME, INITCHAN_TIME_LEN);
	memcpy(out + INITCHAN_HDR_LEN, &sec, 8);
	memcpy(out + INITCHAN_HDR_LEN + 8, &nsec, 4);
}

void initchan__encode_entropy(uint8_t *out, const uint8_t *seed, const uint8_t *worker_id)
{
	initchan__put_header(out, IC_ENTROPY, INITCHAN_ENTROPY_LEN);
	memcpy(out + INITCHAN_HDR_LEN, seed, INITCHAN_SEED_BYTES);
	memcpy(out + INITCHAN_HDR_LEN + INITCHAN_SEED_BYTES, worker_id, INITCHAN_WORKER_ID_BYTES);
}

int initchan__encode_config(uint8_t *out, const char *kinds, const char *const *strs, int n)
{
	uint32_t len = 0;

	for (int i = 0; i < n; i++) {
		size_t sl = strlen(strs[i]) + 1;

		if (sl + 1 > INITCHAN_MAX_PAYLOAD - len)
			return -E2BIG;
		out[INITCHAN_HDR_LEN + len++] = (uint8_t)kinds[i];
		memcpy(out + INITCHAN_HDR_LEN + len, strs[i], sl);
		len += (uint32_t)sl;
	}
	initchan__put_header(out, IC_CONFIG, len);
	return (int)(INITCHAN_HDR_LEN + len);
}

int initchan__decode_exit(const uint8_t *p, size_t len, bool *signaled, int32_t *value)
{
	if (len != INITCHAN_EXIT_LEN || p[0] > 1)
		return -1;
	*signaled = p[0] == 1;
	memcpy(value, p + 4, 4);
	return 0;
}

int initchan__decode_time(const uint8_t *p, size_t len, int64_t *sec, uint32_t *nsec)
{
	if (len != INITCHAN_TIME_LEN)
		return -1;
	memcpy(sec, p, 8);
	memcpy(nsec, p + 8, 4);
	return *nsec < 1000000000u ? 0 : -1;
}

int initchan__decode_entropy(const uint8_t *p, size_t len, const uint8_t **seed, const uint8_t **worker_id)
{
	if (len != INITCHAN_ENTROPY_LEN)
		return -1;
	*seed = p;
	*worker_id = p + INITCHAN_SEED_BYTES;
	return 0;
}
