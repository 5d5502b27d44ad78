#ifndef SM_NET_HTTP_HEAD_H
#define SM_NET_HTTP_HEAD_H
/*
 * The router's HTTP/1.x request-head parser (RFC 9112 §2–§5), resumable:
 * call http_head__feed with the whole buffer read so far after every read;
 * it continues where the last call stopped, so a head sent one byte at a
 * time costs O(n), not O(n²).  Strict on purpose: CRLF line ends only, no
 * obs-fold, no control bytes, tokens where tokens belong.  Every byte comes
 * from an untrusted client and the head never exceeds `max` bytes.
 */
#include <stdbool.h>
#include <stddef.h>

#define HTTP_HEAD_MAX_LINES	128	/* request line + headers */

enum http_head_result {
	HTTP_HEAD_MORE = 0,	/* incomplete: read more */
	HTTP_HEAD_DONE = 1,	/* complete head of `len` bytes */
	HTTP_HEAD_BAD = -1,	/* malformed: answer 400 */
	HTTP_HEAD_TOO_BIG = -2,	/* no complete head within max (or too many lines): 431 */
};

struct http_head {
	/* parser state */
	size_t line;		/* offset where the current line starts */
	size_t scan;		/* where to resume looking for its '\n' */
	unsigned lines;
	/* results (offsets into the buffer, valid once DONE) */
	size_t len;		/* the head's length, blank line included */
	size_t method, method_len, target, target_len;
	int minor;		/* HTTP/1.<minor> */
	const char *why;	/* for BAD / TOO_BIG: what was wrong, for the log */
};

void http_head__init(struct http_head *h);
enum http_head_result http_head__feed(struct http_head *h, const char *buf, size_t len, size_t max);
/* Is the parsed request `GET|HEAD <path>` with exactly that path (query allowed)? */
bool http_head__is(const struct http_head *h, const char *buf, const char *path);
#endif
