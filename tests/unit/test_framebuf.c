/* The agent frame queue shared by the guest agent and libsm (net/framebuf.c). */
#include <string.h>

#include "net/agent-proto.h"
#include "net/framebuf.h"
#include "tap.h"

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
	return done_testing();
}
