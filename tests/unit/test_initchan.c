/* Init channel decoding (docs/init-channel.md): frames, and hostile input. */
#include <string.h>

#include "tap.h"
#include "vectors.h"
#include "vmm/initchan.h"

static int hellos, exits, errors_seen, exit_signaled, exit_value;
static char out[8192];
static size_t out_len;
static int last_stream;

static void on_hello(void *c, int v) { (void)c; (void)v; hellos++; }
static void on_output(void *c, int stream, const uint8_t *b, uint32_t n)
{
	(void)c;
	last_stream = stream;
	memcpy(out + out_len, b, n);
	out_len += n;
}
static void on_exit(void *c, bool sig, int v) { (void)c; exits++; exit_signaled = sig; exit_value = v; }
static void on_error(void *c, const char *why) { (void)c; (void)why; errors_seen++; }
static int prepareds;
static void on_prepared(void *ctx)
{
	(void)ctx;
	prepareds++;
}

static const struct initchan_ops ops = { on_hello, on_output, on_exit, NULL, on_error, on_prepared };

static void feed(struct initchan *c, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		initchan__byte(c, b[i]);
}

/* The shared codec (net/initchan-proto.c), as the guest uses it too. */
static void proto_checks(void)
{
	const uint8_t config_from_guest[] = { IC_CONFIG, 0, 0, 0 }, hello_from_host[] = { IC_HELLO, 0, 1, 0 };
	const uint8_t flags[] = { IC_TIME, 1, 12, 0 }, big[] = { IC_CONFIG, 0, 0x01, 0x10 }, max[] = { IC_CONFIG, 0, 0, 0x10 };
	uint8_t f[INITCHAN_TIME_FRAME];		/* the larger of the EXIT and TIME frames */
	int64_t sec;
	uint32_t nsec;
	bool sig;
	int32_t v;

	ok(initchan__check_header(config_from_guest, IC_FROM_GUEST) < 0 &&
	   initchan__check_header(hello_from_host, IC_FROM_HOST) < 0, "each side refuses the other side's frame types");
	ok(initchan__check_header(flags, IC_FROM_HOST) < 0 && initchan__check_header(big, IC_FROM_HOST) < 0,
	   "flags set or a payload over 4096 bytes refused");
	is(initchan__check_header(max, IC_FROM_HOST), 4096, "a 4096-byte payload is the largest accepted");
	is((int)initchan__encode_exit(f, true, -3), 12, "EXIT frame is 12 bytes");
	ok(initchan__decode_exit(f + 4, 8, &sig, &v) == 0 && sig && v == -3, "EXIT frame decodes to what was encoded");
	f[4] = 2;
	ok(initchan__decode_exit(f + 4, 8, &sig, &v) < 0, "EXIT kind 2 refused");
	initchan__encode_time(f, 7, 999999999u);
	ok(initchan__decode_time(f + 4, 12, &sec, &nsec) == 0 && sec == 7 && nsec == 999999999u, "TIME round trip");
	initchan__encode_time(f, 7, 1000000000u);
	ok(initchan__decode_time(f + 4, 12, &sec, &nsec) < 0, "TIME with nsec >= 1e9 refused");
	ok(initchan__decode_time(f + 4, 11, &sec, &nsec) < 0, "TIME of the wrong length refused");
}

#define VEC "tests/vectors/initchan.txt"

/* tests/vectors/initchan.txt, written from docs/init-channel.md: what the
 * shared codec encodes is those bytes, and they decode back. */
static void vector_checks(void)
{
	static const char *const strs[] = { "/bin/sh", "-c", "HOME=/root", "vdb" };
	uint8_t f[INITCHAN_HDR_LEN + INITCHAN_MAX_PAYLOAD], seed[INITCHAN_SEED_BYTES], id[INITCHAN_WORKER_ID_BYTES];
	const uint8_t *s, *w;
	int64_t sec;
	uint32_t nsec;
	int n;

	for (int i = 0; i < INITCHAN_SEED_BYTES; i++)
		seed[i] = (uint8_t)i;
	for (int i = 0; i < INITCHAN_WORKER_ID_BYTES; i++)
		id[i] = (uint8_t)(0xa0 + i);
	ok(vector_same(f, (int)initchan__encode_hello(f), vector_hex(VEC, "hello")), "vector hello");
	ok(vector_same(f, (int)initchan__encode_exit(f, false, 7), vector_hex(VEC, "exit-7")), "vector exit-7");
	ok(vector_same(f, (int)initchan__encode_exit(f, true, 9), vector_hex(VEC, "exit-signal-9")), "vector exit-signal-9");
	initchan__encode_time(f, 1700000000, 123456789);
	ok(vector_same(f, INITCHAN_TIME_FRAME, vector_hex(VEC, "time")), "vector time");
	initchan__encode_entropy(f, seed, id);
	ok(vector_same(f, INITCHAN_ENTROPY_FRAME, vector_hex(VEC, "entropy")), "vector entropy");
	n = initchan__encode_config(f, "aaer", strs, 4);
	ok(n > 0 && vector_same(f, n, vector_hex(VEC, "config")), "vector config");
	initchan__put_header(f, IC_PREPARED, 0);
	ok(vector_same(f, INITCHAN_HDR_LEN, vector_hex(VEC, "prepared")), "vector prepared");

	n = vector_bytes(vector_hex(VEC, "time"), f, sizeof(f));
	ok(initchan__check_header(f, IC_FROM_HOST) == 12 &&
	   initchan__decode_time(f + 4, (size_t)n - 4, &sec, &nsec) == 0 && sec == 1700000000 && nsec == 123456789,
	   "vector time decodes (as guest init reads it)");
	n = vector_bytes(vector_hex(VEC, "entropy"), f, sizeof(f));
	ok(initchan__decode_entropy(f + 4, (size_t)n - 4, &s, &w) == 0 && !memcmp(s, seed, sizeof(seed)) &&
	   !memcmp(w, id, sizeof(id)), "vector entropy decodes");
}

/* The guest's frames from the vectors, through the VMM's decoder. */
static void vector_decode_checks(void)
{
	static struct initchan c;
	uint8_t f[64];
	int n, h = hellos, e = exits, p = prepareds;

	initchan__init(&c, &ops, NULL);
	out_len = 0;
	n = vector_bytes(vector_hex(VEC, "hello"), f, sizeof(f));
	feed(&c, f, (size_t)n);
	n = vector_bytes(vector_hex(VEC, "stdout"), f, sizeof(f));
	feed(&c, f, (size_t)n);
	ok(hellos == h + 1 && out_len == 6 && !memcmp(out, "hello\n", 6) && last_stream == 1,
	   "vectors hello and stdout decode in the VMM");
	n = vector_bytes(vector_hex(VEC, "exit-signal-9"), f, sizeof(f));
	feed(&c, f, (size_t)n);
	ok(exits == e + 1 && exit_signaled && exit_value == 9, "vector exit-signal-9 decodes: signal 9");
	n = vector_bytes(vector_hex(VEC, "prepared"), f, sizeof(f));
	feed(&c, f, (size_t)n);
	is(prepareds, p + 1, "vector prepared decodes");
}

/* A saved decoder state from a vm.state (docs/snapshot-format.md, tag 32),
 * restored as if the guest had sent it. */
static int restore_state(struct initchan *c, uint32_t have, const uint8_t *hdr)
{
	static struct initchan src;
	struct state_buf b;
	int r;

	memset(&src, 0, sizeof(src));
	src.have = have;
	memcpy(src.hdr, hdr, 4);
	state__init(&b);
	initchan__save(&src, &b);
	r = initchan__restore(c, &(struct state_view){ b.p, b.len });
	state__free(&b);
	return r;
}

static void restore_checks(void)
{
	static struct initchan c;
	const uint8_t stdout10[] = { IC_STDOUT, 0, 10, 0 }, stdout_big[] = { IC_STDOUT, 0, 0x01, 0x10 };
	const uint8_t config[] = { IC_CONFIG, 0, 10, 0 };

	initchan__init(&c, &ops, NULL);
	ok(restore_state(&c, 7, stdout10) == 0 && c.have == 7, "half a STDOUT frame restores");
	out_len = 0;
	feed(&c, (const uint8_t *)"xyzabcdefg", 7);
	ok(out_len == 10 && !memcmp(out + 3, "xyzabcd", 7), "... and its remaining bytes complete it");
	ok(restore_state(&c, 5, stdout_big) < 0 && c.have == 0,
	   "a saved header claiming more than 4096 bytes is refused (it would overrun payload[])");
	ok(restore_state(&c, 14, stdout10) < 0, "more bytes saved than the frame holds refused");
	ok(restore_state(&c, 4, config) < 0, "a header of a type the guest never sends refused");
	ok(restore_state(&c, 3, config) == 0, "a partial header restores (checked when its last byte comes)");
	ok(restore_state(&c, 4 + INITCHAN_MAX_PAYLOAD + 1, stdout_big) < 0, "have past the buffer refused");
}

int main(void)
{
	static struct initchan c;
	const uint8_t hello[] = { 1, 0, 1, 0, 2 };
	const uint8_t stdout_frame[] = { 2, 0, 6, 0, 'h', 'e', 'l', 'l', 'o', '\n' };
	const uint8_t stderr_frame[] = { 3, 0, 1, 0, 'x' };
	const uint8_t exit7[] = { 4, 0, 8, 0, 0, 0, 0, 0, 7, 0, 0, 0 };
	const uint8_t sig9[] = { 4, 0, 8, 0, 1, 0, 0, 0, 9, 0, 0, 0 };
	const uint8_t bad_type[] = { 9, 0, 0, 0 };
	const uint8_t too_long[] = { 2, 0, 0x01, 0x10 };	/* 4097 bytes */
	const uint8_t bad_exit[] = { 4, 0, 2, 0, 5, 5 };
	const uint8_t old_version[] = { 1, 0, 1, 0, 1 };
	const uint8_t prepared[] = { 8, 0, 0, 0 };
	const uint8_t bad_prepared[] = { 8, 0, 1, 0, 0 };

	initchan__init(&c, &ops, NULL);
	feed(&c, hello, sizeof(hello));
	is(hellos, 1, "hello frame");
	feed(&c, stdout_frame, sizeof(stdout_frame));
	ok(out_len == 6 && !memcmp(out, "hello\n", 6) && last_stream == 1, "stdout frame");
	feed(&c, stderr_frame, sizeof(stderr_frame));
	is(last_stream, 2, "stderr frame goes to stream 2");
	feed(&c, exit7, sizeof(exit7));
	ok(exits == 1 && !exit_signaled && exit_value == 7, "exit frame: exited 7");
	feed(&c, sig9, sizeof(sig9));
	ok(exits == 2 && exit_signaled && exit_value == 9, "exit frame: signal 9");

	feed(&c, bad_type, sizeof(bad_type));
	is(errors_seen, 1, "unknown frame type breaks the channel");
	feed(&c, hello, sizeof(hello));
	is(hellos, 1, "nothing is decoded after the channel broke");

	initchan__init(&c, &ops, NULL);
	feed(&c, too_long, sizeof(too_long));
	is(errors_seen, 2, "payload over 4096 bytes refused before buffering");
	initchan__init(&c, &ops, NULL);
	feed(&c, bad_exit, sizeof(bad_exit));
	ok(errors_seen == 3 && exits == 2, "malformed exit frame refused");
	initchan__init(&c, &ops, NULL);
	feed(&c, old_version, sizeof(old_version));
	ok(errors_seen == 4 && hellos == 1, "other channel version refused");
	initchan__init(&c, &ops, NULL);
	feed(&c, prepared, sizeof(prepared));
	is(prepareds, 1, "PREPARED frame (type 8, empty) is dispatched");
	feed(&c, bad_prepared, sizeof(bad_prepared));
	ok(errors_seen == 5 && prepareds == 1, "PREPARED frame with a payload refused");

	uint8_t e[INITCHAN_ENTROPY_FRAME], seed[32], id[16];

	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	for (int i = 0; i < 16; i++)
		id[i] = (uint8_t)(0xa0 + i);
	initchan__encode_entropy(e, seed, id);
	ok(e[0] == 9 && e[1] == 0 && e[2] == 48 && e[3] == 0 && !memcmp(e + 4, seed, 32) && !memcmp(e + 36, id, 16),
	   "ENTROPY frame: type 9, 48 bytes, seed[32] then worker id[16]");

	uint8_t t[INITCHAN_TIME_FRAME];
	const uint8_t want[] = { 7, 0, 12, 0, 0x00, 0xf2, 0x05, 0x2a, 0x01, 0, 0, 0, 0x15, 0xcd, 0x5b, 0x07 };

	initchan__encode_time(t, 5000000000LL, 123456789u);
	ok(sizeof(t) == sizeof(want) && !memcmp(t, want, sizeof(want)),
	   "TIME frame: type 7, 12 bytes, s64 sec + u32 nsec little endian");

	proto_checks();
	restore_checks();
	vector_checks();
	vector_decode_checks();
	return done_testing();
}
