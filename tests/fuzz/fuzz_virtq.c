/*
 * libFuzzer: the virtqueue descriptor walk (src/devices/virtqueue.c), the
 * one place guest descriptors become host iovecs.  The input is a queue
 * size, a descriptor table and an available ring in fake guest RAM; the
 * harness pops every chain, pulls and takes tails, pushes, and checks each
 * result against its own walk of the same table (virtio 1.1 §2.6.5):
 * the iovecs it accepts, the chains it refuses, and the used ring it fills.
 */
#include <errno.h>

#include "devices/virtqueue.h"
#include "fuzzvm.h"

#define RAM	0x10000
#define DESC	0x0000
#define AVAIL	0x1000
#define USED	0x2000
#define F_NEXT	1
#define F_WRITE	2
#define F_INDIRECT 4

static struct vm *vm;

/* The walk as the spec says it: the chain's segments or -1. */
struct model {
	int nr_out, nr_in;
	struct iovec out[CHAIN_MAX_SEGS], in[CHAIN_MAX_SEGS];
};

static int model_seg(struct model *m, const struct fz_desc *d)
{
	void *hva = vm__gpa(vm, d->addr, d->len);

	if (!hva || (d->flags & F_INDIRECT))
		return -1;
	if (d->flags & F_WRITE) {
		if (m->nr_in == CHAIN_MAX_SEGS)
			return -1;
		m->in[m->nr_in++] = (struct iovec){ hva, d->len };
		return 0;
	}
	if (m->nr_in || m->nr_out == CHAIN_MAX_SEGS)
		return -1;
	m->out[m->nr_out++] = (struct iovec){ hva, d->len };
	return 0;
}

static int model_walk(uint16_t num, uint16_t head, struct model *m)
{
	const uint8_t *table = vm->regions[0].hva + DESC;
	uint16_t i = head;

	m->nr_out = m->nr_in = 0;
	for (int steps = 0; steps < num; steps++) {
		struct fz_desc d;

		memcpy(&d, table + 16 * i, sizeof(d));
		if (model_seg(m, &d) < 0)
			return -1;
		if (!(d.flags & F_NEXT))
			return 0;
		if (d.next >= num)
			return -1;
		i = d.next;
	}
	return -1;			/* num steps without an end: a loop */
}

static bool same_iovs(const struct iovec *a, const struct iovec *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i].iov_base != b[i].iov_base || a[i].iov_len != b[i].iov_len)
			return false;
	return true;
}

static bool in_ram(const struct iovec *v, int n)
{
	const uint8_t *lo = vm->regions[0].hva, *hi = lo + RAM;

	for (int i = 0; i < n; i++)
		if ((uint8_t *)v[i].iov_base < lo || v[i].iov_len > (size_t)(hi - (uint8_t *)v[i].iov_base))
			return false;
	return true;
}

/* chain__pull must hand out the first len readable bytes, in order. */
static void check_pull(struct virtq_chain *c, const struct model *m, size_t len)
{
	static uint8_t got[RAM], want[RAM];
	size_t before = chain__out_len(c), at = 0;

	if (len > sizeof(got))
		len = sizeof(got);
	if (chain__pull(c, got, len) < 0) {
		FUZZ_CHECK(len > before);
		return;
	}
	FUZZ_CHECK(len <= before && chain__out_len(c) == before - len);
	for (int i = 0; i < m->nr_out && at < len; i++) {
		size_t k = m->out[i].iov_len < len - at ? m->out[i].iov_len : len - at;

		memcpy(want + at, m->out[i].iov_base, k);
		at += k;
	}
	FUZZ_CHECK(at == len && !memcmp(got, want, len));
}

static void check_tail(struct virtq_chain *c, size_t len)
{
	struct iovec last;
	size_t before = chain__in_len(c);
	uint8_t *t;

	if (!c->nr_in) {
		FUZZ_CHECK(!chain__take_tail(c, len));
		return;
	}
	last = c->in[c->nr_in - 1];
	t = chain__take_tail(c, len);
	FUZZ_CHECK(!t == (last.iov_len < len));
	if (t) {
		FUZZ_CHECK(t == (uint8_t *)last.iov_base + last.iov_len - len);
		FUZZ_CHECK(chain__in_len(c) == before - len);
	}
}

/* The used element the device wrote is the one it was told to, and idx moved. */
static void check_push(struct virtq *q, uint16_t head, uint32_t len)
{
	const uint8_t *used = vm->regions[0].hva + USED;
	uint16_t idx, slot;
	uint32_t id, l;

	virtq__push(q, head, len);
	memcpy(&idx, used + 2, 2);
	FUZZ_CHECK(idx == q->used_idx);
	slot = (uint16_t)(idx - 1) % q->num;
	memcpy(&id, used + 4 + 8 * slot, 4);
	memcpy(&l, used + 8 + 8 * slot, 4);
	FUZZ_CHECK(id == head && l == len);
}

/* One pop, checked against the model; false once the queue is empty or dead. */
static bool pop_one(struct virtq *q, struct fuzz_in *in)
{
	uint16_t avail_idx, head, want_head = 0;
	struct virtq_chain c;
	struct model m;
	char why[160];
	bool jump;
	int r, mr;

	memcpy(&avail_idx, vm->regions[0].hva + AVAIL + 2, 2);
	if (avail_idx == q->last_avail) {
		FUZZ_CHECK(virtq__pop(q, &c, why, sizeof(why)) == 0);
		return false;
	}
	jump = (uint16_t)(avail_idx - q->last_avail) > q->num;
	memcpy(&want_head, vm->regions[0].hva + AVAIL + 4 + 2 * (q->last_avail % q->num), 2);
	r = virtq__pop(q, &c, why, sizeof(why));
	if (jump || want_head >= q->num) {
		FUZZ_CHECK(r == -EIO);
		return false;
	}
	head = want_head;
	mr = model_walk(q->num, head, &m);
	FUZZ_CHECK(c.head == head);
	if (mr < 0) {
		FUZZ_CHECK(r == -EINVAL && why[0]);
		check_push(q, c.head, 0);
		return true;
	}
	FUZZ_CHECK(r == 1 && c.nr_out == m.nr_out && c.nr_in == m.nr_in);
	FUZZ_CHECK(same_iovs(c.out, m.out, m.nr_out) && same_iovs(c.in, m.in, m.nr_in));
	FUZZ_CHECK(in_ram(c.out, c.nr_out) && in_ram(c.in, c.nr_in));
	check_tail(&c, fuzz_u8(in) % 4);
	check_pull(&c, &m, fuzz_u16(in));
	check_push(q, c.head, (uint32_t)chain__in_len(&c));
	return true;
}

/* Queue size and ring addresses: mostly the sane layout, sometimes the input's. */
static bool setup(struct virtq *q, struct fuzz_in *in)
{
	uint8_t sel = fuzz_u8(in);
	uint16_t start = fuzz_u16(in);
	int r;

	virtq__reset(q);
	q->num = (uint16_t)(1u << (sel % 9));		/* 1 .. 256: all fit below AVAIL */
	q->desc_gpa = DESC;
	q->avail_gpa = AVAIL;
	q->used_gpa = USED;
	if (sel & 0x80) {
		q->num = fuzz_u16(in);
		q->desc_gpa = fuzz_u64(in);
		q->avail_gpa = fuzz_u64(in);
		q->used_gpa = fuzz_u64(in);
	}
	q->last_avail = q->used_idx = start;		/* as a restored queue may be */
	r = virtq__enable(q);
	if (r == 0) {
		FUZZ_CHECK(q->num && q->num <= VIRTQ_MAX_SIZE && !(q->num & (q->num - 1)));
		FUZZ_CHECK(vm__gpa(vm, q->desc_gpa, 16ULL * q->num) && !(q->desc_gpa & 15));
		FUZZ_CHECK(vm__gpa(vm, q->avail_gpa, 6 + 2ULL * q->num) && !(q->avail_gpa & 1));
		FUZZ_CHECK(vm__gpa(vm, q->used_gpa, 6 + 8ULL * q->num) && !(q->used_gpa & 3));
	}
	/* only the fixed layout is popped: the model reads the table at DESC */
	return r == 0 && q->desc_gpa == DESC && q->avail_gpa == AVAIL && q->used_gpa == USED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct virtq q = { 0 };
	uint8_t *ram;

	if (!vm)
		vm = fakevm_new(RAM);
	ram = vm->regions[0].hva;
	memset(ram, 0, RAM);
	q.vm = vm;
	if (!setup(&q, &in))
		return 0;
	fuzz_take(&in, ram + DESC, 16 * (size_t)q.num);
	fuzz_take(&in, ram + AVAIL, 4 + 2 * (size_t)q.num);
	fuzz_take(&in, ram + 0x3000, in.n < RAM - 0x3000 ? in.n : RAM - 0x3000);
	FUZZ_CHECK(virtq__should_notify(&q) == !(ram[AVAIL] & 1));
	for (int n = 0; n <= q.num && pop_one(&q, &in); n++)
		FUZZ_CHECK(n < q.num);		/* a ring holds at most num new chains */
	return 0;
}
