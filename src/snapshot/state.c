#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/state.h"

struct section_hdr {
	uint32_t tag;
	uint32_t index;
	uint64_t len;
};

#define HDR_LEN 16		/* magic[8], u32 version, u32 reserved */

static void put(struct state_buf *b, const void *data, size_t len)
{
	if (b->err)
		return;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		uint8_t *np;

		while (cap < b->len + len)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

void state__init(struct state_buf *b)
{
	uint32_t ver[2] = { STATE_VERSION, 0 };

	memset(b, 0, sizeof(*b));
	put(b, STATE_MAGIC, 8);
	put(b, ver, sizeof(ver));
}

void state__free(struct state_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void state__add(struct state_buf *b, uint32_t tag, uint32_t index, const void *data, size_t len)
{
	struct section_hdr h = { tag, index, len };
	static const uint8_t pad[8];

	put(b, &h, sizeof(h));
	put(b, data, len);
	put(b, pad, (8 - len % 8) % 8);		/* keep sections 8-byte aligned */
}

int state__check(const struct state_view *v, char *why, size_t whylen)
{
	uint32_t ver;
	size_t off = HDR_LEN;

	if (v->len < HDR_LEN || memcmp(v->p, STATE_MAGIC, 8)) {
		snprintf(why, whylen, "not a state file (bad magic)");
		return -EINVAL;
	}
	memcpy(&ver, v->p + 8, 4);
	if (ver != STATE_VERSION) {
		snprintf(why, whylen, "state format version %u, this sm reads %d", ver, STATE_VERSION);
		return -EINVAL;
	}
	while (off < v->len) {
		struct section_hdr h;

		if (v->len - off < sizeof(h)) {
			snprintf(why, whylen, "truncated section header at %zu", off);
			return -EINVAL;
		}
		memcpy(&h, v->p + off, sizeof(h));
		off += sizeof(h);
		if (h.len > v->len - off || (8 - h.len % 8) % 8 > v->len - off - h.len) {
			snprintf(why, whylen, "section %u/%u runs past the end of the file", h.tag, h.index);
			return -EINVAL;
		}
		off += h.len + (8 - h.len % 8) % 8;
	}
	return 0;
}

const void *state__find(const struct state_view *v, uint32_t tag, uint32_t index, size_t *len)
{
	size_t off = HDR_LEN;

	while (off + sizeof(struct section_hdr) <= v->len) {
		struct section_hdr h;

		memcpy(&h, v->p + off, sizeof(h));
		off += sizeof(h);
		if (h.len > v->len - off)
			return NULL;
		if (h.tag == tag && h.index == index) {
			*len = h.len;
			return v->p + off;
		}
		off += h.len + (8 - h.len % 8) % 8;
	}
	return NULL;
}

int state__get(const struct state_view *v, uint32_t tag, uint32_t index, void *out, size_t len)
{
	size_t have;
	const void *p = state__find(v, tag, index, &have);

	if (!p)
		return -ENOENT;
	if (have != len)
		return -EINVAL;
	memcpy(out, p, len);
	return 0;
}
