#ifndef SM_VMM_INITCHAN_H
#define SM_VMM_INITCHAN_H
/*
 * The VMM's init channel decoder: frames from guest init over the second
 * UART (wire format: net/initchan-proto.h).  Everything in it is
 * guest-controlled, and so is its saved state.
 */
#include <stdbool.h>
#include <stdint.h>

#include "net/initchan-proto.h"
#include "snapshot/state.h"

struct initchan_ops {
	void (*hello)(void *ctx, int version);
	void (*output)(void *ctx, int stream, const uint8_t *buf, uint32_t len);	/* 1 or 2 */
	void (*exit)(void *ctx, bool signaled, int value);
	void (*log)(void *ctx, const char *line);
	void (*error)(void *ctx, const char *why);	/* stream unusable from here on */
	void (*prepared)(void *ctx);			/* optional */
};

struct initchan {
	const struct initchan_ops *ops;
	void *ctx;
	bool broken;
	uint32_t have;			/* bytes of the current frame so far */
	uint8_t hdr[INITCHAN_HDR_LEN];
	uint8_t payload[INITCHAN_MAX_PAYLOAD + 1];
};

void initchan__init(struct initchan *c, const struct initchan_ops *ops, void *ctx);
void initchan__byte(struct initchan *c, uint8_t b);
/* Snapshots: a frame may be half received when the VM pauses. */
void initchan__save(const struct initchan *c, struct state_buf *b);
/* 0, or -EINVAL if the saved decoder state is missing or impossible (checked
 * as if the guest had sent it: a header it would have refused, or more
 * bytes than its frame holds); c is left empty then. */
int initchan__restore(struct initchan *c, const struct state_view *sv);
#endif
