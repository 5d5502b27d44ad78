/*
 * The page-operations device (src/devices/pageops.c) as the guest kernel
 * uses it (guest/kernel/pageops.patch): a mailbox in guest RAM, its address
 * / 64 written to the port.  Every refused request must leave guest RAM as
 * it was except the status word; every done one must touch only its pages.
 */
#include <stdlib.h>

#include "devices/pageops.h"
#include "fakevm.h"
#include "tap.h"

#define PG	4096u
#define RAM	(64u * PG)
#define BOX	(60u * PG + 128)	/* the mailbox, away from the pages used */
#define R2	(1ull << 32)		/* a second RAM region, 16 pages, not adjacent */

static struct vm *vm;
static struct pageops *po;
static uint8_t *ram, *ram2, before[RAM];

struct req { uint32_t op, count; uint64_t dst, src; uint32_t status, reserved; };

static void fill(void)
{
	for (uint32_t i = 0; i < RAM; i++)
		ram[i] = (uint8_t)(i * 7 + i / PG + 1);
	memset(ram2, 0x5a, 16 * PG);
}

/* Writes the mailbox at box, makes the port write, returns the status. */
static uint32_t request(uint64_t box, struct req r)
{
	uint32_t v = (uint32_t)(box / 64), st = 0xdeadbeef;

	r.status = 0xffffffffu;
	if (box + sizeof(r) <= RAM)
		memcpy(ram + box, &r, sizeof(r));
	memcpy(before, ram, RAM);
	bus__access(vm->pio, PAGEOPS_PORT, (uint8_t *)&v, 4, true);
	if (box + sizeof(r) <= RAM)
		memcpy(&st, ram + box + offsetof(struct req, status), 4);
	return st;
}

/* RAM equals `before` outside [from, from+len) and the status word at box. */
static bool untouched_except(uint64_t box, uint64_t from, uint64_t len)
{
	for (uint64_t i = 0; i < RAM; i++) {
		if (i >= from && i < from + len)
			continue;
		if (i >= box + offsetof(struct req, status) && i < box + offsetof(struct req, status) + 4)
			continue;
		if (ram[i] != before[i])
			return false;
	}
	return true;
}

static void refused(struct req r, uint32_t want, const char *what)
{
	fill();
	uint32_t st = request(BOX, r);

	is(st, want, what);
	ok(untouched_except(BOX, 0, 0), "%s: guest RAM untouched", what);
}

static bool zero(const uint8_t *p, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void test_done(void)
{
	uint32_t v = 0;

	bus__access(vm->pio, PAGEOPS_PORT, (uint8_t *)&v, 4, false);
	is(v, PAGEOPS_VERSION, "inl on the port reads the format version");

	fill();
	is(request(BOX, (struct req){ PAGEOP_CLEAR, 1, 5 * PG, 0, 0, 0 }), PAGEOP_DONE, "clear one page: done");
	ok(zero(ram + 5 * PG, PG) && untouched_except(BOX, 5 * PG, PG), "clear: that page is zero, nothing else changed");

	fill();
	is(request(BOX, (struct req){ PAGEOP_CLEAR, 3, 8 * PG, 0, 0, 0 }), PAGEOP_DONE, "clear three pages: done");
	ok(zero(ram + 8 * PG, 3 * PG) && untouched_except(BOX, 8 * PG, 3 * PG), "clear 3: exactly those pages");

	fill();
	is(request(BOX, (struct req){ PAGEOP_COPY, 2, 20 * PG, 30 * PG, 0, 0 }), PAGEOP_DONE, "copy two pages: done");
	ok(!memcmp(ram + 20 * PG, before + 30 * PG, 2 * PG) && untouched_except(BOX, 20 * PG, 2 * PG),
	   "copy: dst holds src, src and the rest unchanged");

	fill();
	is(request(BOX, (struct req){ PAGEOP_COPY, 1, 21 * PG, 20 * PG, 0, 0 }), PAGEOP_DONE,
	   "copy between adjacent pages: done (adjacent is not overlapping)");

	fill();
	is(request(BOX, (struct req){ PAGEOP_COPY, 4, R2, 0, 0, 0 }), PAGEOP_DONE, "copy into the second RAM region");
	ok(!memcmp(ram2, ram, 4 * PG) && ram2[4 * PG] == 0x5a, "second region: those four pages only");

	fill();
	is(request(BOX, (struct req){ PAGEOP_CLEAR, PAGEOPS_MAX_PAGES, R2 - 0, 0, 0, 0 }), PAGEOP_ERANGE,
	   "the largest count past a region's end: refused");
}

static void test_refused(void)
{
	refused((struct req){ 0, 1, 5 * PG, 0, 0, 0 }, PAGEOP_EOP, "op 0");
	refused((struct req){ 3, 1, 5 * PG, 0, 0, 0 }, PAGEOP_EOP, "op 3");
	refused((struct req){ 0xffffffffu, 1, 5 * PG, 0, 0, 0 }, PAGEOP_EOP, "op ~0");
	refused((struct req){ PAGEOP_CLEAR, 1, 5 * PG, 0, 0, 1 }, PAGEOP_EOP, "reserved field set");
	refused((struct req){ PAGEOP_CLEAR, 1, 5 * PG, 6 * PG, 0, 0 }, PAGEOP_EOP, "clear with a source");
	refused((struct req){ PAGEOP_CLEAR, 0, 5 * PG, 0, 0, 0 }, PAGEOP_ECOUNT, "count 0");
	refused((struct req){ PAGEOP_CLEAR, PAGEOPS_MAX_PAGES + 1, 0, 0, 0, 0 }, PAGEOP_ECOUNT, "count one over the limit");
	refused((struct req){ PAGEOP_COPY, 0xffffffffu, 0, 8 * PG, 0, 0 }, PAGEOP_ECOUNT, "huge count");
	refused((struct req){ PAGEOP_CLEAR, 1, 5 * PG + 1, 0, 0, 0 }, PAGEOP_EALIGN, "dst off by one byte");
	refused((struct req){ PAGEOP_CLEAR, 1, 5 * PG + 2048, 0, 0, 0 }, PAGEOP_EALIGN, "dst half a page in");
	refused((struct req){ PAGEOP_COPY, 1, 5 * PG, 7 * PG + 8, 0, 0 }, PAGEOP_EALIGN, "src unaligned");
	refused((struct req){ PAGEOP_CLEAR, 1, RAM, 0, 0, 0 }, PAGEOP_ERANGE, "dst just past RAM");
	refused((struct req){ PAGEOP_CLEAR, 2, RAM - PG, 0, 0, 0 }, PAGEOP_ERANGE, "dst's last page past RAM");
	refused((struct req){ PAGEOP_CLEAR, 1, 0xfffffffffffff000ull, 0, 0, 0 }, PAGEOP_ERANGE, "dst at the top of the address space");
	refused((struct req){ PAGEOP_CLEAR, 512, 0xffffffffffe01000ull, 0, 0, 0 }, PAGEOP_ERANGE,
		"dst + length wrapping past 2^64");
	refused((struct req){ PAGEOP_COPY, 1, 5 * PG, RAM + PG, 0, 0 }, PAGEOP_ERANGE, "src outside RAM");
	refused((struct req){ PAGEOP_COPY, 1, 5 * PG, 0xfffffffffffff000ull, 0, 0 }, PAGEOP_ERANGE, "src at the top");
	refused((struct req){ PAGEOP_CLEAR, 2, RAM - PG, 0, 0, 0 }, PAGEOP_ERANGE, "a range across RAM's end");
	refused((struct req){ PAGEOP_COPY, 17, R2, 0, 0, 0 }, PAGEOP_ERANGE, "dst one page past the second region");
	refused((struct req){ PAGEOP_COPY, 1, 5 * PG, 5 * PG, 0, 0 }, PAGEOP_EOVERLAP, "copy onto itself");
	refused((struct req){ PAGEOP_COPY, 2, 5 * PG, 6 * PG, 0, 0 }, PAGEOP_EOVERLAP, "src overlapping dst's second page");
	refused((struct req){ PAGEOP_COPY, 2, 6 * PG, 5 * PG, 0, 0 }, PAGEOP_EOVERLAP, "dst overlapping src's second page");
	refused((struct req){ PAGEOP_CLEAR, 1, 60 * PG, 0, 0, 0 }, PAGEOP_EOVERLAP, "clear of the mailbox's own page");
	refused((struct req){ PAGEOP_COPY, 1, 60 * PG, 3 * PG, 0, 0 }, PAGEOP_EOVERLAP, "copy onto the mailbox's page");
}

static void test_bad_mailbox(void)
{
	uint64_t d0, r0, d1, r1;
	uint32_t v;

	fill();
	pageops__counts(po, &d0, &r0);
	memcpy(before, ram, RAM);
	v = RAM / 64;					/* just past RAM */
	bus__access(vm->pio, PAGEOPS_PORT, (uint8_t *)&v, 4, true);
	v = 0xffffffffu;				/* far outside */
	bus__access(vm->pio, PAGEOPS_PORT, (uint8_t *)&v, 4, true);
	pageops__counts(po, &d1, &r1);
	ok(!memcmp(before, ram, RAM) && d1 == d0 && r1 == r0 + 2, "mailboxes outside RAM: refused, nothing written");
	is(pageops__run(po, RAM - 16), PAGEOP_EBOX, "a mailbox straddling RAM's end: EBOX");
	is(pageops__run(po, BOX + 4), PAGEOP_EBOX, "an unaligned mailbox: EBOX");

	/* port writes that are not requests: ignored */
	struct req r = { PAGEOP_CLEAR, 1, 5 * PG, 0, 0xffffffffu, 0 };
	memcpy(ram + BOX, &r, sizeof(r));
	memcpy(before, ram, RAM);
	uint8_t b1 = (uint8_t)(BOX / 64);
	uint16_t b2 = (uint16_t)(BOX / 64);
	bus__access(vm->pio, PAGEOPS_PORT, &b1, 1, true);
	bus__access(vm->pio, PAGEOPS_PORT, (uint8_t *)&b2, 2, true);
	v = BOX / 64;
	bus__access(vm->pio, PAGEOPS_PORT + 2, (uint8_t *)&v, 2, true);
	ok(!memcmp(before, ram, RAM), "1- and 2-byte writes, and writes at another offset, do nothing");
}

int main(void)
{
	vm = fakevm_new(RAM);
	ram = vm->regions[0].hva;
	ram2 = calloc(1, 16 * PG);
	vm->regions[1] = (struct mem_region){ R2, 16 * PG, ram2 };
	vm->nr_regions = 2;
	po = pageops__new(vm);
	ok(po != NULL, "pageops__new claims its port");
	ok(pageops__new(vm) == NULL, "a second one on the same port is refused (bus: -EBUSY)");
	test_done();
	test_refused();
	test_bad_mailbox();
	pageops__free(po);
	free(ram2);
	fakevm_free(vm);
	return done_testing();
}
