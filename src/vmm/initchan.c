#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/initchan.h"

void initchan__init(struct initchan *c, const struct initchan_ops *ops, void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->ctx = ctx;
}

static void fail(struct initchan *c, const char *why)
{
	c->broken = true;
	if (c->ops->error)
		c->ops->error(c->ctx, why);
}

static uint32_t payload_len(const struct initchan *c)
{
	return c->hdr[2] | (uint32_t)c->hdr[3] << 8;
}

static void dispatch(struct initchan *c)
{
	uint32_t len = payload_len(c);
	const uint8_t *p = c->payload;
	int32_t value;

	switch (c->hdr[0]) {
	case IC_HELLO:
		if (len < 1)
			return fail(c, "hello frame without a version");
		if (p[0] != INITCHAN_VERSION)
			return fail(c, "init speaks another channel version — rebuild the guest (make guest)");
		c->ops->hello(c->ctx, p[0]);
		break;
	case IC_STDOUT:
	case IC_STDERR:
		c->ops->output(c->ctx, c->hdr[0] == IC_STDOUT ? 1 : 2, p, len);
		break;
	case IC_EXIT:
		if (len != 8 || p[0] > 1)
			return fail(c, "malformed exit frame");
		memcpy(&value, p + 4, 4);
		c->ops->exit(c->ctx, p[0] == 1, value);
		break;
	case IC_PREPARED:
		if (len != 0)
			return fail(c, "malformed prepared frame");
		if (c->ops->prepared)
			c->ops->prepared(c->ctx);
		break;
	case IC_LOG:
		c->payload[len] = '\0';
		if (c->ops->log)
			c->ops->log(c->ctx, (const char *)p);
		break;
	}
}

void initchan__byte(struct initchan *c, uint8_t b)
{
	char why[80];

	if (c->broken)
		return;
	if (c->have < 4) {
		c->hdr[c->have++] = b;
		if (c->have < 4)
			return;
		if (c->hdr[0] < IC_HELLO || (c->hdr[0] > IC_LOG && c->hdr[0] != IC_PREPARED) || c->hdr[1] != 0 ||
		    payload_len(c) > INITCHAN_MAX_PAYLOAD) {
			snprintf(why, sizeof(why), "bad frame header %02x %02x %02x %02x",
				 c->hdr[0], c->hdr[1], c->hdr[2], c->hdr[3]);
			return fail(c, why);
		}
	} else {
		c->payload[c->have++ - 4] = b;
	}
	if (c->have == 4 + payload_len(c)) {
		dispatch(c);
		c->have = 0;
	}
}

void initchan__encode_time(uint8_t *out, int64_t sec, uint32_t nsec)
{
	out[0] = IC_TIME;
	out[1] = 0;
	out[2] = 12;
	out[3] = 0;
	memcpy(out + 4, &sec, 8);		/* little endian, as is this host */
	memcpy(out + 12, &nsec, 4);
}

void initchan__encode_entropy(uint8_t *out, const uint8_t *seed, const uint8_t *worker_id)
{
	out[0] = IC_ENTROPY;
	out[1] = 0;
	out[2] = INITCHAN_SEED_BYTES + INITCHAN_WORKER_ID_BYTES;
	out[3] = 0;
	memcpy(out + 4, seed, INITCHAN_SEED_BYTES);
	memcpy(out + 4 + INITCHAN_SEED_BYTES, worker_id, INITCHAN_WORKER_ID_BYTES);
}

int initchan__encode_config(uint8_t *out, const char *kinds, const char *const *strs, int n)
{
	uint32_t len = 0;

	for (int i = 0; i < n; i++) {
		size_t sl = strlen(strs[i]) + 1;

		if (sl + 1 > INITCHAN_MAX_PAYLOAD - len)
			return -E2BIG;
		out[4 + len++] = (uint8_t)kinds[i];
		memcpy(out + 4 + len, strs[i], sl);
		len += (uint32_t)sl;
	}
	out[0] = IC_CONFIG;
	out[1] = 0;
	out[2] = (uint8_t)len;
	out[3] = (uint8_t)(len >> 8);
	return (int)(4 + len);
}
