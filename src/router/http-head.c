/* HTTP/1.x request heads, strictly: see http-head.h. */
#include <string.h>

#include "router/http-head.h"

#define METHOD_MAX	32		/* longer than any registered method */

void http_head__init(struct http_head *h)
{
	memset(h, 0, sizeof(*h));
}

/* RFC 9110 §5.6.2 tchar */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static size_t token_len(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	return i;
}

static enum http_head_result bad(struct http_head *h, const char *why)
{
	h->why = why;
	return HTTP_HEAD_BAD;
}

/* method SP request-target SP HTTP/1.D  (RFC 9112 §3) */
static enum http_head_result request_line(struct http_head *h, const char *p, size_t n)
{
	size_t m = token_len(p, n), t = m + 1, tl = 0;

	if (m == 0 || m >= n || m >= METHOD_MAX || p[m] != ' ')
		return bad(h, "bad method in the request line");
	while (t + tl < n && (unsigned char)p[t + tl] > 0x20 && (unsigned char)p[t + tl] < 0x7f)
		tl++;
	if (tl == 0 || t + tl >= n || p[t + tl] != ' ')
		return bad(h, "bad request target");
	if (n - (t + tl + 1) != 8 || memcmp(p + t + tl + 1, "HTTP/1.", 7) ||
	    p[n - 1] < '0' || p[n - 1] > '9')
		return bad(h, "not an HTTP/1.x request line");
	h->method_len = m;
	h->target = t;
	h->target_len = tl;
	h->minor = p[n - 1] - '0';
	return HTTP_HEAD_MORE;
}

/* field-name ":" OWS field-value OWS  (RFC 9112 §5); no obs-fold */
static enum http_head_result header_line(struct http_head *h, const char *p, size_t n)
{
	size_t k = token_len(p, n);

	if (n && (p[0] == ' ' || p[0] == '\t'))
		return bad(h, "obsolete line folding");
	if (k == 0 || k >= n || p[k] != ':')
		return bad(h, "bad header field name");
	for (size_t i = k + 1; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return bad(h, "control character in a header value");
	}
	return HTTP_HEAD_MORE;
}

/* One line without its CRLF, starting at offset `at`. */
static enum http_head_result one_line(struct http_head *h, const char *buf, size_t at, size_t n)
{
	enum http_head_result r;

	if (h->lines == 1) {		/* offsets are relative to the line until here */
		r = request_line(h, buf + at, n);
		h->method = at;
		h->target += at;
		return r;
	}
	return header_line(h, buf + at, n);
}

/* The request line's method, while it is still arriving: a TLS hello or
 * other binary junk is refused at its first byte, not after 16 KiB. */
static enum http_head_result early_method(struct http_head *h, const char *buf, size_t len)
{
	size_t n = len < METHOD_MAX ? len : METHOD_MAX, m = token_len(buf, n);

	if (m < n && buf[m] != ' ')
		return bad(h, "bad method in the request line");
	if (m == METHOD_MAX)
		return bad(h, "method too long");
	return HTTP_HEAD_MORE;
}

enum http_head_result http_head__feed(struct http_head *h, const char *buf, size_t len, size_t max)
{
	for (;;) {
		const char *nl = h->scan < len ? memchr(buf + h->scan, '\n', len - h->scan) : NULL;
		size_t end, n;
		enum http_head_result r;

		if (!nl) {
			h->scan = len;
			if (h->lines == 0 && early_method(h, buf, len) == HTTP_HEAD_BAD)
				return HTTP_HEAD_BAD;
			if (len >= max) {
				h->why = "request head too large";
				return HTTP_HEAD_TOO_BIG;
			}
			return HTTP_HEAD_MORE;
		}
		end = (size_t)(nl - buf);
		if (end + 1 > max) {
			h->why = "request head too large";
			return HTTP_HEAD_TOO_BIG;
		}
		if (end == h->line || buf[end - 1] != '\r')
			return bad(h, "a line not ended by CRLF");
		n = end - 1 - h->line;
		if (memchr(buf + h->line, '\r', n))
			return bad(h, "a bare CR");
		if (n == 0 && h->lines > 0) {
			h->len = end + 1;
			return HTTP_HEAD_DONE;
		}
		if (n == 0 || ++h->lines > HTTP_HEAD_MAX_LINES) {
			h->why = n ? "too many header lines" : "empty request line";
			return n ? HTTP_HEAD_TOO_BIG : HTTP_HEAD_BAD;
		}
		r = one_line(h, buf, h->line, n);
		if (r != HTTP_HEAD_MORE)
			return r;
		h->line = h->scan = end + 1;
	}
}

bool http_head__is(const struct http_head *h, const char *buf, const char *path)
{
	size_t pl = strlen(path);
	const char *m = buf + h->method, *t = buf + h->target;
	bool get = (h->method_len == 3 && !memcmp(m, "GET", 3)) || (h->method_len == 4 && !memcmp(m, "HEAD", 4));

	return get && h->target_len >= pl && !memcmp(t, path, pl) &&
	       (h->target_len == pl || t[pl] == '?');
}
