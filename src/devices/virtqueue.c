#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/virtqueue.h"

/* virtio 1.1 §2.6.5 - 2.6.8, with the layouts spelled out */
#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2
#define VRING_DESC_F_INDIRECT	4
#define VRING_AVAIL_F_NO_INTERRUPT 1

struct vring_desc_raw {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail_raw {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vring_used_elem_raw {
	uint32_t id;
	uint32_t len;
};

struct vring_used_raw {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem_raw ring[];
};

int virtq__enable(struct virtq *q)
{
	if (q->num == 0 || q->num > VIRTQ_MAX_SIZE || (q->num & (q->num - 1)))
		return -EINVAL;
	q->desc = vm__gpa(q->vm, q->desc_gpa, 16ULL * q->num);
	q->avail = vm__gpa(q->vm, q->avail_gpa, 6 + 2ULL * q->num);
	q->used = vm__gpa(q->vm, q->used_gpa, 6 + 8ULL * q->num);
	if (!q->desc || !q->avail || !q->used || (q->desc_gpa & 15) || (q->avail_gpa & 1) ||
	    (q->used_gpa & 3))
		return -EINVAL;
	q->ready = true;
	return 0;
}

void virtq__reset(struct virtq *q)
{
	struct vm *vm = q->vm;

	memset(q, 0, sizeof(*q));
	q->vm = vm;
}

static int add_seg(struct virtq_chain *c, const struct vring_desc_raw *d, void *hva)
{
	bool writable = d->flags & VRING_DESC_F_WRITE;

	if (!writable && c->nr_in)		/* readable after writable: §2.6.4.2 */
		return -1;
	if (writable) {
		if (c->nr_in == CHAIN_MAX_SEGS)
			return -1;
		c->in[c->nr_in++] = (struct iovec){ hva, d->len };
	} else {
		if (c->nr_out == CHAIN_MAX_SEGS)
			return -1;
		c->out[c->nr_out++] = (struct iovec){ hva, d->len };
	}
	return 0;
}

static int walk_chain(struct virtq *q, struct virtq_chain *c, char *why, size_t whylen)
{
	uint16_t i = c->head;

	/* at most num descriptors: a longer chain must contain a loop */
	for (int n = 0; n < q->num; n++) {
		struct vring_desc_raw d;
		void *hva;

		memcpy(&d, &q->desc[i], sizeof(d));	/* one snapshot: the guest may change it */
		if (d.flags & VRING_DESC_F_INDIRECT) {
			snprintf(why, whylen, "indirect descriptor (not negotiated)");
			return -EINVAL;
		}
		hva = vm__gpa(q->vm, d.addr, d.len);
		if (!hva) {
			snprintf(why, whylen, "descriptor %u: %#llx+%u is outside guest RAM", i,
				 (unsigned long long)d.addr, d.len);
			return -EINVAL;
		}
		if (add_seg(c, &d, hva) < 0) {
			snprintf(why, whylen, "descriptor %u: too many segments or readable after writable", i);
			return -EINVAL;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 1;
		if (d.next >= q->num) {
			snprintf(why, whylen, "descriptor %u: next %u out of range", i, d.next);
			return -EINVAL;
		}
		i = d.next;
	}
	snprintf(why, whylen, "descriptor chain from %u loops", c->head);
	return -EINVAL;
}

int virtq__pop(struct virtq *q, struct virtq_chain *c, char *why, size_t whylen)
{
	uint16_t avail_idx, head;

	if (!q->ready)
		return 0;
	avail_idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->num) {
		snprintf(why, whylen, "available index jumped from %u to %u (queue size %u)",
			 q->last_avail, avail_idx, q->num);
		return -EIO;
	}
	head = q->avail->ring[q->last_avail % q->num];
	q->last_avail++;
	c->nr_in = c->nr_out = 0;
	c->head = head;
	if (head >= q->num) {
		snprintf(why, whylen, "head descriptor %u out of range", head);
		c->head = 0;
		return -EIO;
	}
	return walk_chain(q, c, why, whylen);
}

void virtq__push(struct virtq *q, uint16_t head, uint32_t len)
{
	struct vring_used_elem_raw *e = &q->used->ring[q->used_idx % q->num];

	e->id = head;
	e->len = len;
	q->used_idx++;
	__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
}

bool virtq__should_notify(struct virtq *q)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED) & VRING_AVAIL_F_NO_INTERRUPT);
}

int chain__pull(struct virtq_chain *c, void *buf, size_t len)
{
	uint8_t *dst = buf;
	int i = 0;

	if (chain__out_len(c) < len)
		return -1;
	while (len) {
		size_t n = c->out[i].iov_len < len ? c->out[i].iov_len : len;

		memcpy(dst, c->out[i].iov_base, n);
		dst += n;
		len -= n;
		c->out[i].iov_base = (uint8_t *)c->out[i].iov_base + n;
		c->out[i].iov_len -= n;
		if (c->out[i].iov_len == 0)
			i++;
	}
	memmove(c->out, c->out + i, (c->nr_out - i) * sizeof(c->out[0]));
	c->nr_out -= i;
	return 0;
}

uint8_t *chain__take_tail(struct virtq_chain *c, size_t len)
{
	struct iovec *last;

	if (c->nr_in == 0)
		return NULL;
	last = &c->in[c->nr_in - 1];
	if (last->iov_len < len)
		return NULL;
	last->iov_len -= len;
	if (last->iov_len == 0)
		c->nr_in--;
	return (uint8_t *)last->iov_base + last->iov_len;
}

static size_t iov_total(const struct iovec *v, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += v[i].iov_len;
	return t;
}

size_t chain__in_len(const struct virtq_chain *c)
{
	return iov_total(c->in, c->nr_in);
}

size_t chain__out_len(const struct virtq_chain *c)
{
	return iov_total(c->out, c->nr_out);
}
