/*
 * Page operations (pageops.h): whole-page clears and copies of guest RAM on
 * behalf of the guest kernel.  On kvm_pvm every guest kernel instruction is
 * emulated, so a page clear costs the guest ~160 µs and a copy ~265 µs; here
 * each is one port-I/O exit (~8 µs) and a host memset/memcpy.
 *
 * The mailbox and every range it names are guest input: the mailbox is
 * copied out once (another vCPU may be rewriting it), each range must lie
 * inside one RAM region, page aligned, with no overlap between source,
 * destination and the mailbox, or the request is refused untouched and the
 * guest does the work itself.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pageops.h"
#include "vmm/bus.h"

#define PAGE		4096ull

/* The mailbox as the guest lays it out (little endian, 64-byte aligned). */
struct box {
	uint32_t op;
	uint32_t count;
	uint64_t dst;
	uint64_t src;
	uint32_t status;
	uint32_t reserved;
};
_Static_assert(sizeof(struct box) == PAGEOPS_BOX_SIZE, "mailbox layout");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the mailbox is read in host order");

struct pageops {
	struct vm *vm;
	uint64_t done, refused;		/* vCPU threads add to them */
};

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;	/* no sum overflows: both ranges are in RAM */
}

/* The checks, in order; the host addresses of dst (and src) when they pass. */
static enum pageop_status check(struct vm *vm, uint64_t box_gpa, const struct box *b,
				uint8_t **dst, uint8_t **src)
{
	uint64_t len;

	if ((b->op != PAGEOP_CLEAR && b->op != PAGEOP_COPY) || b->reserved ||
	    (b->op == PAGEOP_CLEAR && b->src))
		return PAGEOP_EOP;
	if (b->count == 0 || b->count > PAGEOPS_MAX_PAGES)
		return PAGEOP_ECOUNT;
	if (b->dst % PAGE || b->src % PAGE)
		return PAGEOP_EALIGN;
	len = b->count * PAGE;
	*dst = vm__gpa(vm, b->dst, len);
	*src = b->op == PAGEOP_COPY ? vm__gpa(vm, b->src, len) : NULL;
	if (!*dst || (b->op == PAGEOP_COPY && !*src))
		return PAGEOP_ERANGE;
	if (overlaps(b->dst, len, box_gpa, PAGEOPS_BOX_SIZE) ||
	    (b->op == PAGEOP_COPY && overlaps(b->dst, len, b->src, len)))
		return PAGEOP_EOVERLAP;
	return PAGEOP_DONE;
}

enum pageop_status pageops__run(struct pageops *p, uint64_t box_gpa)
{
	uint8_t *hbox = vm__gpa(p->vm, box_gpa, PAGEOPS_BOX_SIZE), *dst = NULL, *src = NULL;
	enum pageop_status st;
	struct box b;

	if (!hbox || box_gpa % 8) {
		__atomic_add_fetch(&p->refused, 1, __ATOMIC_RELAXED);
		return PAGEOP_EBOX;
	}
	memcpy(&b, hbox, sizeof(b));		/* once: the guest may change it meanwhile */
	st = check(p->vm, box_gpa, &b, &dst, &src);
	if (st == PAGEOP_DONE && b.op == PAGEOP_CLEAR)
		memset(dst, 0, b.count * PAGE);
	else if (st == PAGEOP_DONE)
		memcpy(dst, src, b.count * PAGE);
	__atomic_add_fetch(st == PAGEOP_DONE ? &p->done : &p->refused, 1, __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)(hbox + offsetof(struct box, status)), (uint32_t)st, __ATOMIC_RELEASE);
	return st;
}

static void pageops_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	uint32_t v = 0;

	if (!is_write) {
		v = offset == 0 && len == 4 ? PAGEOPS_VERSION : 0;
		memcpy(data, &v, len < 4 ? len : 4);
		return;
	}
	if (offset != 0 || len != 4)
		return;				/* not a request: ignored like a floating bus */
	memcpy(&v, data, 4);
	pageops__run(dev, (uint64_t)v * 64);
}

struct pageops *pageops__new(struct vm *vm)
{
	struct pageops *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->vm = vm;
	if (bus__register(vm->pio, PAGEOPS_PORT, 4, pageops_io, p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

/* The bus range stays registered: buses go with the VM (vm__destroy). */
void pageops__free(struct pageops *p)
{
	free(p);
}

void pageops__counts(const struct pageops *p, uint64_t *done, uint64_t *refused)
{
	*done = __atomic_load_n(&p->done, __ATOMIC_RELAXED);
	*refused = __atomic_load_n(&p->refused, __ATOMIC_RELAXED);
}
