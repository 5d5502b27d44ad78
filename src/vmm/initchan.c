/* Decoding guest init's frames (docs/init-channel.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "snapshot/sections.h"
#include "vmm/initchan.h"

ST_PIN(((struct initchan *)0)->have, ST_SIZE_DEV_INITCHAN_HAVE);
ST_PIN(((struct initchan *)0)->hdr, ST_SIZE_DEV_INITCHAN_HDR);
ST_PIN(((struct initchan *)0)->payload, ST_SIZE_DEV_INITCHAN_PAYLOAD);

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
	bool signaled;
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
		if (initchan__decode_exit(p, len, &signaled, &value) < 0)
			return fail(c, "malformed exit frame");
		c->ops->exit(c->ctx, signaled, value);
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
	if (c->have < INITCHAN_HDR_LEN) {
		c->hdr[c->have++] = b;
		if (c->have < INITCHAN_HDR_LEN)
			return;
		if (initchan__check_header(c->hdr, IC_FROM_GUEST) < 0) {
			snprintf(why, sizeof(why), "bad frame header %02x %02x %02x %02x",
				 c->hdr[0], c->hdr[1], c->hdr[2], c->hdr[3]);
			return fail(c, why);
		}
	} else {
		c->payload[c->have++ - INITCHAN_HDR_LEN] = b;
	}
	if (c->have == INITCHAN_HDR_LEN + payload_len(c)) {
		dispatch(c);
		c->have = 0;
	}
}

/* Sections of ST_DEV_INITCHAN (docs/snapshot-format.md) */
enum { SEC_HAVE, SEC_HDR, SEC_PAYLOAD };

void initchan__save(const struct initchan *c, struct state_buf *b)
{
	state__add(b, ST_DEV_INITCHAN, SEC_HAVE, &c->have, sizeof(c->have));
	state__add(b, ST_DEV_INITCHAN, SEC_HDR, c->hdr, sizeof(c->hdr));
	state__add(b, ST_DEV_INITCHAN, SEC_PAYLOAD, c->payload, sizeof(c->payload));
}

/* A decoder state initchan__byte could have left: fewer bytes than a header,
 * or a header it accepted and fewer bytes than its frame (a whole frame is
 * dispatched and forgotten at once). */
static bool state_possible(const struct initchan *c)
{
	int len;

	if (c->have < INITCHAN_HDR_LEN)
		return true;
	len = initchan__check_header(c->hdr, IC_FROM_GUEST);
	return len >= 0 && c->have < INITCHAN_HDR_LEN + (uint32_t)len;
}

int initchan__restore(struct initchan *c, const struct state_view *sv)
{
	if (state__get(sv, ST_DEV_INITCHAN, SEC_HAVE, &c->have, sizeof(c->have)) < 0 ||
	    state__get(sv, ST_DEV_INITCHAN, SEC_HDR, c->hdr, sizeof(c->hdr)) < 0 ||
	    state__get(sv, ST_DEV_INITCHAN, SEC_PAYLOAD, c->payload, sizeof(c->payload)) < 0 ||
	    !state_possible(c)) {
		c->have = 0;
		return -EINVAL;
	}
	c->broken = false;
	return 0;
}
