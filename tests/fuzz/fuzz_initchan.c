/*
 * libFuzzer: the init channel (docs/init-channel.md).  The VMM's decoder
 * (src/vmm/initchan.c) takes the input byte by byte, optionally from a
 * saved decoder state (initchan__restore of a vm.state whose sections the
 * input fills); what it reports (hello, output, exit, log, prepared,
 * error) must be what the document's own reading of the stream gives,
 * computed here independently.  Every frame also goes through the shared
 * codec (src/net/initchan-proto.c) as the guest would read the host's
 * frames: check_header both ways and decode_exit/time/entropy, with the
 * encoders round-tripping what decodes.
 */
#include <errno.h>

#include "fuzz.h"
#include "vmm/initchan.h"

#define LOG_MAX		(1 << 16)
enum { EV_HELLO = 1, EV_OUT, EV_EXIT, EV_LOG, EV_ERROR, EV_PREPARED };

/* What the decoder reported, and what the document says it should. */
struct evlog {
	uint8_t b[LOG_MAX];
	size_t n;
};
static struct evlog got, want;

static void ev(struct evlog *l, int kind, uint32_t a, const void *p, uint32_t len)
{
	uint8_t h[9] = { (uint8_t)kind };

	memcpy(h + 1, &a, 4);
	memcpy(h + 5, &len, 4);
	FUZZ_CHECK(l->n + sizeof(h) + len <= LOG_MAX);
	memcpy(l->b + l->n, h, sizeof(h));
	if (len)
		memcpy(l->b + l->n + sizeof(h), p, len);
	l->n += sizeof(h) + len;
}

static void cb_hello(void *ctx, int version) { (void)ctx; ev(&got, EV_HELLO, (uint32_t)version, NULL, 0); }
static void cb_output(void *ctx, int stream, const uint8_t *buf, uint32_t len)
{
	(void)ctx;
	FUZZ_CHECK((stream == 1 || stream == 2) && len <= INITCHAN_MAX_PAYLOAD);
	ev(&got, EV_OUT, (uint32_t)stream, buf, len);
}
static void cb_exit(void *ctx, bool signaled, int value)
{
	(void)ctx;
	ev(&got, EV_EXIT, signaled, &value, 4);
}
static void cb_log(void *ctx, const char *line)
{
	size_t n = strnlen(line, INITCHAN_MAX_PAYLOAD + 1);

	(void)ctx;
	FUZZ_CHECK(n <= INITCHAN_MAX_PAYLOAD);
	ev(&got, EV_LOG, 0, line, (uint32_t)n);
}
static void cb_error(void *ctx, const char *why) { (void)ctx; FUZZ_CHECK(why && *why); ev(&got, EV_ERROR, 0, NULL, 0); }
static void cb_prepared(void *ctx) { (void)ctx; ev(&got, EV_PREPARED, 0, NULL, 0); }

static const struct initchan_ops ops = { cb_hello, cb_output, cb_exit, cb_log, cb_error, cb_prepared };

/* ---- the document's reading ---- */

struct model {
	bool broken;
	uint32_t have;
	uint8_t hdr[INITCHAN_HDR_LEN], payload[INITCHAN_MAX_PAYLOAD];
};

static uint32_t hdr_len(const uint8_t *h) { return h[2] | (uint32_t)h[3] << 8; }

/* §frame: type, flags 0, le16 length <= 4096; the guest sends 1-5 and 8, the host 6, 7, 9. */
static bool doc_header(const uint8_t *h, enum initchan_dir from)
{
	bool guest = (h[0] >= IC_HELLO && h[0] <= IC_LOG) || h[0] == IC_PREPARED;
	bool host = h[0] == IC_CONFIG || h[0] == IC_TIME || h[0] == IC_ENTROPY;

	return !h[1] && hdr_len(h) <= INITCHAN_MAX_PAYLOAD && (from == IC_FROM_GUEST ? guest : host);
}

static void model_frame(struct model *m)
{
	uint32_t len = hdr_len(m->hdr);
	const uint8_t *p = m->payload;
	int32_t value;

	switch (m->hdr[0]) {
	case IC_HELLO:
		if (len >= 1 && p[0] == INITCHAN_VERSION)
			return ev(&want, EV_HELLO, INITCHAN_VERSION, NULL, 0);
		break;
	case IC_STDOUT: case IC_STDERR:
		return ev(&want, EV_OUT, m->hdr[0] == IC_STDOUT ? 1 : 2, p, len);
	case IC_EXIT:
		memcpy(&value, p + 4, 4);
		if (len == INITCHAN_EXIT_LEN && p[0] <= 1)
			return ev(&want, EV_EXIT, p[0], &value, 4);
		break;
	case IC_PREPARED:
		if (len == 0)
			return ev(&want, EV_PREPARED, 0, NULL, 0);
		break;
	case IC_LOG:
		return ev(&want, EV_LOG, 0, p, (uint32_t)strnlen((const char *)p, len));
	}
	ev(&want, EV_ERROR, 0, NULL, 0);
	m->broken = true;
}

/* True when b ended a frame (m->hdr and m->payload hold it). */
static bool model_byte(struct model *m, uint8_t b)
{
	if (m->broken)
		return false;
	if (m->have < INITCHAN_HDR_LEN) {
		m->hdr[m->have++] = b;
		if (m->have == INITCHAN_HDR_LEN && !doc_header(m->hdr, IC_FROM_GUEST)) {
			ev(&want, EV_ERROR, 0, NULL, 0);
			m->broken = true;
			return false;
		}
	} else {
		m->payload[m->have++ - INITCHAN_HDR_LEN] = b;
	}
	if (m->have == INITCHAN_HDR_LEN + hdr_len(m->hdr) && m->have >= INITCHAN_HDR_LEN) {
		model_frame(m);
		m->have = 0;
		return true;
	}
	return false;
}

/* ---- the shared codec, as the guest reads host frames ---- */

static void check_codec(const uint8_t *h, const uint8_t *p, uint32_t len)
{
	const uint8_t *seed, *wid;
	uint8_t out[INITCHAN_ENTROPY_FRAME];
	uint32_t nsec;
	int64_t sec;
	int32_t value;
	bool sig;

	for (int from = IC_FROM_GUEST; from <= IC_FROM_HOST; from++)
		FUZZ_CHECK((initchan__check_header(h, from) >= 0) == doc_header(h, from));
	if (initchan__decode_exit(p, len, &sig, &value) == 0) {
		FUZZ_CHECK(len == INITCHAN_EXIT_LEN && p[0] <= 1);
		initchan__encode_exit(out, sig, value);
		FUZZ_CHECK(out[4] == p[0] && !memcmp(out + 8, p + 4, 4));
	}
	if (initchan__decode_time(p, len, &sec, &nsec) == 0) {
		FUZZ_CHECK(len == INITCHAN_TIME_LEN && nsec < 1000000000u);
		initchan__encode_time(out, sec, nsec);
		FUZZ_CHECK(!memcmp(out + INITCHAN_HDR_LEN, p, len));
	}
	if (initchan__decode_entropy(p, len, &seed, &wid) == 0) {
		FUZZ_CHECK(len == INITCHAN_ENTROPY_LEN && seed == p && wid == p + INITCHAN_SEED_BYTES);
		initchan__encode_entropy(out, seed, wid);
		FUZZ_CHECK(initchan__check_header(out, IC_FROM_HOST) == INITCHAN_ENTROPY_LEN);
	}
}

/* ---- restore ---- */

enum { SEC_HAVE, SEC_HDR, SEC_PAYLOAD };	/* as initchan.c saves them */

/* A vm.state with the decoder's three sections filled from the input (one
 * of them the wrong size if `bad`); the decoder and the model start there. */
static int restore(struct initchan *c, struct model *m, struct fuzz_in *in, bool bad)
{
	static uint8_t payload[INITCHAN_MAX_PAYLOAD + 1];
	struct state_buf b;
	uint32_t have = fuzz_u32(in), n = fuzz_u16(in) % sizeof(payload);
	uint8_t hdr[INITCHAN_HDR_LEN];
	struct state_view sv;
	bool possible;
	int r;

	fuzz_take(in, hdr, sizeof(hdr));
	memset(payload, 0, sizeof(payload));
	fuzz_take(in, payload, n);
	state__init(&b);
	state__add(&b, ST_DEV_INITCHAN, SEC_HAVE, &have, sizeof(have));
	state__add(&b, ST_DEV_INITCHAN, SEC_HDR, hdr, sizeof(hdr) - bad);
	state__add(&b, ST_DEV_INITCHAN, SEC_PAYLOAD, payload, sizeof(payload));
	sv = (struct state_view){ b.p, b.len };
	r = initchan__restore(c, &sv);
	state__free(&b);
	possible = have < INITCHAN_HDR_LEN ||
		   (doc_header(hdr, IC_FROM_GUEST) && have < INITCHAN_HDR_LEN + hdr_len(hdr));
	FUZZ_CHECK((r == 0) == (possible && !bad));
	if (r < 0) {
		FUZZ_CHECK(c->have == 0 && r == -EINVAL);
		return r;
	}
	m->have = have;
	memcpy(m->hdr, hdr, sizeof(hdr));
	memcpy(m->payload, payload, sizeof(m->payload));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct initchan c;
	static struct model m;
	struct fuzz_in in = { data, size };
	uint8_t mode = fuzz_u8(&in);

	initchan__init(&c, &ops, NULL);
	memset(&m, 0, sizeof(m));
	got.n = want.n = 0;
	if ((mode & 1) && restore(&c, &m, &in, mode & 2) < 0)
		return 0;
	for (size_t i = 0; i + INITCHAN_HDR_LEN <= in.n && i < 64; i++)	/* headers either way */
		for (int from = IC_FROM_GUEST; from <= IC_FROM_HOST; from++)
			FUZZ_CHECK((initchan__check_header(in.p + i, from) >= 0) == doc_header(in.p + i, from));
	for (size_t i = 0; i < in.n; i++) {
		initchan__byte(&c, in.p[i]);
		if (model_byte(&m, in.p[i]))
			check_codec(m.hdr, m.payload, hdr_len(m.hdr));
	}
	FUZZ_CHECK(got.n == want.n && !memcmp(got.b, want.b, got.n));
	FUZZ_CHECK(c.broken == m.broken);
	return 0;
}
