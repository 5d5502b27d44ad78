/*
 * libFuzzer: the router's request-head parser (src/router/http-head.c,
 * RFC 9112 §2-§5).  The input is a limit, a read size and the client's
 * bytes; the head is fed as reads would deliver it, and must come out as
 * it does when the same bytes are fed at once (the parser is resumable).
 * A DONE head lies inside the buffer and the limit, ends in CRLF CRLF,
 * and its method and target are where the request line says; BAD and
 * TOO_BIG say why.
 */
#include "fuzz.h"
#include "router/http-head.h"

static bool tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void check_done(const struct http_head *h, const char *buf, size_t len, size_t max)
{
	size_t m = h->method_len, t = h->target, tl = h->target_len;

	FUZZ_CHECK(h->len >= 4 && h->len <= len && h->len <= max && !memcmp(buf + h->len - 4, "\r\n\r\n", 4));
	FUZZ_CHECK(h->method == 0 && m >= 1 && m < 32 && t == m + 1 && buf[m] == ' ');
	for (size_t i = 0; i < m; i++)
		FUZZ_CHECK(tchar((unsigned char)buf[i]));
	FUZZ_CHECK(tl >= 1 && t + tl + 9 < h->len && buf[t + tl] == ' ');
	for (size_t i = t; i < t + tl; i++)
		FUZZ_CHECK((unsigned char)buf[i] > 0x20 && (unsigned char)buf[i] < 0x7f);
	FUZZ_CHECK(!memcmp(buf + t + tl + 1, "HTTP/1.", 7) && h->minor == buf[t + tl + 8] - '0');
	FUZZ_CHECK(h->minor >= 0 && h->minor <= 9 && buf[t + tl + 9] == '\r');
	FUZZ_CHECK(http_head__is(h, buf, "/") ==
		   (((m == 3 && !memcmp(buf, "GET", 3)) || (m == 4 && !memcmp(buf, "HEAD", 4))) &&
		    buf[t] == '/' && (tl == 1 || buf[t + 1] == '?')));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	size_t step = fuzz_u8(&in), max = 8 + fuzz_u16(&in) % 8192, len = 0;
	const char *buf = (const char *)in.p;
	struct http_head h, once;
	enum http_head_result r = HTTP_HEAD_MORE, r1;
	char *copy;

	step = step ? step : in.n;		/* 0: everything in one read */
	http_head__init(&h);
	while (r == HTTP_HEAD_MORE && len < in.n) {
		len = in.n - len < step ? in.n : len + step;
		r = http_head__feed(&h, buf, len, max);
	}
	/* the same bytes at once, from an exactly sized copy (so ASan sees any over-read) */
	copy = malloc(len ? len : 1);
	FUZZ_CHECK(copy);
	memcpy(copy, buf, len);
	http_head__init(&once);
	r1 = http_head__feed(&once, copy, len, max);
	FUZZ_CHECK(r1 == r);
	if (r == HTTP_HEAD_DONE) {
		FUZZ_CHECK(once.len == h.len && once.method_len == h.method_len && once.target == h.target &&
			   once.target_len == h.target_len && once.minor == h.minor);
		check_done(&once, copy, len, max);
	} else if (r != HTTP_HEAD_MORE) {
		FUZZ_CHECK(h.why && once.why);
	}
	free(copy);
	return 0;
}
