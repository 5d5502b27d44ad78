/* See framebuf.h. */
#include <stdlib.h>
#include <string.h>

#include "agent-proto.h"
#include "framebuf.h"

#define FRAMEBUF_MIN	4096

/* Room for need bytes in all, growing by doubling (at most to max). */
static bool reserve(struct framebuf *b, size_t need, size_t max)
{
	size_t cap = b->cap ? b->cap : FRAMEBUF_MIN;
	uint8_t *p;

	if (need > max)
		return false;
	if (need <= b->cap)
		return true;
	while (cap < need)
		cap *= 2;
	if (cap > max)
		cap = max;
	p = realloc(b->p, cap);
	if (!p)
		return false;
	b->p = p;
	b->cap = cap;
	return true;
}

bool framebuf__add(struct framebuf *b, const void *data, size_t n, size_t max)
{
	if (!reserve(b, b->len + n, max))
		return false;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	return true;
}

bool framebuf__add_frame(struct framebuf *b, int type, const void *payload, uint32_t len, size_t max)
{
	if (!reserve(b, b->len + AGENT_HDR_LEN + len, max))
		return false;
	agent_hdr__encode(b->p + b->len, type, len);
	if (len)
		memcpy(b->p + b->len + AGENT_HDR_LEN, payload, len);
	b->len += AGENT_HDR_LEN + len;
	return true;
}

uint8_t *framebuf__space(struct framebuf *b, size_t max, size_t *room)
{
	*room = 0;
	if (b->len >= max || !reserve(b, max, max))
		return NULL;
	*room = b->cap - b->len;
	return b->p + b->len;
}

void framebuf__commit(struct framebuf *b, size_t n)
{
	b->len += n <= b->cap - b->len ? n : b->cap - b->len;
}

void framebuf__drop(struct framebuf *b, size_t n)
{
	if (n > b->len)
		n = b->len;
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void framebuf__free(struct framebuf *b)
{
	free(b->p);
	*b = (struct framebuf){ 0 };
}
