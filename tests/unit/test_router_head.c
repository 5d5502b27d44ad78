/* The router's request-head parser (src/router/http-head.c, docs/router.md
 * "Request heads"): complete heads, byte-at-a-time feeding, and every way a
 * client's head is refused (400) or too large (431). */
#include <stdio.h>
#include <string.h>

#include "router/http-head.h"
#include "tap.h"

static enum http_head_result parse(const char *s, size_t max, struct http_head *h)
{
	http_head__init(h);
	return http_head__feed(h, s, strlen(s), max);
}

static void complete_heads(void)
{
	struct http_head h;
	const char *req = "GET /_health?x=1 HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\nBODY";

	is(parse(req, 16384, &h), HTTP_HEAD_DONE, "a complete head");
	is(h.len, strlen(req) - 4, "its length stops at the blank line");
	is(h.minor, 1, "HTTP/1.1");
	ok(h.method_len == 3 && !memcmp(req + h.method, "GET", 3), "method");
	ok(h.target_len == 12 && !memcmp(req + h.target, "/_health?x=1", 12), "target");
	ok(http_head__is(&h, req, "/_health"), "is /_health (a query is allowed)");
	ok(!http_head__is(&h, req, "/_heal"), "a prefix is not the path");
	is(parse("POST /_health HTTP/1.0\r\n\r\n", 16384, &h), HTTP_HEAD_DONE, "POST head");
	ok(!http_head__is(&h, "POST /_health HTTP/1.0\r\n\r\n", "/_health"), "POST /_health is the workload's");
	is(parse("HEAD /_health HTTP/1.0\r\n\r\n", 16384, &h), HTTP_HEAD_DONE, "HEAD head");
	ok(http_head__is(&h, "HEAD /_health HTTP/1.0\r\n\r\n", "/_health"), "HEAD /_health is ours");
}

static void byte_at_a_time(void)
{
	const char *req = "GET /a/b HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
	struct http_head h;
	size_t n = strlen(req), i;
	int r = HTTP_HEAD_MORE;

	http_head__init(&h);
	for (i = 1; i <= n && r == HTTP_HEAD_MORE; i++)
		r = http_head__feed(&h, req, i, 16384);
	is(r, HTTP_HEAD_DONE, "fed one byte at a time");
	is(i - 1, n, "done exactly at the last byte");
	is(h.len, n, "length");
	http_head__init(&h);
	is(http_head__feed(&h, "GET / HTTP/1.1\r\nHo", 18, 16384), HTTP_HEAD_MORE, "half a header: more");
}

static void bad_heads(void)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\nHost: a\n\n",			/* bare LF */
		"GET / HTTP/1.1\r\nHost: a\n\r\n",		/* bare LF in a header */
		"GET / HTTP/1.1\r\nHo\rst: a\r\n\r\n",		/* bare CR */
		"G(T / HTTP/1.1\r\n\r\n",			/* method not a token */
		"GET  / HTTP/1.1\r\n\r\n",			/* two spaces */
		"GET / HTTP/2.0\r\n\r\n",			/* not HTTP/1.x */
		"GET / HTTP/1.1 \r\n\r\n",			/* trailing space */
		"GET /\x01 HTTP/1.1\r\n\r\n",			/* control byte in the target */
		"GET / HTTP/1.1\r\n folded\r\n\r\n",		/* obs-fold */
		"GET / HTTP/1.1\r\nNo colon\r\n\r\n",		/* header without ':' */
		"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",		/* control byte in a value */
		"\r\nGET / HTTP/1.1\r\n\r\n",			/* empty request line */
		"\x16\x03\x01\x02",				/* a TLS hello: refused at once */
		"GETGETGETGETGETGETGETGETGETGETGETGET",	/* no method is this long */
	};
	struct http_head h;
	char name[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(name, sizeof(name), "bad head %zu is refused (400)", i);
		is(parse(bad[i], 16384, &h), HTTP_HEAD_BAD, name);
		ok(h.why != NULL, "with a reason");
	}
	/* refused as soon as the bad line is complete, before the head is */
	is(parse("GET / HTTP/1.1\nHost", 16384, &h), HTTP_HEAD_BAD, "early: a bare LF ends it at once");
}

static void too_big(void)
{
	static char big[20000];
	struct http_head h;
	size_t n;

	n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: ");
	memset(big + n, 'a', sizeof(big) - n - 1);
	is(parse(big, 16384, &h), HTTP_HEAD_TOO_BIG, "no end within 16 KiB: 431");
	http_head__init(&h);
	is(http_head__feed(&h, big, 100, 100), HTTP_HEAD_TOO_BIG, "a full buffer without a head: 431");
	n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_HEAD_MAX_LINES + 1; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X: y\r\n");
	snprintf(big + n, sizeof(big) - n, "\r\n");
	is(parse(big, 16384, &h), HTTP_HEAD_TOO_BIG, "too many header lines: 431");
	is(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, &h), HTTP_HEAD_DONE, "exactly max bytes is fine");
	is(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 26, &h), HTTP_HEAD_TOO_BIG, "one over max is not");
}

int main(void)
{
	complete_heads();
	byte_at_a_time();
	bad_heads();
	too_big();
	return done_testing();
}
