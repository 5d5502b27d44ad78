/*
 * libFuzzer: the guest agent's wire codec (src/net/agent-proto.c,
 * docs/agent-protocol.md), which the host (libsm) and the guest agent
 * (guest/agent/, musl) both compile, so one harness covers both sides'
 * decoders.  The input is a byte stream as it arrives on the vsock
 * connection, in fuzzer-chosen chunks, queued in a framebuf
 * (src/net/framebuf.c, the queue both sides use) and split into frames:
 *   - a header decodes iff the document allows it, and re-encodes to itself;
 *   - an exec payload that decodes re-encodes to the same bytes, and every
 *     string it hands out lies inside the payload, NUL-terminated;
 *   - so does a PUT entry (version 2), whose path also passes
 *     agent_path__check (absolute, no ".", ".." or empty components) and
 *     whose kind, flags and mode are ones the document defines;
 *   - the frames taken, queued again with framebuf__add_frame, are the
 *     stream's bytes exactly.
 * The guest's own splitting loop (host_frames in guest/agent/agent.c) is a
 * static function tied to its session and sockets; it is not linked here.
 */
#include "fuzz.h"
#include "net/agent-proto.h"
#include "net/framebuf.h"

#define QUEUE_MAX	(AGENT_HDR_LEN + AGENT_MAX_PAYLOAD)

static bool doc_type(int t)
{
	static const int types[] = { 1, 2, 3, 4, 5, 6, 16, 17, 18, 19, 20, 32, 33, 34, 35, 36, 37 };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i] == t)
			return true;
	return false;
}

/* §header: u8 version 1, u8 type, u16 flags 0, u32 len <= 64 KiB (little endian). */
static int check_hdr(const uint8_t *p, struct agent_hdr *h)
{
	uint32_t len = p[4] | p[5] << 8 | p[6] << 16 | (uint32_t)p[7] << 24;
	bool valid = p[0] == 1 && !p[2] && !p[3] && doc_type(p[1]) && len <= AGENT_MAX_PAYLOAD;
	const char *why = NULL;
	uint8_t again[AGENT_HDR_LEN];
	int r = agent_hdr__decode(p, h, &why);

	FUZZ_CHECK((r == 0) == valid && (r == 0 || why));
	FUZZ_CHECK(h->version == p[0] && h->type == p[1] && h->len == len);
	if (r == 0) {
		agent_hdr__encode(again, h->type, h->len);
		FUZZ_CHECK(!memcmp(again, p, AGENT_HDR_LEN));
	}
	return r;
}

static bool inside(const char *s, const uint8_t *p, uint32_t len)
{
	return s >= (const char *)p && s < (const char *)p + len && memchr(s, '\0', (size_t)((const char *)p + len - s));
}

/* An exec payload that decodes is exactly what encoding the result gives. */
static void check_exec(const uint8_t *p, uint32_t len)
{
	static uint8_t again[QUEUE_MAX];
	struct agent_exec e;
	const char *why = NULL;

	if (agent_exec__decode(p, len, &e, &why) < 0) {
		FUZZ_CHECK(why);
		return;
	}
	FUZZ_CHECK(e.argc >= 1 && e.argc <= AGENT_MAX_ARGS && e.envc >= 0 && e.envc <= AGENT_MAX_ENV);
	FUZZ_CHECK(!(e.flags & ~(uint32_t)AGENT_EXEC_TTY) && !e.argv[e.argc] && !e.env[e.envc]);
	FUZZ_CHECK(inside(e.cwd, p, len) && inside(e.user, p, len) && e.argv[0][0]);
	for (int i = 0; i < e.argc; i++)
		FUZZ_CHECK(inside(e.argv[i], p, len));
	for (int i = 0; i < e.envc; i++)
		FUZZ_CHECK(inside(e.env[i], p, len));
	FUZZ_CHECK(agent_exec__encode(again, sizeof(again), &e) == (int)(AGENT_HDR_LEN + len));
	FUZZ_CHECK(!memcmp(again + AGENT_HDR_LEN, p, len) && again[1] == AGENT_EXEC);
}

/* §PUT: a decoded entry is valid by the document and re-encodes to its bytes. */
static void check_put(const uint8_t *p, uint32_t len)
{
	static uint8_t again[QUEUE_MAX];
	struct agent_put e;
	const char *why = NULL, *why2 = NULL;

	if (agent_put__decode(p, len, &e, &why) < 0) {
		FUZZ_CHECK(why);
		return;
	}
	FUZZ_CHECK(e.kind >= 1 && e.kind <= 3 && !(e.flags & ~1) && e.mode <= 07777);
	FUZZ_CHECK(inside(e.path, p, len) && inside(e.owner, p, len) && inside(e.target, p, len));
	FUZZ_CHECK(agent_path__check(e.path, &why2) == 0 && e.path[0] == '/' && !strstr(e.path, "//"));
	FUZZ_CHECK(!strstr(e.path, "/../") && !strstr(e.path, "/./"));
	FUZZ_CHECK((e.kind == 3) == (e.target[0] != '\0'));
	FUZZ_CHECK(agent_put__encode(again, sizeof(again), &e, &why2) == (int)(AGENT_HDR_LEN + len));
	FUZZ_CHECK(!memcmp(again + AGENT_HDR_LEN, p, len) && again[1] == AGENT_PUT);
}

/* Takes the complete frames at the front of q; false once the stream is bad. */
static bool take_frames(struct framebuf *q, struct framebuf *out)
{
	struct agent_hdr h;

	while (q->len >= AGENT_HDR_LEN) {
		if (check_hdr(q->p, &h) < 0)
			return false;
		if (q->len - AGENT_HDR_LEN < h.len)
			break;
		if (h.type == AGENT_EXEC)
			check_exec(q->p + AGENT_HDR_LEN, h.len);
		if (h.type == AGENT_PUT)
			check_put(q->p + AGENT_HDR_LEN, h.len);
		FUZZ_CHECK(framebuf__add_frame(out, h.type, q->p + AGENT_HDR_LEN, h.len, SIZE_MAX));
		framebuf__drop(q, AGENT_HDR_LEN + h.len);
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct framebuf q = { 0 }, out = { 0 };
	size_t step = fuzz_u8(&in), fed = 0;
	const uint8_t *stream = in.p;
	bool good = true;

	step = step ? step : in.n + 1;
	while (good && fed < in.n) {
		size_t k = in.n - fed < step ? in.n - fed : step;
		size_t before = q.len;

		if (!framebuf__add(&q, stream + fed, k, QUEUE_MAX)) {
			FUZZ_CHECK(before + k > QUEUE_MAX && q.len == before);
			break;		/* a peer past its limit is cut off, as both sides do */
		}
		fed += k;
		good = take_frames(&q, &out);
	}
	/* what was taken is the stream's front, byte for byte */
	FUZZ_CHECK(out.len + q.len == fed && (!out.len || !memcmp(out.p, stream, out.len)));
	framebuf__free(&q);
	framebuf__free(&out);
	return 0;
}
