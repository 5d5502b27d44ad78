/* Init channel decoding (docs/init-channel.md): frames, and hostile input. */
#include <string.h>

#include "tap.h"
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
	return done_testing();
}
