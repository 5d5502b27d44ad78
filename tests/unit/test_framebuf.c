/* The agent frame queue shared by the guest agent and libsm (net/framebuf.c). */
#include <string.h>

#include "net/agent-proto.h"
#include "net/framebuf.h"
#include "tap.h"

/* In-place appends (the guest agent reads straight into its buffers). */
static void test_space(void)
{
	struct framebuf b = { 0 };
	size_t room;
	uint8_t *p;

	framebuf__add(&b, "ab", 2, 100);
	p = framebuf__space(&b, 100, &room);
	ok(p == b.p + 2 && room == 98 && b.cap == 100, "the whole room up to max at once, after the queued bytes");
	memcpy(p, "cdef", 4);
	framebuf__commit(&b, 4);
	ok(b.len == 6 && !memcmp(b.p, "abcdef", 6), "committed bytes are queued in order");
	framebuf__commit(&b, 1000);
	ok(b.len == 100, "a commit never runs past the room");
	ok(framebuf__space(&b, 100, &room) == NULL && room == 0, "full: no room");
	framebuf__drop(&b, 50);
	ok(framebuf__space(&b, 100, &room) == b.p + 50 && room == 50, "room again once drained");
	ok(framebuf__space(&b, 20, &room) == NULL && room == 0, "a smaller max than what is queued: no room");
	framebuf__free(&b);
}

int main(void)
{
	struct framebuf b = { 0 };
	struct agent_hdr h;
	const char *why;
	static uint8_t big[10000];

	ok(framebuf__add(&b, "hello", 5, 16) && b.len == 5 && !memcmp(b.p, "hello", 5), "bytes appended");
	ok(!framebuf__add(&b, big, 12, 16) && b.len == 5, "an append past max is refused whole");
	ok(framebuf__add(&b, big, 11, 16) && b.len == 16, "an append up to max exactly fits");
	framebuf__drop(&b, 3);
	ok(b.len == 13 && !memcmp(b.p, "lo", 2), "drop consumes from the front");
	framebuf__drop(&b, 13);
	ok(b.len == 0 && b.p != NULL, "a drained buffer keeps its memory (no fault + clear per refill in a guest)");
	framebuf__free(&b);
	ok(b.p == NULL && b.cap == 0, "free releases it");

	ok(framebuf__add_frame(&b, AGENT_STDOUT, "out", 3, 1 << 20) && b.len == AGENT_HDR_LEN + 3, "a frame appended");
	ok(agent_hdr__decode(b.p, &h, &why) == 0 && h.type == AGENT_STDOUT && h.len == 3 &&
	   !memcmp(b.p + AGENT_HDR_LEN, "out", 3), "... with the codec's header");
	ok(!framebuf__add_frame(&b, AGENT_STDOUT, big, sizeof(big), 4096) && b.len == AGENT_HDR_LEN + 3,
	   "a frame that does not fit leaves nothing half-written");
	ok(framebuf__add_frame(&b, AGENT_STDIN, NULL, 0, 1 << 20) && b.len == 2 * AGENT_HDR_LEN + 3, "an empty frame");
	ok(framebuf__add(&b, big, sizeof(big), 1 << 20) && b.cap >= b.len, "grows past its first allocation");
	framebuf__free(&b);
	test_space();
	return done_testing();
}
